"""loan.schedule, the vectorized peer: what a NumPy user would write, same semantics.

NumPy has no 128-bit integers, so the payment P·factor/S is computed exactly by splitting
the factor into two limbs; rows beyond the limbs' safe range (principal > 9·10^10 fen or a
rate above 10^8 ppm, never in generated data) fall back to the reference, loan by loan.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from workloads import _money, _native, _tables
from workloads.loan import schedule as spec

SAFE_PRINCIPAL_FEN = 9 * 10**10  # P·(factor limb < 10^8) and P·ppm stay below 2^63
SAFE_RATE_PPM = 10**8
LIMB = 10**8


def _round_half_up_product(principal: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """round_half_up(P·factor / S) exactly in int64, for P ≤ 9e10 and factor < 10^16."""
    high, low = np.divmod(factor, LIMB)  # factor = high·10^8 + low
    t_high = principal * high  # ≤ 9e10 · 1e8
    t_low = principal * low + _money.FIXED_SCALE // 2
    a, b = np.divmod(t_high, 10**7)  # t_high·10^8 = a·S + b·10^8
    return a + (b * LIMB + t_low) // _money.FIXED_SCALE


def _due_days(first_due_day: np.ndarray, months_later: int) -> np.ndarray:
    day = first_due_day.astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    day_of_month = (day - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.timedelta64(months_later, "M")
    month_length = (
        (target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")
    ).astype(np.int64)
    due = target.astype("datetime64[D]") + np.minimum(day_of_month, month_length - 1)
    return due.astype(np.int64)


def _chunk(
    cols: dict[str, np.ndarray],
    offsets: np.ndarray,
    begin: int,
    end: int,
    rows: dict[str, np.ndarray],
    totals: dict[str, np.ndarray],
) -> None:
    principal = cols["principal_fen"][begin:end]
    rate = cols["annual_rate_ppm"][begin:end].astype(np.int64)
    n = cols["n_periods"][begin:end].astype(np.int64)
    method = cols["method"][begin:end]
    first_due = cols["first_due_day"][begin:end].astype(np.int64)
    first = offsets[begin:end]

    status = np.zeros(end - begin, dtype=np.uint8)
    n_ok = (n >= 1) & (n <= spec.PERIODS_MAX)
    invalid = (principal <= 0) | ~n_ok | ((method != 1) & (method != 2))
    invalid |= (first_due < spec.DAY_MIN) | (first_due > spec.DAY_MAX)
    in_range = ~invalid
    last_month = np.zeros_like(n)
    months = first_due[in_range].astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    last_month[in_range] = months + (1970 * 12) + n[in_range] - 1  # months since year 0
    invalid |= in_range & (last_month > 9999 * 12 + 11)
    status[invalid] = spec.STATUS_INVALID

    # the installment per distinct (rate, n): few combinations, each exact in Python ints
    installment = np.zeros(end - begin, dtype=np.int64)
    vector = ~invalid & (principal <= SAFE_PRINCIPAL_FEN) & (rate <= SAFE_RATE_PPM)
    ei = vector & (method == spec.EQUAL_INSTALLMENT)
    if ei.any():
        keys, inverse = np.unique(rate[ei] * 1024 + n[ei], return_inverse=True)
        factors = [_money.annuity_factor(int(k) // 1024, int(k) % 1024) for k in keys]
        overflow = np.array([f is None for f in factors])
        factor = np.array([f or 0 for f in factors], dtype=np.int64)[inverse]
        zero_rate = factor == 0
        ei_rows = np.nonzero(ei)[0]
        payment = _round_half_up_product(principal[ei], np.where(zero_rate, 0, factor))
        even = (2 * principal[ei] + n[ei]) // (2 * n[ei])  # round_half_up(P / n)
        installment[ei_rows] = np.where(zero_rate, even, payment)
        status[ei_rows[overflow[inverse]]] = spec.STATUS_OVERFLOW
    vector &= status == 0

    balance = principal.copy()
    total_payment = np.zeros(end - begin, dtype=np.int64)
    total_interest = np.zeros(end - begin, dtype=np.int64)
    active = np.nonzero(vector)[0]
    k = 0
    while active.size:
        bal = balance[active]
        interest = (bal * rate[active] + _money.MONTHLY_DIVISOR // 2) // _money.MONTHLY_DIVISOR
        part = np.where(
            method[active] == spec.EQUAL_INSTALLMENT,
            installment[active] - interest,
            principal[active] // n[active],
        )
        part = np.maximum(part, 0)
        last = k == n[active] - 1
        part = np.where(last | (part > bal), bal, part)
        payment = part + interest
        balance[active] = bal - part
        total_payment[active] += payment
        total_interest[active] += interest
        at = first[active] + k
        rows["due_day"][at] = _due_days(first_due[active], k)
        rows["payment_fen"][at] = payment
        rows["principal_fen"][at] = part
        rows["interest_fen"][at] = interest
        rows["balance_after_fen"][at] = bal - part
        k += 1
        active = active[n[active] > k]

    # rows the limbs cannot hold exactly: the reference, one loan at a time
    for i in np.nonzero(~vector & (status == 0))[0]:
        code, loan_rows, paid, interest_paid = spec.schedule_loan(
            int(principal[i]), int(rate[i]), int(n[i]), int(method[i]), int(first_due[i])
        )
        status[i] = code
        total_payment[i], total_interest[i] = paid, interest_paid
        for k, (due, payment, part, interest, bal) in enumerate(loan_rows):
            at = first[i] + k
            rows["due_day"][at], rows["payment_fen"][at] = due, payment
            rows["principal_fen"][at], rows["interest_fen"][at] = part, interest
            rows["balance_after_fen"][at] = bal

    failed = np.nonzero((status != 0) & n_ok)[0]
    for name in ("due_day", "payment_fen", "principal_fen", "interest_fen", "balance_after_fen"):
        for i in failed:  # failed loans keep zero rows
            rows[name][first[i] : first[i] + n[i]] = 0
    total_payment[status != 0] = 0
    total_interest[status != 0] = 0
    totals["status"][begin:end] = status
    totals["total_payment_fen"][begin:end] = total_payment
    totals["total_interest_fen"][begin:end] = total_interest


def run(loans: pa.Table, threads: int) -> _tables.Tables:
    cols = _tables.columns(loans, spec.LOANS)
    count = len(cols["loan_id"])
    n = cols["n_periods"].astype(np.int64)
    per_loan = np.where((n >= 1) & (n <= spec.PERIODS_MAX), n, 0)
    offsets = np.concatenate([[0], np.cumsum(per_loan)]).astype(np.int64)
    rows = _tables.output_columns(
        spec.INSTALLMENTS,
        int(offsets[-1]),
        given={
            "loan_id": np.repeat(cols["loan_id"], per_loan),
            "period": (np.arange(offsets[-1]) - np.repeat(offsets[:-1], per_loan) + 1).astype(
                spec.INSTALLMENTS["period"].to_pandas_dtype()
            ),
        },
        zeroed=True,
    )
    totals = _tables.output_columns(
        spec.TOTALS, count, given={"loan_id": cols["loan_id"]}, zeroed=True
    )
    _native.run_ranges(count, threads, lambda b, e: _chunk(cols, offsets, b, e, rows, totals))
    return {
        "installments": _tables.table(rows, spec.INSTALLMENTS),
        "loans": _tables.table(totals, spec.TOTALS),
    }
