"""ledger.eod — end-of-day loan servicing (日终批处理) over many business days (W4).

What it models: the nightly batch of a consumer lender's core: for every day, in this order,
1. salaries: borrowers who still top up get their monthly income on their salary day;
2. accrual: each loan accrues today's share of the current installment's scheduled interest
   (floor(I·elapsed/period) − floor(I·(elapsed−1)/period): exact on the due day);
3. due: installments due today move to "due" (principal and their fully accrued interest);
4. penalty (罚息): overdue principal (due before today, unpaid) × contract rate × 1.5 / 360,
   round half up, added to the loan's penalty;
5. auto-debit: min(what the deposit holds, what is owed), allocated penalty first, then the
   oldest installment first, interest before principal (Fineract's default), posted as one
   linked chain (deposit → penalty receivable, → interest receivable, → loan account);
6. overdue transition: days past due of the oldest unpaid installment (1 at the end of its
   due day if unpaid) and buckets M0 (current), M1 1–30, M2 31–60, M3 61–90, M4+ beyond;
7. GL: the day's accrual (interest receivable ← income) and penalties (penalty receivable ←
   penalty income) as postings of the cell;
8. reconciliation: every loan account equals its outstanding principal, each cell's interest
   and penalty receivables equal the loans' unpaid interest and penalties, or the run fails
   loudly (ReconciliationError). The ledger itself keeps Σ debits = Σ credits.
Schedules come from loan.schedule (equal installments) and every posting goes through
ledger.post's semantics (TigerBeetle's): no second copy of either. Each cell (id % cells) is an
independent branch, so cells run on separate threads; results do not depend on the count.

Inputs: ``accounts``, ``setup`` (ledger.post transfers: initial deposits and the drawdowns),
``loans`` (loan_id, principal_fen, annual_rate_ppm, n_periods, first_due_day, loan_account_id,
deposit_account_id, monthly_income_fen, salary_day u8, tops_up u8), ``gl`` (per cell:
settlement, interest_receivable, interest_income, penalty_receivable, penalty_income),
``config`` (cells, start_day, days). Outputs: ``days`` (a report row per day and cell),
``loans`` (outstanding principal, unpaid interest and penalty, days past due, bucket) and the
ledger's ``accounts``. Unit: loan-days. Data: 100,000 micro-loans at scale 1 (5/10/20
installments, 7.2–18 %), 90 days, 7 % of borrowers stop topping up.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from native import ffi, lib
from workloads import _native, _tables
from workloads._base import Workload, scaled
from workloads._rng import Stream
from workloads.errors import InputError, NativeError
from workloads.ledger import _eod_reference as reference
from workloads.ledger import _post_data, _sharded, post
from workloads.ledger import _tigerbeetle as tb
from workloads.ledger._eod_reference import ReconciliationError
from workloads.ledger._ledger import Ledger
from workloads.loan import schedule

CELLS = 8
DAYS_MAX = 36_600  # a century of end-of-day runs
# core instructions per loan-day of the end-of-day call, what _native.threads_worth splits it
# by (bench/serial_share_model.json at scale 0.05: 186,905,554 over 450,000 loan-days, less
# the setup's 10,000 transfers at _sharded.INSTRUCTIONS_PER_ROW's 891)
INSTRUCTIONS_PER_LOAN_DAY = 395
SETUP_REFUSED = "ledger.eod: the setup postings were refused by the ledger"
DAYS = 90
GL_SLOTS = {
    "settlement": 1,
    "interest_income": 2,
    "funding": 4,
    "interest_receivable": 5,
    "penalty_receivable": 6,
    "penalty_income": 7,
}
GL_CODES = {
    "settlement": 1002,
    "interest_income": 6011,
    "funding": 2301,
    "interest_receivable": 1132,
    "penalty_receivable": 1133,
    "penalty_income": 6031,
}
LOANS = {
    "loan_id": pa.uint64(),
    "principal_fen": pa.int64(),
    "annual_rate_ppm": pa.uint32(),
    "n_periods": pa.uint16(),
    "first_due_day": pa.int32(),
    "loan_account_id": pa.uint64(),
    "deposit_account_id": pa.uint64(),
    "monthly_income_fen": pa.int64(),
    "salary_day": pa.uint8(),
    "tops_up": pa.uint8(),
}
GL = {
    "cell": pa.uint32(),
    "settlement": pa.uint64(),
    "interest_receivable": pa.uint64(),
    "interest_income": pa.uint64(),
    "penalty_receivable": pa.uint64(),
    "penalty_income": pa.uint64(),
}
CONFIG = {"cells": pa.uint32(), "start_day": pa.int32(), "days": pa.uint32()}
DAYS_REPORT = {
    "day": pa.int32(),
    "cell": pa.uint32(),
    "active": pa.uint32(),
    **{f"bucket_m{k}": pa.uint32() for k in range(5)},
    "overdue_principal_fen": pa.int64(),
    "collected_fen": pa.int64(),
    "penalty_fen": pa.int64(),
    "accrued_fen": pa.int64(),
}
LOAN_STATE = {
    "loan_id": pa.uint64(),
    "principal_outstanding_fen": pa.int64(),
    "interest_unpaid_fen": pa.int64(),
    "penalty_unpaid_fen": pa.int64(),
    "days_past_due": pa.int32(),
    "bucket": pa.uint8(),
}


def generate(scale: float, seed: int, cells: int = CELLS, days: int = DAYS) -> dict:
    n = max(cells, scaled(100_000, scale))

    def stream(name: str) -> Stream:
        return Stream(seed, f"ledger.eod.{name}")

    deposit, loan_account = _post_data.account_ids(n, cells)
    cell = np.arange(n) % cells
    gl_ids = {
        name: _post_data.gl_id(slot, np.arange(cells), cells) for name, slot in GL_SLOTS.items()
    }
    start = schedule.FIRST_DUE_BASE_DAY
    loans = {
        "loan_id": np.arange(1, n + 1, dtype=np.uint64),
        "principal_fen": stream("principal").histogram(n, schedule.MICRO_PRINCIPAL),
        "annual_rate_ppm": stream("rate")
        .choice(n, schedule.MICRO_RATES_PPM, [1, 1, 1, 1])
        .astype(np.uint32),
        "n_periods": stream("n").choice(n, [5, 10, 20], [30, 50, 20]).astype(np.uint16),
        "first_due_day": (start + 1 + stream("first_due").bounded(n, 30).astype(np.int64)).astype(
            np.int32
        ),
        "loan_account_id": loan_account,
        "deposit_account_id": deposit,
        "monthly_income_fen": stream("income").histogram(n, [(1, 3_000_00, 20_000_00)]),
        "salary_day": (1 + stream("salary_day").bounded(n, 28)).astype(np.uint8),
        "tops_up": (~stream("bad").chance(n, 7, 100)).astype(np.uint8),
    }
    ids = np.concatenate([deposit, loan_account, *gl_ids.values()])
    codes = np.concatenate(
        [np.full(n, 2001), np.full(n, 1301), *[np.full(cells, GL_CODES[k]) for k in gl_ids]]
    )
    flags = np.concatenate([np.full(n, 2), np.full(n, 4), np.zeros(cells * len(gl_ids))])
    accounts = _tables.table(
        {
            "id": ids,
            "ledger": np.full(len(ids), reference.LEDGER_CNY, np.uint32),
            "code": codes.astype(np.uint16),
            "flags": flags.astype(np.uint16),
        },
        post.ACCOUNTS,
    )
    opening = (
        stream("opening")
        .histogram(n, [(60, 0, 1_000_00), (40, 1_000_01, 20_000_00)])
        .astype(np.uint64)
    )
    setup_columns = {
        "id": np.concatenate(
            [
                np.uint64(cells) * (np.arange(n, dtype=np.uint64) + np.uint64(10)),
                np.uint64(cells) * (np.arange(n, dtype=np.uint64) + np.uint64(n + 10)),
            ]
        )
        + np.concatenate([cell, cell]).astype(np.uint64),
        "debit_account_id": np.concatenate([gl_ids["settlement"][cell], loan_account]),
        "credit_account_id": np.concatenate([deposit, gl_ids["funding"][cell]]),
        "amount": np.concatenate([opening, loans["principal_fen"].astype(np.uint64)]),
    }
    for name in post.TRANSFER_FIELDS:
        setup_columns.setdefault(
            name, np.zeros(2 * n, dtype=post.TRANSFER_FIELDS[name].to_pandas_dtype())
        )
    setup_columns["ledger"][:] = reference.LEDGER_CNY
    setup_columns["code"][:] = 10
    setup_columns["batch"] = np.zeros(2 * n, np.uint32)
    setup = post.rebatch(_tables.table(setup_columns, post.TRANSFERS), post.BATCH_SIZE_MAX)
    gl = {"cell": np.arange(cells, dtype=np.uint32), **{k: gl_ids[k] for k in GL if k != "cell"}}
    return {
        "accounts": accounts,
        "setup": setup,
        "loans": _tables.table(loans, LOANS),
        "gl": _tables.table(gl, GL),
        "config": pa.table(
            {
                "cells": pa.array([cells], pa.uint32()),
                "start_day": pa.array([start], pa.int32()),
                "days": pa.array([days], pa.uint32()),
            }
        ),
    }


def _report_table(rows: list[tuple]) -> pa.Table:
    return _tables.from_rows(rows, DAYS_REPORT)


def _missing(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Which values are not in the sorted array `known` (np.isin hashes both sides: ~70 ms
    for 100,000 loans against 200,000 accounts where a binary search takes a few)."""
    if len(known) == 0:
        return np.ones(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(known, values), len(known) - 1)
    return known[at] != values


