"""loan.schedule: the §4.2 vectors exactly, numpy-financial within a fen, invariants."""

import datetime

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads import _money, _tables, registry
from workloads.loan import schedule

W = registry.get("loan.schedule")
DAY = datetime.date(2026, 1, 31).toordinal() - schedule.EPOCH_ORDINAL


def loans_table(rows):
    """rows of (principal, rate_ppm, n, method[, first_due_day])"""
    full = [
        (i + 1, r[0], r[1], r[2], r[3], r[4] if len(r) > 4 else DAY) for i, r in enumerate(rows)
    ]
    return {"loans": _tables.from_rows(full, schedule.LOANS)}


def run_all(inputs):
    outs = {e: W.run(inputs, engine=e) for e in W.engines}
    digests = {e: W.digest(o) for e, o in outs.items()}
    assert len(set(digests.values())) == 1, digests
    return outs["c"]


@pytest.mark.parametrize(
    "principal, rate, n, expected",
    [
        (1_000_000, 180_000, 5, 209089),
        (1_000_000, 180_000, 10, 108434),
        (1_000_000, 180_000, 20, 58246),
        (27_000_000, 108_000, 12, 2383787),
        (100_000_000, 49_000, 360, 530727),  # the widely quoted 5,307.27 RMB mortgage payment
    ],
)
def test_equal_installment_payment_vectors(principal, rate, n, expected):
    assert _money.annuity_payment(principal, rate, n) == expected
    out = run_all(loans_table([(principal, rate, n, 1)]))
    assert out["installments"].column("payment_fen")[0].as_py() == expected


def test_equal_installment_schedule_rows():
    out = run_all(loans_table([(1_000_000, 180_000, 10, 1)]))["installments"]
    rows = list(
        zip(
            *(
                out.column(c).to_pylist()
                for c in (
                    "period",
                    "payment_fen",
                    "principal_fen",
                    "interest_fen",
                    "balance_after_fen",
                )
            ),
            strict=False,
        )
    )
    assert rows == [
        (1, 108434, 93434, 15000, 906566),
        (2, 108434, 94836, 13598, 811730),
        (3, 108434, 96258, 12176, 715472),
        (4, 108434, 97702, 10732, 617770),
        (5, 108434, 99167, 9267, 518603),
        (6, 108434, 100655, 7779, 417948),
        (7, 108434, 102165, 6269, 315783),
        (8, 108434, 103697, 4737, 212086),
        (9, 108434, 105253, 3181, 106833),
        (10, 108435, 106833, 1602, 0),
    ]
    assert sum(out.column("interest_fen").to_pylist()) == 84_341


def test_equal_principal_vectors():
    out = run_all(loans_table([(1_000_000, 180_000, 10, 2), (100_000_000, 49_000, 360, 2)]))
    payments = out["installments"].column("payment_fen").to_pylist()
    assert payments[:10] == list(range(115_000, 101_499, -1500))
    assert sum(out["installments"].column("interest_fen").to_pylist()[:10]) == 82_500
    assert payments[10] == 686_110  # 6,861.11 RMB first payment of the 1M/30y/4.9 % mortgage
    assert out["loans"].column("total_interest_fen")[1].as_py() == 73_704_371


def test_due_days_clamp_to_month_end():
    out = run_all(loans_table([(10_000, 120_000, 4, 1)]))  # first due 2026-01-31
    days = [
        datetime.date.fromordinal(d + schedule.EPOCH_ORDINAL).isoformat()
        for d in out["installments"].column("due_day").to_pylist()
    ]
    assert days == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]


def test_agrees_with_numpy_financial_within_a_fen():
    """Fen against fen: numpy-financial's float amounts rounded to the nearest fen must be
    within 1 fen of ours in every period but the last, which absorbs the remainders."""
    npf = pytest.importorskip("numpy_financial")
    inputs = W.generate(scale=0.002, seed=11)
    out = W.run(inputs, engine="c")
    loans = inputs["loans"].to_pylist()
    rows = out["installments"].to_pylist()
    at = 0
    for loan in loans:
        n = loan["n_periods"]
        mine = rows[at : at + n]
        at += n
        if loan["method"] != 1:
            continue
        r = loan["annual_rate_ppm"] / 12e6
        p = loan["principal_fen"]
        pmt = round(-npf.pmt(r, n, p))
        for k, row in enumerate(mine[:-1], start=1):
            assert abs(row["payment_fen"] - pmt) <= 1
            assert abs(row["interest_fen"] - round(-npf.ipmt(r, k, n, p))) <= 1
            assert abs(row["principal_fen"] - round(-npf.ppmt(r, k, n, p))) <= 1
        assert abs(mine[-1]["payment_fen"] - pmt) <= n  # the last absorbs the remainders


def test_bad_rows_get_a_status_not_a_crash():
    bad = [
        (0, 100_000, 10, 1),
        (-5, 100_000, 10, 1),
        (100, 100_000, 0, 1),
        (100, 100_000, 361, 1),
        (100, 100_000, 10, 3),
        (100, 100_000, 10, 1, schedule.DAY_MAX),
        (2**63 - 1, 4_000_000_000, 360, 1),
        (2**62, 2**32 - 1, 12, 2),
        (1_000_000, 0, 7, 1),
    ]
    out = run_all(loans_table(bad))
    status = out["loans"].column("status").to_pylist()
    assert status == [1, 1, 1, 1, 1, 1, 2, 2, 0]
    counts = [10, 10, 0, 0, 10, 10, 360, 12, 7]
    assert out["installments"].num_rows == sum(counts)
    assert out["installments"].column("payment_fen").to_pylist()[-7:] == [142857] * 6 + [142858]


def test_malformed_table_is_refused_naming_the_column():
    good = loans_table([(100, 1, 1, 1)])["loans"]
    with pytest.raises(Exception, match="principal_fen"):
        W.run({"loans": good.drop_columns(["principal_fen"])})
    with pytest.raises(Exception, match="n_periods.*uint16"):
        W.run({"loans": good.set_column(3, "n_periods", pa.array([1], pa.int64()))})
    nulls = good.set_column(1, "principal_fen", pa.array([None], pa.int64()))
    with pytest.raises(Exception, match="null"):
        W.run({"loans": nulls}, engine="c")


loan = st.tuples(
    st.integers(1, 10**11), st.integers(0, 400_000), st.integers(1, 60), st.sampled_from([1, 2])
)


@settings(max_examples=60, deadline=None)
@given(st.lists(loan, min_size=1, max_size=12))
def test_properties_and_parity(loans):
    inputs = loans_table(loans)
    out = run_all(inputs)
    W.check(inputs, out)  # principal sums to the loan, balance ends at 0, payment = parts
    rows = out["installments"]
    ends = np.cumsum([n for _, _, n, _ in loans]) - 1
    assert (rows.column("balance_after_fen").to_numpy()[ends] == 0).all()
    at = 0
    for principal, _, n, method in loans:
        parts = rows.column("principal_fen").to_pylist()[at : at + n]
        interest = rows.column("interest_fen").to_pylist()[at : at + n]
        payments = rows.column("payment_fen").to_pylist()[at : at + n]
        at += n
        assert sum(parts) == principal
        if method == 1 and n > 1 and principal >= 100 * n:
            assert len(set(payments[:-1])) == 1  # equal installments but the last
        if method == 2 and n > 1:
            assert all(a >= b for a, b in zip(interest, interest[1:], strict=False))
