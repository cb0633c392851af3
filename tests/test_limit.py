"""loan.limit: sub-model arithmetic, monotonicity (Hypothesis), bad input."""

import json

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads import _tables, registry
from workloads.errors import InputError
from workloads.loan import limit

W = registry.get("loan.limit")


def run(rows, engine, params=None):
    table = _tables.from_rows([(i, *r) for i, r in enumerate(rows)], limit.APPLICANTS)
    out = W.run({"applicants": table, "params": limit.params_table(params)}, engine=engine)
    return list(
        zip(
            out["limits"].column("limit_fen").to_pylist(),
            out["limits"].column("binding").to_pylist(),
            out["limits"].column("status").to_pylist(),
            strict=False,
        )
    )


@pytest.mark.parametrize("engine", W.engines)
def test_known_limits(engine):
    rows = [
        (0, 1_000_000, 0, 0, 0),  # band 0 × 8 = 80,000 RMB; afford 5,000/month for 10 at 18 %
        (3, 1_000_000, 0, 0, 0),  # band 3 × 2 = 20,000 RMB binds
        (4, 1_000_000, 0, 0, 0),  # band 4 declines
        (0, 100_000_000, 0, 0, 0),  # the micro cap of 200,000 RMB binds
        (0, 1_000_000, 500_000, 0, 0),  # debt eats the payment room
        (0, 1_000_000, 0, 7, 0),  # 7 inquiries halve
        (0, 1_000_000, 0, 10, 0),  # 10 inquiries: nothing
        (0, -1, 0, 0, 0),
        (0, 1, -1, 0, 0),
        (0, 1, 0, -1, 0),
        (0, 1, 0, 0, 2),
    ]
    from workloads import _money

    afford = (
        500_000 * _money.FIXED_SCALE // _money.annuity_factor(180_000, 10)
    )  # floor(room·S/factor)
    assert afford == 4_611_092  # PV of 5,000 RMB × 10 at 1.5 %/month ≈ 46,110.9 RMB
    got = run(rows, engine)
    assert got[0] == (afford - afford % 10_000, limit.AFFORDABILITY, 0)
    assert got[1] == (2_000_000, limit.BAND, 0)
    assert got[2] == (0, limit.REJECTED, 0)
    assert got[3] == (20_000_000, limit.PRODUCT_CAP, 0)
    assert got[4] == (0, limit.AFFORDABILITY, 0)
    assert got[5] == ((afford // 2) - (afford // 2) % 10_000, limit.AFFORDABILITY, 0)
    assert got[6] == (0, limit.BUREAU, 0)
    assert got[7:] == [(0, limit.REJECTED, limit.STATUS_INVALID)] * 4


def test_factor_is_close_to_the_exact_annuity_factor():
    from fractions import Fraction

    from workloads import _money

    for ppm, n in ((180_000, 10), (108_000, 24), (49_000, 360), (1, 1)):
        r = Fraction(ppm, 12_000_000)
        exact = r * (1 + r) ** n / ((1 + r) ** n - 1) * _money.FIXED_SCALE
        factor = _money.annuity_factor(ppm, n)
        assert abs(exact - factor) < 10  # the floors at each of n steps move it by a few ulps


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("band_multiplier", [2, 4], "must not increase"),
        ("dti_max_bp", 20_000, "dti_max_bp"),
        ("round_down_to_fen", 0, "round_down_to_fen"),
        ("inquiries_zero_at", 1, "inquiries_zero_at"),
    ],
)
def test_bad_params_name_the_field(field, value, message):
    params = {**limit.DEFAULT_PARAMS, field: value}
    with pytest.raises(InputError, match=message):
        run([(0, 1, 0, 0, 0)], "c", params)


def test_missing_param_is_named():
    params = dict(limit.DEFAULT_PARAMS)
    del params["products"]
    with pytest.raises(InputError, match="'products' is missing"):
        run([(0, 1, 0, 0, 0)], "python", params)


applicant = st.tuples(
    st.integers(0, 4),
    st.integers(0, 10**9),
    st.integers(0, 10**8),
    st.integers(0, 12),
    st.integers(0, 1),
)


@settings(max_examples=60, deadline=None)
@given(applicant, st.integers(0, 10**9))
def test_limit_is_monotone_in_income(a, extra):
    band, income, debt, inquiries, product = a
    for engine in ("c", "python", "numpy"):
        low, high = run(
            [
                (band, income, debt, inquiries, product),
                (band, income + extra, debt, inquiries, product),
            ],
            engine,
        )
        assert high[0] >= low[0]


@settings(max_examples=60, deadline=None)
@given(applicant)
def test_limit_is_monotone_in_band(a):
    _, income, debt, inquiries, product = a
    for engine in W.engines:
        limits = [
            r[0] for r in run([(b, income, debt, inquiries, product) for b in range(6)], engine)
        ]
        assert limits == sorted(limits, reverse=True)  # band 0 is the best


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 20),
            st.integers(-10, 2**62),
            st.integers(-10, 2**62),
            st.integers(-1, 30),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=15,
    )
)
def test_engines_agree_even_at_the_extremes(rows):
    results = {engine: run(rows, engine) for engine in W.engines}
    assert results["c"] == results["python"] == results["numpy"]


def test_wrong_column_type_is_refused():
    table = _tables.from_rows([(1, 0, 1, 0, 0, 0)], limit.APPLICANTS)
    bad = table.set_column(2, "monthly_income_fen", pa.array([1.5]))
    with pytest.raises(InputError, match="monthly_income_fen' has type double"):
        W.run({"applicants": bad, "params": limit.params_table()})
    with pytest.raises(InputError, match="not valid JSON"):
        W.run({"applicants": table, "params": pa.table({"json": ["{"]})})
    assert json.loads(limit.params_table().column("json")[0].as_py()) == limit.DEFAULT_PARAMS
