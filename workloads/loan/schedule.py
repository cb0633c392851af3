"""loan.schedule — repayment schedules in exact fen (W3).

What it models: the schedule of every new loan of an internet bank's book: micro-loans
(微粒贷-like, 90 %) repaid in 5/10/20 monthly installments and SME loans (微业贷-like, 10 %)
in 12/24, either as equal installments (等额本息, method 1) or equal principal (等额本金,
method 2).

Input ``loans``: loan_id u64, principal_fen i64, annual_rate_ppm u32, n_periods u16,
method u8, first_due_day i32 (days since 1970-01-01).

Arithmetic (normative, workloads.md §4.2; S = 10^15, all integer):
- interest_k = round_half_up(balance_{k-1} · ppm / 12·10^6)  (monthly rate = annual / 12)
- equal installment: r = floor(ppm·S / 12e6); growth = S, n times floor(growth·(S+r)/S);
  factor = floor(r·growth / (growth − S)); A = round_half_up(P·factor / S) (zero rate: A =
  round_half_up(P / n)); principal_k = A − interest_k, at least 0 and at most the balance.
- equal principal: principal_k = floor(P / n).
- the last period's principal is the remaining balance (the remainder goes last), so the
  principal always sums to P and the balance ends at 0; payment_k = principal_k + interest_k.
- due_day_k: the first due day's day-of-month, k−1 months later, clamped to the month's end.
Bad rows get a status instead of rows of numbers: 1 = invalid input (principal ≤ 0, n outside
1..360, unknown method, a due date outside years 1..9999), 2 = overflow (an intermediate
beyond 128 bits or a result beyond int64). A bad loan keeps its n rows, zero-filled.

Outputs: ``installments`` (loan_id, period, due_day, payment_fen, principal_fen,
interest_fen, balance_after_fen), one row per period; ``loans`` (loan_id, status,
total_payment_fen, total_interest_fen). Unit: loans. Data: integer histograms after
WeBank's public product figures (workloads.md §4.8); the rates are 0.02–0.05 % a day × 360.
"""

from __future__ import annotations

import calendar
import datetime

import numpy as np
import pyarrow as pa

from native import ffi, lib
from workloads import _money, _native, _tables
from workloads._base import Workload, scaled
from workloads._rng import Stream

EQUAL_INSTALLMENT, EQUAL_PRINCIPAL = 1, 2
PERIODS_MAX = lib.BB_PERIODS_MAX
STATUS_INVALID, STATUS_OVERFLOW = 1, 2
EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
DAY_MIN = datetime.date.min.toordinal() - EPOCH_ORDINAL
DAY_MAX = datetime.date.max.toordinal() - EPOCH_ORDINAL
FIRST_DUE_BASE_DAY = datetime.date(2026, 1, 1).toordinal() - EPOCH_ORDINAL

LOANS = {
    "loan_id": pa.uint64(),
    "principal_fen": pa.int64(),
    "annual_rate_ppm": pa.uint32(),
    "n_periods": pa.uint16(),
    "method": pa.uint8(),
    "first_due_day": pa.int32(),
}
INSTALLMENTS = {
    "loan_id": pa.uint64(),
    "period": pa.uint16(),
    "due_day": pa.int32(),
    "payment_fen": pa.int64(),
    "principal_fen": pa.int64(),
    "interest_fen": pa.int64(),
    "balance_after_fen": pa.int64(),
}
TOTALS = {
    "loan_id": pa.uint64(),
    "status": pa.uint8(),
    "total_payment_fen": pa.int64(),
    "total_interest_fen": pa.int64(),
}

# Integer histograms (weight, lo, hi) in fen.
MICRO_PRINCIPAL = [
    (40, 500_00, 2_000_00),
    (35, 2_000_01, 10_000_00),
    (20, 10_000_01, 50_000_00),
    (5, 50_000_01, 200_000_00),
]
SME_PRINCIPAL = [
    (25, 10_000_00, 100_000_00),
    (55, 100_000_01, 500_000_00),
    (20, 500_000_01, 3_000_000_00),
]
MICRO_RATES_PPM = [72_000, 108_000, 144_000, 180_000]


# ---- reference (the oracle): plain Python, one loan at a time ----