class Eod(Workload):
    name = "ledger.eod"
    title = "end-of-day loan servicing"
    unit = "loan-days"
    engines = ("c", "python")
    c_sources = (
        "src/eod.c",
        "src/ledger.c",
        "src/schedule.c",
        "src/batches.c",
        "src/barrier.c",
        "src/hashmap.c",
        "src/tables.c",
    )
    input_schemas = {
        "accounts": post.ACCOUNTS,
        "setup": post.TRANSFERS,
        "loans": LOANS,
        "gl": GL,
        "config": CONFIG,
    }
    output_schemas = {"days": DAYS_REPORT, "loans": LOAN_STATE, "accounts": post.BALANCES}

    def _generate(self, scale: float, seed: int) -> _tables.Tables:
        return generate(scale, seed)

    def _validate_more(self, inputs) -> None:
        config = inputs["config"]
        cells = _sharded.cells_of(config, self.name)
        post.validate_accounts(inputs["accounts"], self.name)
        if sorted(inputs["gl"].column("cell").to_pylist()) != list(range(cells)):
            raise InputError(f"ledger.eod gl: one row per cell 0..{cells - 1}")
        loans = inputs["loans"]
        n = loans.column("n_periods").to_numpy()
        bad = (n < 1) | (n > schedule.PERIODS_MAX)
        if bad.any():
            raise InputError(
                f"ledger.eod loans row {int(np.argmax(bad))}: "
                f"n_periods must be 1..{schedule.PERIODS_MAX}"
            )
        start = config.column("start_day")[0].as_py()
        days = config.column("days")[0].as_py()
        if not 0 <= days <= DAYS_MAX:
            raise InputError(f"ledger.eod config: days must be 0..{DAYS_MAX}, got {days}")
        if not schedule.DAY_MIN <= start <= schedule.DAY_MAX - days:
            raise InputError(f"ledger.eod config: start_day {start} is outside the calendar")
        known = np.sort(inputs["accounts"].column("id").to_numpy())
        gl = inputs["gl"]
        for table, columns in (
            (loans, ("loan_account_id", "deposit_account_id")),
            (gl, tuple(k for k in GL if k != "cell")),
        ):
            for column in columns:
                missing = _missing(table.column(column).to_numpy(), known)
                if missing.any():
                    raise InputError(
                        f"ledger.eod {'loans' if table is loans else 'gl'}.{column} row "
                        f"{int(np.argmax(missing))}: no such account"
                    )
        gl_columns = [k for k in GL if k != "cell"]
        gl_ids = np.stack([gl.column(k).to_numpy() for k in gl_columns], axis=1)
        home = gl.column("cell").to_numpy().astype(np.uint64)[:, None]
        if (gl_ids % np.uint64(cells) != home).any():
            row, slot = np.argwhere(gl_ids % np.uint64(cells) != home)[0]
            raise InputError(
                f"ledger.eod gl.{gl_columns[slot]} row {int(row)}: the account must be in the "
                "row's cell (id % cells == cell)"
            )
        if len(np.unique(gl_ids)) != gl_ids.size:
            raise InputError("ledger.eod gl: each general-ledger account may serve one role only")
        if (loans.column("first_due_day").to_numpy() <= start).any():
            raise InputError("ledger.eod loans: every first_due_day must come after start_day")
        for column in ("deposit_account_id", "loan_account_id"):
            ids = loans.column(column).to_numpy()
            home = loans.column("loan_account_id").to_numpy() % np.uint64(cells)
            if (ids % np.uint64(cells) != home).any():
                raise InputError(
                    f"ledger.eod loans.{column}: a loan's accounts must be in one cell"
                )

    def _units(self, inputs) -> int:
        return inputs["loans"].num_rows * inputs["config"].column("days")[0].as_py()

    def _config(self, inputs) -> tuple[int, int, int]:
        c = inputs["config"]
        return tuple(c.column(k)[0].as_py() for k in ("cells", "start_day", "days"))

    def _run_python(self, inputs, threads: int) -> _tables.Tables:
        cells, start, days = self._config(inputs)
        ledger = Ledger(inputs["accounts"].to_pylist(), cells)
        setup = inputs["setup"]
        rows = setup.select(list(post.TRANSFER_FIELDS)).to_pylist()
        for k, (begin, end) in enumerate(_sharded.batch_bounds(setup.column("batch").to_numpy())):
            results = ledger.run_batch(rows[begin:end], (k + 1) * post.NS_PER_S)
            if any(status != tb.CREATED for _, status in results):
                raise ReconciliationError(SETUP_REFUSED)
        gl = {row["cell"]: row for row in inputs["gl"].to_pylist()}
        eod = reference.Eod(ledger, inputs["loans"].to_pylist(), gl, cells, start)
        report = [(start + d, c, *eod.run_day(c, d)) for d in range(days) for c in range(cells)]
        state = [
            (
                ln.row["loan_id"],
                ln.principal_not_due + sum(ln.principal_unpaid),
                ln.accrued_not_due + sum(ln.interest_unpaid),
                ln.penalty_due,
                ln.dpd,
                ln.bucket,
            )
            for ln in eod.loans
        ]
        balances = [
            (a.id, a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.flags)
            for a in ledger.accounts.values()
        ]
        return {
            "days": _report_table(report),
            "loans": _tables.from_rows(state, LOAN_STATE),
            "accounts": _tables.from_rows(balances, post.BALANCES),
        }

    def _run_c(self, inputs, threads: int) -> _tables.Tables:
        cells, start, days = self._config(inputs)
        accounts = _tables.columns(inputs["accounts"], post.ACCOUNTS)
        ledger = post.CLedger(accounts, cells, threads)
        setup = post.post_batches(
            ledger, _tables.columns(inputs["setup"], post.TRANSFERS), cells, threads
        )
        if (setup.column("status").to_numpy() != 0xFFFF_FFFF).any():
            raise ReconciliationError(SETUP_REFUSED)
        loans = _tables.columns(inputs["loans"], LOANS)
        gl = {
            k: np.ascontiguousarray(v[np.argsort(inputs["gl"].column("cell").to_numpy())])
            for k, v in _tables.columns(inputs["gl"], GL).items()
        }
        loans_c = ffi.new("bb_eod_loans *", {k: _native.pointer(loans[k]) for k in LOANS})
        gl_c = ffi.new("bb_eod_gl *", {k: _native.pointer(gl[k]) for k in GL if k != "cell"})
        n = len(loans["loan_id"])
        # the loans' schedules (bb_eod_new) and the cells' days share the threads
        threads = _native.threads_worth(
            n * days, INSTRUCTIONS_PER_LOAN_DAY, threads, parts_max=min(cells, max(n, 1))
        )
        out = ffi.new("bb_eod **")
        with _native.parallel_call():
            rc = lib.bb_eod_new(ledger.c, loans_c, n, gl_c, cells, start, days, threads, out)
        _native.check_status(rc, "bb_eod_new")
        eod = ffi.gc(out[0], lib.bb_eod_free)
        rows = days * cells
        report: dict[str, np.ndarray] = {
            "active": np.zeros(rows, np.uint32),
            "bucket_count": np.zeros(rows * 5, np.uint32),
            **{
                k: np.zeros(rows, np.int64)
                for k in ("overdue_principal_fen", "collected_fen", "penalty_fen", "accrued_fen")
            },
        }
        report_c = ffi.new(
            "bb_eod_report *", {k: _native.out_pointer(v) for k, v in report.items()}
        )
        task = ffi.new(
            "bb_eod_run_task *", {"eod": eod, "days": days, "cells": cells, "report": report_c}
        )
        try:  # cells differ in loans: claimed one at a time
            _native.parallel_chunks("bb_eod_run_cells", task, cells, 1, threads)
        except NativeError as error:
            if error.code_name == "BB_RECONCILIATION_FAILED":
                raise ReconciliationError(
                    f"ledger.eod: reconciliation failed in one of the {cells} cells"
                ) from None
            raise
        buckets = report.pop("bucket_count").reshape(rows, 5)
        table = {
            "day": np.repeat(np.arange(start, start + days, dtype=np.int32), cells),
            "cell": np.tile(np.arange(cells, dtype=np.uint32), days),
            "active": report["active"],
            **{f"bucket_m{k}": np.ascontiguousarray(buckets[:, k]) for k in range(5)},
            **{
                k: report[k]
                for k in ("overdue_principal_fen", "collected_fen", "penalty_fen", "accrued_fen")
            },
        }
        state = _tables.output_columns(LOAN_STATE, n, given={"loan_id": None}, zeroed=True)
        state_c = ffi.new(
            "bb_eod_loan_state *",
            {
                "principal_outstanding_fen": _native.out_pointer(
                    state["principal_outstanding_fen"]
                ),
                "interest_unpaid_fen": _native.out_pointer(state["interest_unpaid_fen"]),
                "penalty_unpaid_fen": _native.out_pointer(state["penalty_unpaid_fen"]),
                "days_past_due": _native.out_pointer(state["days_past_due"]),
                "bucket": _native.out_pointer(state["bucket"]),
            },
        )
        _native.check_status(lib.bb_eod_read_loans(eod, state_c), "bb_eod_read_loans")
        return {
            "days": _tables.table(table, DAYS_REPORT),
            "loans": _tables.table({"loan_id": loans["loan_id"], **state}, LOAN_STATE),
            "accounts": ledger.balances(threads),
        }

    def _check(self, inputs, outputs) -> None:
        post.check_balances(outputs["accounts"])
        loans = outputs["loans"]
        principal = inputs["loans"].column("principal_fen").to_numpy()
        outstanding = loans.column("principal_outstanding_fen").to_numpy()
        assert ((outstanding >= 0) & (outstanding <= principal)).all(), (
            "0 <= outstanding principal <= loan"
        )
        assert (loans.column("penalty_unpaid_fen").to_numpy() >= 0).all(), "no negative penalties"
        days = outputs["days"]
        total = sum(days.column(f"bucket_m{k}").to_numpy().astype(np.int64) for k in range(5))
        assert (total == days.column("active").to_numpy()).all(), (
            "every active loan is in one bucket"
        )
