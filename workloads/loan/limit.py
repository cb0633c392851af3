"""loan.limit — a credit limit from several sub-models (W6).

What it models: the line an automated lender grants after scoring. All integer fen:
(a) by band: monthly income × the band's multiple (0 = the band is declined);
(b) affordability: payment room = floor(income · dti_max_bp / 10^4) − existing monthly debt;
    the largest principal whose equal installment (the loan.schedule annuity factor of the
    product's typical rate and term) fits that room: floor(room · S / factor) (zero rate:
    room · n); 0 when there is no room;
(c) product cap;
limit = min(a, b, c), ties resolved in that order for ``binding``; then the bureau haircut:
inquiries_30d ≥ zero_at → 0 (binding = bureau), ≥ halve_at → floor(limit / 2); finally
floored to a multiple of round_down_to_fen (100 RMB). The limit never decreases with income
or with a better band (multiples may not increase with the band index).

Inputs: ``applicants`` (applicant_id u64, band u8, monthly_income_fen i64,
monthly_debt_fen i64, inquiries_30d i64, product u8: 0 micro, 1 SME) and ``params`` (one
row, column ``json``; keys as in DEFAULT_PARAMS). Row status: 1 = invalid input (negative
money or inquiries, unknown product), 2 = the annuity factor overflowed; limit 0.
Outputs: ``limits`` (applicant_id, limit_fen i64, binding u8: 0 rejected, 1 band,
2 affordability, 3 product cap, 4 bureau; status u8). Unit: applications.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from native import ffi, lib
from workloads import _money, _native, _tables
from workloads._base import Workload, scaled
from workloads._rng import Stream
from workloads.errors import InputError
from workloads.loan import _applicants

REJECTED, BAND, AFFORDABILITY, PRODUCT_CAP, BUREAU = 0, 1, 2, 3, 4
STATUS_INVALID, STATUS_OVERFLOW = 1, 2

APPLICANTS = {
    "applicant_id": pa.uint64(),
    "band": pa.uint8(),
    "monthly_income_fen": pa.int64(),
    "monthly_debt_fen": pa.int64(),
    "inquiries_30d": pa.int64(),
    "product": pa.uint8(),
}
LIMITS = {
    "applicant_id": pa.uint64(),
    "limit_fen": pa.int64(),
    "binding": pa.uint8(),
    "status": pa.uint8(),
}

DEFAULT_PARAMS = {
    "band_multiplier": [8, 6, 4, 2, 0],
    "dti_max_bp": 5000,
    "products": [
        {"name": "micro", "rate_ppm": 180_000, "n_periods": 10, "cap_fen": 200_000_00},
        {"name": "sme", "rate_ppm": 108_000, "n_periods": 24, "cap_fen": 3_000_000_00},
    ],
    "inquiries_halve_at": 6,
    "inquiries_zero_at": 10,
    "round_down_to_fen": 100_00,
}


def params_table(params: dict | None = None) -> pa.Table:
    return pa.table({"json": pa.array([json.dumps(params or DEFAULT_PARAMS)], type=pa.string())})


def parse_params(table: pa.Table) -> dict:
    """The parameters, checked field by field (the C core checks the same rules again)."""
    if table.num_rows != 1:
        raise InputError(f"loan.limit params table must have one row, got {table.num_rows}")
    try:
        p = json.loads(table.column("json")[0].as_py())
    except json.JSONDecodeError as error:
        raise InputError(f"loan.limit params: not valid JSON ({error.msg})") from None

    def integer(value, where: str, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise InputError(
                f"loan.limit params field '{where}' must be an integer in [{lo}, {hi}], "
                f"got {value!r}"
            )
        return value

    for key in DEFAULT_PARAMS:
        if key not in p:
            raise InputError(f"loan.limit params field '{key}' is missing")
    multiples = p["band_multiplier"]
    if not isinstance(multiples, list) or not 1 <= len(multiples) <= lib.BB_LIMIT_BANDS_MAX:
        raise InputError(
            "loan.limit params field 'band_multiplier' must list 1 to "
            f"{lib.BB_LIMIT_BANDS_MAX} multiples"
        )
    for b, m in enumerate(multiples):
        integer(m, f"band_multiplier[{b}]", 0, _money.I64_MAX)
        if b and m > multiples[b - 1]:
            raise InputError(
                "loan.limit params field 'band_multiplier' must not increase with the band"
            )
    integer(p["dti_max_bp"], "dti_max_bp", 0, 10_000)
    if not isinstance(p["products"], list) or len(p["products"]) != lib.BB_PRODUCTS:
        raise InputError(
            f"loan.limit params field 'products' must list {lib.BB_PRODUCTS} products (micro, sme)"
        )
    for i, product in enumerate(p["products"]):
        if not isinstance(product, dict):
            raise InputError(f"loan.limit params field 'products[{i}]' must be an object")
        for key, lo, hi in (
            ("rate_ppm", 0, 2**32 - 1),
            ("n_periods", 1, lib.BB_PERIODS_MAX),
            ("cap_fen", 0, _money.I64_MAX),
        ):
            integer(product.get(key), f"products[{i}].{key}", lo, hi)
    integer(p["inquiries_halve_at"], "inquiries_halve_at", 0, 2**31 - 1)
    integer(p["inquiries_zero_at"], "inquiries_zero_at", p["inquiries_halve_at"], 2**31 - 1)
    integer(p["round_down_to_fen"], "round_down_to_fen", 1, _money.I64_MAX)
    return p


def c_params(p: dict):
    params = ffi.new("bb_limit_params *")
    for b, multiple in enumerate(p["band_multiplier"]):
        params.band_multiplier[b] = multiple
    params.n_bands = len(p["band_multiplier"])
    params.dti_max_bp = p["dti_max_bp"]
    for i, product in enumerate(p["products"]):
        params.rate_ppm[i] = product["rate_ppm"]
        params.n_periods[i] = product["n_periods"]
        params.cap_fen[i] = product["cap_fen"]
    params.inquiries_halve_at = p["inquiries_halve_at"]
    params.inquiries_zero_at = p["inquiries_zero_at"]
    params.round_down_to_fen = p["round_down_to_fen"]
    _native.check_status(lib.bb_limit_check_params(params), "bb_limit_check_params")
    return params


def limit_row(p: dict, band: int, income: int, debt: int, inquiries: int, product: int):
    """The reference: (limit_fen, binding, status) for one applicant."""
    if income < 0 or debt < 0 or inquiries < 0 or not 0 <= product < lib.BB_PRODUCTS:
        return 0, REJECTED, STATUS_INVALID
    multiples = p["band_multiplier"]
    if band >= len(multiples) or multiples[band] == 0:
        return 0, REJECTED, 0
    terms = p["products"][product]
    by_band = income * multiples[band]
    room = income * p["dti_max_bp"] // 10_000 - debt
    by_afford = 0
    if room > 0:
        factor = _money.annuity_factor(terms["rate_ppm"], terms["n_periods"])
        if factor is None:
            return 0, REJECTED, STATUS_OVERFLOW
        by_afford = (
            room * terms["n_periods"] if factor == 0 else room * _money.FIXED_SCALE // factor
        )
    limit, binding = min(
        (by_band, BAND), (by_afford, AFFORDABILITY), (terms["cap_fen"], PRODUCT_CAP)
    )
    if inquiries >= p["inquiries_zero_at"]:
        limit, binding = 0, BUREAU
    elif inquiries >= p["inquiries_halve_at"]:
        limit //= 2
    return limit - limit % p["round_down_to_fen"], binding, 0


def _floor_mul_scale_div(m: np.ndarray, factor: int) -> np.ndarray:
    """floor(m · S / factor) exactly in int64 by long division in steps of 10^3, for
    0 ≤ m, factor < 9·10^15 and results below 2^63 (the caller checks)."""
    quotient, remainder = np.divmod(m, factor)
    fraction = np.zeros_like(m)
    for _ in range(5):  # S = 10^15 = (10^3)^5
        digit, remainder = np.divmod(remainder * 1000, factor)
        fraction = fraction * 1000 + digit
    return quotient * _money.FIXED_SCALE + fraction


# core instructions per applicant of one call, what _native.threads_worth splits by (bench/
# serial_share_model.json: 9,414,988 at scale 0.05 over 50,000 applicants)
INSTRUCTIONS_PER_APPLICANT = 188


class Limit(Workload):
    name = "loan.limit"
    title = "credit limits"
    unit = "applications"
    engines = ("c", "python", "numpy")
    c_sources = ("src/limit.c", "src/schedule.c")
    input_schemas = {"applicants": APPLICANTS, "params": {"json": pa.string()}}
    output_schemas = {"limits": LIMITS}

    def _generate(self, scale: float, seed: int) -> _tables.Tables:
        n = scaled(1_000_000, scale)
        f = _applicants.features(n, seed, "limit")
        columns: dict[str, np.ndarray] = {
            "applicant_id": np.arange(1, n + 1, dtype=np.uint64),
            "band": Stream(seed, "limit.band")
            .choice(n, [0, 1, 2, 3, 4], [15, 30, 25, 15, 15])
            .astype(np.uint8),
            "monthly_income_fen": f["monthly_income_fen"],
            "monthly_debt_fen": _applicants.monthly_debt_fen(
                f["monthly_income_fen"], f["debt_to_income_bp"]
            ),
            "inquiries_30d": f["inquiries_30d"],
            "product": _applicants.products(n, seed, "limit"),
        }
        return {"applicants": _tables.table(columns, APPLICANTS), "params": params_table()}

    def _validate_more(self, inputs) -> None:
        parse_params(inputs["params"])

    def _units(self, inputs) -> int:
        return inputs["applicants"].num_rows

    def _run_python(self, inputs, threads: int) -> _tables.Tables:
        p = parse_params(inputs["params"])
        a = inputs["applicants"].to_pydict()
        rows = [
            (
                a["applicant_id"][i],
                *limit_row(
                    p,
                    a["band"][i],
                    a["monthly_income_fen"][i],
                    a["monthly_debt_fen"][i],
                    a["inquiries_30d"][i],
                    a["product"][i],
                ),
            )
            for i in range(len(a["applicant_id"]))
        ]
        return {"limits": _tables.from_rows(rows, LIMITS)}

    def _outputs(self, applicants: pa.Table) -> dict[str, np.ndarray]:
        ids = _native.column_view(applicants.column("applicant_id"))
        return _tables.output_columns(LIMITS, applicants.num_rows, given={"applicant_id": ids})

    def _run_c(self, inputs, threads: int) -> _tables.Tables:
        params = c_params(parse_params(inputs["params"]))
        cols = _tables.columns(inputs["applicants"], APPLICANTS)
        c_in = ffi.new(
            "bb_limit_inputs *",
            {
                k: _native.pointer(cols[k])
                for k in (
                    "band",
                    "monthly_income_fen",
                    "monthly_debt_fen",
                    "inquiries_30d",
                    "product",
                )
            },
        )
        out = self._outputs(inputs["applicants"])
        written = ("limit_fen", "binding", "status")
        rows = len(cols["applicant_id"])
        threads = _native.threads_worth(rows, INSTRUCTIONS_PER_APPLICANT, threads)
        _native.first_touch_rows([out[k] for k in written], threads)  # pinned: each its rows
        ptr = {k: _native.out_pointer(out[k]) for k in written}

        task = ffi.new("bb_limit_task *", {"params": params, "in": c_in, **ptr})
        _native.parallel_ranges("bb_limit_rows", task, rows, threads)
        return {"limits": _tables.table(out, LIMITS)}

    def _run_numpy(self, inputs, threads: int) -> _tables.Tables:
        p = parse_params(inputs["params"])
        cols = _tables.columns(inputs["applicants"], APPLICANTS)
        out = self._outputs(inputs["applicants"])
        multiples = np.array(p["band_multiplier"] + [0], dtype=object)
        factors = [_money.annuity_factor(t["rate_ppm"], t["n_periods"]) for t in p["products"]]
        # the vectorized path holds rows whose every intermediate fits int64 exactly
        safe_income = 10**13
        vector_products = [f is not None and f < 9 * 10**15 for f in factors]

        def chunk(begin: int, end: int) -> None:
            band = cols["band"][begin:end].astype(np.int64)
            income = cols["monthly_income_fen"][begin:end]
            debt = cols["monthly_debt_fen"][begin:end]
            inquiries = cols["inquiries_30d"][begin:end]
            product = cols["product"][begin:end].astype(np.int64)
            invalid = (income < 0) | (debt < 0) | (inquiries < 0) | (product > 1)
            band_clipped = np.minimum(band, len(p["band_multiplier"]))
            multiple = multiples[band_clipped]
            max_multiple = max(p["band_multiplier"])
            vector = ~invalid & (income <= safe_income) & (max_multiple <= 10**5)
            vector &= np.array(vector_products)[np.minimum(product, 1)]
            limit = np.zeros(end - begin, dtype=np.int64)
            binding = np.zeros(end - begin, dtype=np.uint8)
            status = np.where(invalid, STATUS_INVALID, 0).astype(np.uint8)
            rows = np.nonzero(vector)[0]
            mult = multiple[rows].astype(np.int64)
            inc, dbt, inq, prod = income[rows], debt[rows], inquiries[rows], product[rows]
            by_band = inc * mult
            room = inc * p["dti_max_bp"] // 10_000 - dbt
            by_afford = np.zeros(len(rows), dtype=np.int64)
            caps = np.zeros(len(rows), dtype=np.int64)
            for k, terms in enumerate(p["products"]):
                mine = (prod == k) & (room > 0)
                caps[prod == k] = terms["cap_fen"]
                if factors[k] == 0:
                    by_afford[mine] = room[mine] * terms["n_periods"]
                elif mine.any():
                    factor = factors[k]
                    assert factor is not None, "vector rows only hold products with a factor"
                    by_afford[mine] = _floor_mul_scale_div(room[mine], factor)
            candidates = np.stack([by_band, by_afford, caps])
            pick = np.argmin(candidates, axis=0)  # first minimum: band, then afford, then cap
            lim = candidates[pick, np.arange(len(rows))]
            bind = pick.astype(np.uint8) + 1
            zero = inq >= p["inquiries_zero_at"]
            lim = np.where(zero, 0, np.where(inq >= p["inquiries_halve_at"], lim // 2, lim))
            bind = np.where(zero, BUREAU, bind)
            rejected = mult == 0
            lim[rejected] = 0
            bind[rejected] = REJECTED
            limit[rows] = lim - lim % p["round_down_to_fen"]
            binding[rows] = bind
            for i in np.nonzero(~vector & ~invalid)[0]:  # beyond int64 safety: the reference
                limit[i], binding[i], status[i] = limit_row(
                    p,
                    int(band[i]),
                    int(income[i]),
                    int(debt[i]),
                    int(inquiries[i]),
                    int(product[i]),
                )
            out["limit_fen"][begin:end] = limit
            out["binding"][begin:end] = binding
            out["status"][begin:end] = status

        _native.run_ranges(len(cols["applicant_id"]), threads, chunk)
        return {"limits": _tables.table(out, LIMITS)}

    def _check(self, inputs, outputs) -> None:
        p = parse_params(inputs["params"])
        limits = outputs["limits"]
        a = inputs["applicants"]
        limit = limits.column("limit_fen").to_numpy()
        status = limits.column("status").to_numpy()
        product = a.column("product").to_numpy()
        caps = np.array([t["cap_fen"] for t in p["products"]] + [0], dtype=np.int64)
        assert (limit >= 0).all(), "limits are never negative"
        assert (limit <= caps[np.minimum(product, 2)]).all(), "limit within the product cap"
        assert (limit % p["round_down_to_fen"] == 0).all(), "limit rounded down to the unit"
        assert (limit[status != 0] == 0).all(), "a bad row gets no limit"
        zero = a.column("inquiries_30d").to_numpy() >= p["inquiries_zero_at"]
        assert (limit[zero] == 0).all(), "many bureau inquiries give no limit"