def due_day(first_due_day: int, months_later: int) -> int:
    first = datetime.date.fromordinal(first_due_day + EPOCH_ORDINAL)
    month_index = first.year * 12 + first.month - 1 + months_later
    year, month = divmod(month_index, 12)
    day = min(first.day, calendar.monthrange(year, month + 1)[1])
    return datetime.date(year, month + 1, day).toordinal() - EPOCH_ORDINAL


def schedule_loan(principal: int, rate_ppm: int, n: int, method: int, first_due_day: int):
    """(status, [(due_day, payment, principal, interest, balance_after)], total_payment,
    total_interest) for one loan, exactly as the spec above."""
    if (
        principal <= 0
        or not 1 <= n <= PERIODS_MAX
        or method not in (1, 2)
        or not DAY_MIN <= first_due_day <= DAY_MAX
    ):
        return STATUS_INVALID, [], 0, 0
    first = datetime.date.fromordinal(first_due_day + EPOCH_ORDINAL)
    if first.year * 12 + first.month - 1 + n - 1 > 9999 * 12 + 11:
        return STATUS_INVALID, [], 0, 0
    installment = 0
    if method == EQUAL_INSTALLMENT:
        payment = _money.annuity_payment(principal, rate_ppm, n)
        if payment is None:
            return STATUS_OVERFLOW, [], 0, 0
        installment = payment
    rows, balance, total_payment, total_interest = [], principal, 0, 0
    for k in range(n):
        interest = _money.monthly_interest(balance, rate_ppm)
        if interest is None:
            return STATUS_OVERFLOW, [], 0, 0
        if method == EQUAL_INSTALLMENT:
            part = installment - interest
        else:
            part = principal // n
        part = max(part, 0)
        if k == n - 1 or part > balance:
            part = balance
        payment = part + interest
        total_payment += payment
        total_interest += interest
        if max(payment, total_payment, total_interest) > _money.I64_MAX:
            return STATUS_OVERFLOW, [], 0, 0
        balance -= part
        rows.append((due_day(first_due_day, k), payment, part, interest, balance))
    return 0, rows, total_payment, total_interest


# core instructions per loan of one call, what _native.threads_worth splits by (bench/
# serial_share_model.json: 25,239,655 at scale 0.05 over 10,000 loans)
INSTRUCTIONS_PER_LOAN = 2_523


