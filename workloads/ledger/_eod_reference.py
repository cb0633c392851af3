"""The reference end-of-day servicing: plain Python over the reference ledger (ledger.post's
semantics) and the reference schedules (loan.schedule). Twin of native/src/eod.c."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from workloads import _money
from workloads.errors import BankbenchError, InputError
from workloads.ledger import _tigerbeetle as tb
from workloads.ledger._ledger import Ledger
from workloads.loan import schedule

NS_PER_DAY = 86_400 * 10**9
ID_SEQUENCE_START = 1_000_000_000
CODE_INCOME, CODE_ACCRUAL, CODE_PENALTY, CODE_REPAYMENT = 11, 12, 13, 14
LEDGER_CNY = 156


class ReconciliationError(BankbenchError):
    """The loan sub-ledger and the general ledger disagree: the run is not trustworthy."""


@dataclass
class Loan:
    row: dict
    due_day: list[int]
    principal: list[int]
    interest: list[int]
    principal_not_due: int
    period_start: int
    principal_unpaid: list[int] = field(default_factory=list)
    interest_unpaid: list[int] = field(default_factory=list)
    accrued_not_due: int = 0
    penalty_due: int = 0
    next_due: int = 0
    first_unpaid: int = 0
    dpd: int = 0
    bucket: int = 0

    def settled(self) -> bool:
        n = len(self.due_day)
        return self.next_due == n and self.first_unpaid == n and self.penalty_due == 0


def accrued_by(interest: int, start: int, due: int, day: int) -> int:
    """Interest accrued by `day` of the period (start, due]: exact on the due day."""
    if day <= start:
        return 0
    if day >= due:
        return interest
    return interest * (day - start) // (due - start)


def bucket_of(dpd: int) -> int:
    return 0 if dpd == 0 else 1 if dpd <= 30 else 2 if dpd <= 60 else 3 if dpd <= 90 else 4


class Eod:
    def __init__(
        self, ledger: Ledger, loans: list[dict], gl: dict[int, dict], cells: int, start_day: int
    ):
        self.ledger, self.gl, self.cells, self.start_day = ledger, gl, cells, start_day
        self.sequence = dict.fromkeys(range(cells), ID_SEQUENCE_START)
        self.loans: list[Loan] = []
        for row in loans:
            status, rows, _, _ = schedule.schedule_loan(
                row["principal_fen"],
                row["annual_rate_ppm"],
                row["n_periods"],
                schedule.EQUAL_INSTALLMENT,
                row["first_due_day"],
            )
            if status != 0 or row["first_due_day"] <= start_day:
                raise InputError(
                    f"ledger.eod loan {row['loan_id']}: no valid schedule (status {status})"
                )
            n = len(rows)
            self.loans.append(
                Loan(
                    row,
                    [r[0] for r in rows],
                    [r[2] for r in rows],
                    [r[3] for r in rows],
                    row["principal_fen"],
                    start_day,
                    [0] * n,
                    [0] * n,
                )
            )
        self.cell_loans = {
            c: [ln for ln in self.loans if ln.row["loan_account_id"] % cells == c]
            for c in range(cells)
        }

    def _transfer(
        self, cell: int, debit: int, credit: int, amount: int, code: int, flags: int = 0
    ) -> dict:
        transfer_id = self.sequence[cell] * self.cells + cell
        self.sequence[cell] += 1
        return {
            "id": transfer_id,
            "debit_account_id": debit,
            "credit_account_id": credit,
            "amount": amount,
            "pending_id": 0,
            "user_data_64": 0,
            "user_data_32": 0,
            "timeout": 0,
            "ledger": LEDGER_CNY,
            "code": code,
            "flags": flags,
            "timestamp": 0,
        }

    def _post(self, events: list[dict], stamp: int) -> None:
        if events and any(s != tb.CREATED for _, s in self.ledger.run_batch(events, stamp)):
            raise ReconciliationError("ledger.eod: a servicing posting was refused by the ledger")

    def _balance(self, account_id: int, debit_normal: bool) -> int:
        a = self.ledger.accounts[account_id]
        if debit_normal:
            return a.debits_posted - a.credits_posted
        return a.credits_posted - a.debits_posted - a.debits_pending

    def run_day(self, cell: int, day_index: int) -> tuple:
        day = self.start_day + day_index
        gl = self.gl[cell]
        stamp = (day_index + 1) * NS_PER_DAY
        loans = self.cell_loans[cell]
        day_of_month = (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).day
        self._post(
            [
                self._transfer(
                    cell,
                    gl["settlement"],
                    ln.row["deposit_account_id"],
                    ln.row["monthly_income_fen"],
                    CODE_INCOME,
                )
                for ln in loans
                if ln.row["tops_up"]
                and ln.row["salary_day"] == day_of_month
                and ln.row["monthly_income_fen"] > 0
            ],
            stamp,
        )
        accrual = self._transfer(
            cell, gl["interest_receivable"], gl["interest_income"], 0, CODE_ACCRUAL
        )
        fine_posting = self._transfer(
            cell, gl["penalty_receivable"], gl["penalty_income"], 0, CODE_PENALTY
        )
        repayments: list[dict] = []
        accrued = penalty = collected = overdue = active = 0
        counts = [0] * 5
        for ln in loans:
            if ln.settled():
                continue
            active += 1
            if ln.next_due < len(ln.due_day):
                k = ln.next_due
                today = accrued_by(
                    ln.interest[k], ln.period_start, ln.due_day[k], day
                ) - accrued_by(ln.interest[k], ln.period_start, ln.due_day[k], day - 1)
                ln.accrued_not_due += today
                accrued += today
            while ln.next_due < len(ln.due_day) and ln.due_day[ln.next_due] == day:
                k = ln.next_due
                ln.principal_unpaid[k], ln.interest_unpaid[k] = ln.principal[k], ln.interest[k]
                ln.principal_not_due -= ln.principal[k]
                ln.accrued_not_due -= ln.interest[k]
                ln.period_start = day
                ln.next_due += 1
            due = range(ln.first_unpaid, ln.next_due)
            overdue_principal = sum(ln.principal_unpaid[k] for k in due if ln.due_day[k] < day)
            fine = _money.div_round_half_up(
                overdue_principal * ln.row["annual_rate_ppm"] * 3, 720_000_000
            )
            ln.penalty_due += fine
            penalty += fine
            overdue += overdue_principal
            owed = ln.penalty_due + sum(ln.interest_unpaid[k] + ln.principal_unpaid[k] for k in due)
            if owed > 0:
                pay = max(0, min(self._balance(ln.row["deposit_account_id"], False), owed))
                to_penalty = min(pay, ln.penalty_due)
                ln.penalty_due -= to_penalty
                left, to_interest, to_principal = pay - to_penalty, 0, 0
                for k in due:  # the oldest installment first: interest, then principal
                    x = min(left, ln.interest_unpaid[k])
                    ln.interest_unpaid[k] -= x
                    left -= x
                    to_interest += x
                    y = min(left, ln.principal_unpaid[k])
                    ln.principal_unpaid[k] -= y
                    left -= y
                    to_principal += y
                while (
                    ln.first_unpaid < ln.next_due
                    and ln.interest_unpaid[ln.first_unpaid] == 0
                    and ln.principal_unpaid[ln.first_unpaid] == 0
                ):
                    ln.first_unpaid += 1
                parts = [
                    (gl["penalty_receivable"], to_penalty),
                    (gl["interest_receivable"], to_interest),
                    (ln.row["loan_account_id"], to_principal),
                ]
                parts = [(account, amount) for account, amount in parts if amount > 0]
                for j, (account, amount) in enumerate(parts):
                    linked = tb.LINKED if j < len(parts) - 1 else 0
                    repayments.append(
                        self._transfer(
                            cell,
                            ln.row["deposit_account_id"],
                            account,
                            amount,
                            CODE_REPAYMENT,
                            linked,
                        )
                    )
                collected += pay
            unpaid = ln.first_unpaid < ln.next_due
            ln.dpd = day - ln.due_day[ln.first_unpaid] + 1 if unpaid else 0
            ln.bucket = bucket_of(ln.dpd)
            counts[ln.bucket] += 1
        accrual["amount"], fine_posting["amount"] = accrued, penalty
        self._post([accrual, fine_posting, *repayments], stamp + NS_PER_DAY // 2)
        self.reconcile(cell)
        return (active, *counts, overdue, collected, penalty, accrued)

    def reconcile(self, cell: int) -> None:
        gl = self.gl[cell]
        loans = self.cell_loans[cell]
        for ln in loans:
            outstanding = ln.principal_not_due + sum(ln.principal_unpaid)
            if self._balance(ln.row["loan_account_id"], True) != outstanding:
                raise ReconciliationError(
                    f"ledger.eod: loan {ln.row['loan_id']} principal differs from its account"
                )
        interest = sum(ln.accrued_not_due + sum(ln.interest_unpaid) for ln in loans)
        if self._balance(gl["interest_receivable"], True) != interest:
            raise ReconciliationError(
                f"ledger.eod: cell {cell} interest receivable differs from the loans"
            )
        if self._balance(gl["penalty_receivable"], True) != sum(ln.penalty_due for ln in loans):
            raise ReconciliationError(
                f"ledger.eod: cell {cell} penalty receivable differs from the loans"
            )