class Schedule(Workload):
    name = "loan.schedule"
    title = "repayment schedules"
    unit = "loans"
    engines = ("c", "python", "numpy")
    c_sources = ("src/schedule.c",)
    input_schemas = {"loans": LOANS}
    output_schemas = {"installments": INSTALLMENTS, "loans": TOTALS}

    def _generate(self, scale: float, seed: int) -> _tables.Tables:
        n = scaled(200_000, scale)
        sme = Stream(seed, "schedule.segment").chance(n, 10, 100)
        micro_principal = Stream(seed, "schedule.micro_principal").histogram(n, MICRO_PRINCIPAL)
        sme_principal = Stream(seed, "schedule.sme_principal").histogram(n, SME_PRINCIPAL)
        micro_rate = Stream(seed, "schedule.micro_rate").choice(n, MICRO_RATES_PPM, [1, 1, 1, 1])
        sme_rate = Stream(seed, "schedule.sme_rate").histogram(n, [(1, 72_000, 144_000)])
        micro_n = Stream(seed, "schedule.micro_n").choice(n, [5, 10, 20], [30, 50, 20])
        sme_n = Stream(seed, "schedule.sme_n").choice(n, [12, 24], [50, 50])
        method = Stream(seed, "schedule.method").choice(n, [1, 2], [85, 15])
        first_due = FIRST_DUE_BASE_DAY + Stream(seed, "schedule.due").bounded(n, 365).astype(
            np.int64
        )
        loans = {
            "loan_id": np.arange(1, n + 1, dtype=np.uint64) + np.uint64(10**9),
            "principal_fen": np.where(sme, sme_principal, micro_principal),
            "annual_rate_ppm": np.where(sme, sme_rate, micro_rate).astype(np.uint32),
            "n_periods": np.where(sme, sme_n, micro_n).astype(np.uint16),
            "method": method.astype(np.uint8),
            "first_due_day": first_due.astype(np.int32),
        }
        return {"loans": _tables.table(loans, LOANS)}

    def _units(self, inputs) -> int:
        return inputs["loans"].num_rows

    # ---- engines ----
    def _run_python(self, inputs, threads: int) -> _tables.Tables:
        loans = inputs["loans"].to_pydict()
        rows, totals = [], []
        for i, loan_id in enumerate(loans["loan_id"]):
            n = loans["n_periods"][i]
            status, installments, total_payment, total_interest = schedule_loan(
                loans["principal_fen"][i],
                loans["annual_rate_ppm"][i],
                n,
                loans["method"][i],
                loans["first_due_day"][i],
            )
            if status:
                installments = [(0, 0, 0, 0, 0)] * (n if 1 <= n <= PERIODS_MAX else 0)
            rows += [(loan_id, k + 1, *row) for k, row in enumerate(installments)]
            totals.append((loan_id, status, total_payment, total_interest))
        return {
            "installments": _tables.from_rows(rows, INSTALLMENTS),
            "loans": _tables.from_rows(totals, TOTALS),
        }

    def _run_c(self, inputs, threads: int) -> _tables.Tables:
        cols = _tables.columns(inputs["loans"], LOANS)
        n = len(cols["loan_id"])
        offsets = np.empty(n + 1, dtype=np.int64)
        rc = lib.bb_schedule_offsets(
            _native.pointer(cols["n_periods"]), n, _native.out_pointer(offsets)
        )
        _native.check_status(rc, "bb_schedule_offsets")
        rows = _tables.output_columns(INSTALLMENTS, int(offsets[n]))
        totals = _tables.output_columns(TOTALS, n)
        loans_c = ffi.new("bb_loans *", {name: _native.pointer(cols[name]) for name in LOANS})
        rows_c = ffi.new("bb_installments *", {k: _native.out_pointer(v) for k, v in rows.items()})
        totals_c = ffi.new(
            "bb_loan_totals *",
            {
                "status": _native.out_pointer(totals["status"]),
                "total_payment_fen": _native.out_pointer(totals["total_payment_fen"]),
                "total_interest_fen": _native.out_pointer(totals["total_interest_fen"]),
            },
        )
        offsets_c = _native.pointer(offsets)

        task = ffi.new(
            "bb_schedule_task *",
            {"loans": loans_c, "offsets": offsets_c, "rows": rows_c, "totals": totals_c},
        )
        threads = _native.threads_worth(n, INSTRUCTIONS_PER_LOAN, threads)
        _native.parallel_ranges("bb_schedule_rows", task, n, threads)
        totals["loan_id"] = cols["loan_id"]
        return {
            "installments": _tables.table(rows, INSTALLMENTS),
            "loans": _tables.table(totals, TOTALS),
        }

    def _run_numpy(self, inputs, threads: int) -> _tables.Tables:
        from workloads.loan import _schedule_numpy

        return _schedule_numpy.run(inputs["loans"], threads)

    # ---- invariants ----
    def _check(self, inputs, outputs) -> None:
        loans = inputs["loans"]
        rows = outputs["installments"]
        totals = outputs["loans"]
        ok = totals.column("status").to_numpy() == 0
        n = loans.column("n_periods").to_numpy().astype(np.int64)
        valid_n = (n >= 1) & (n <= PERIODS_MAX)
        assert rows.num_rows == int(n[valid_n].sum()), "one installment row per period"
        loan_of_row = np.repeat(np.arange(loans.num_rows), np.where(valid_n, n, 0))
        row_ok = ok[loan_of_row]
        principal = rows.column("principal_fen").to_numpy()
        interest = rows.column("interest_fen").to_numpy()
        payment = rows.column("payment_fen").to_numpy()
        balance = rows.column("balance_after_fen").to_numpy()
        assert (principal >= 0).all() and (interest >= 0).all() and (balance >= 0).all(), (
            "no negative amounts"
        )
        assert (payment == principal + interest).all(), "payment = principal + interest"
        paid = np.zeros(loans.num_rows, dtype=np.int64)
        np.add.at(paid, loan_of_row[row_ok], principal[row_ok])
        expected = loans.column("principal_fen").to_numpy()
        assert (paid[ok] == expected[ok]).all(), "principal sums to the loan"
        last = np.cumsum(np.where(valid_n, n, 0)) - 1
        assert (balance[last[ok & valid_n]] == 0).all(), "the balance ends at 0"
        interest_total = np.zeros(loans.num_rows, dtype=np.int64)
        np.add.at(interest_total, loan_of_row[row_ok], interest[row_ok])
        assert (interest_total[ok] == totals.column("total_interest_fen").to_numpy()[ok]).all(), (
            "total interest is the sum of interest"
        )
