"""The reference ledger: TigerBeetle's create_transfers semantics in plain Python.

Check order, result codes and effects follow src/state_machine.zig (create_transfer,
create_transfer_exists, post_or_void_pending_transfer, post_or_void_pending_transfer_exists,
execute_create, expire_pending_transfers). Differences, all documented in ledger.post:
ids and amounts are 64-bit; there is no user_data_128; imported events are not supported.
Batches run in the cell order of ledger.post (local events, then cross-cell ones).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from workloads.ledger import _tigerbeetle as tb


@dataclass
class Account:
    id: int
    ledger: int
    code: int
    flags: int
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    def debits_exceed_credits(self, amount: int) -> bool:
        return bool(self.flags & tb.DEBITS_MUST_NOT_EXCEED_CREDITS) and (
            self.debits_pending + self.debits_posted + amount > self.credits_posted
        )

    def credits_exceed_debits(self, amount: int) -> bool:
        return bool(self.flags & tb.CREDITS_MUST_NOT_EXCEED_DEBITS) and (
            self.credits_pending + self.credits_posted + amount > self.debits_posted
        )


@dataclass
class Transfer:
    id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    pending_id: int
    user_data_64: int
    user_data_32: int
    timeout: int
    ledger: int
    code: int
    flags: int
    timestamp: int
    status: int = 0  # pending status of a pending transfer: PENDING_STATUS/POSTED/VOIDED/EXPIRED
    expired_before: int = 0  # of an expired one: the timestamp of the batch it expired before

    def expires_at(self) -> int:
        return self.timestamp + self.timeout * tb.NS_PER_S


TRANSFER_FIELDS = (
    "id",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "pending_id",
    "user_data_64",
    "user_data_32",
    "timeout",
    "ledger",
    "code",
    "flags",
    "timestamp",
)


def cell_of_event(event: dict, cells: int) -> int:
    """The cell an event runs in, or -1 for the serial cross-cell step: local when its id,
    both account ids and any pending id fall in one cell (ids are assigned to cell id % cells)."""
    if cells == 1:
        return 0
    ids = [event["id"], event["debit_account_id"], event["credit_account_id"]]
    if event["pending_id"]:
        ids.append(event["pending_id"])
    if event["debit_account_id"] == 0 or event["credit_account_id"] == 0:
        return -1
    home = {i % cells for i in ids}
    return home.pop() if len(home) == 1 else -1


def batch_cells(events: list[dict], cells: int) -> list[int]:
    """The cell each event of one batch runs in (-1: the cross-cell step), a linked chain
    whole where all its members can run."""
    single = [cell_of_event(e, cells) for e in events]
    chain_cells = list(single)
    start = None
    n = len(events)
    for i, e in enumerate(events):
        if start is None and e["flags"] & tb.LINKED:
            start = i
        if start is not None and (not e["flags"] & tb.LINKED or i == n - 1):
            same = len(set(single[start : i + 1])) == 1
            for j in range(start, i + 1):
                chain_cells[j] = single[start] if same else -1
            start = None
    return chain_cells


class Ledger:
    def __init__(self, accounts: list[dict], cells: int):
        self.cells = cells
        self.accounts = {
            a["id"]: Account(a["id"], a["ledger"], a["code"], a["flags"]) for a in accounts
        }
        self.transfers: dict[int, Transfer] = {}
        self.orphans: set[int] = set()
        # (expires_at, timestamp, id) of every created pending transfer with a timeout; a
        # posted or voided one's entry stays until it is popped (its status says it is done),
        # a rolled-back one's is removed with it
        self.expiring: list[tuple[int, int, int]] = []
        self.undo: list | None = None  # open while a linked chain runs

    # ---- state changes, recorded for a chain's rollback ----
    def _set(self, obj, field: str, value: int) -> None:
        if self.undo is not None:
            self.undo.append(("set", obj, field, getattr(obj, field)))
        setattr(obj, field, value)

    def _insert(self, t: Transfer) -> None:
        expiry = (t.expires_at(), t.timestamp, t.id) if t.flags & tb.PENDING and t.timeout else None
        if self.undo is not None:
            self.undo.append(("insert", t.id, expiry))
        self.transfers[t.id] = t
        if expiry:
            heapq.heappush(self.expiring, expiry)

    def _rollback(self) -> None:
        """Undoes an open chain: its balances and flags, its transfers, their expiry entries
        (a stale entry would expire a later transfer that reuses the id)."""
        for entry in reversed(self.undo or []):
            if entry[0] == "set":
                _, obj, field, old = entry
                setattr(obj, field, old)
            else:
                _, id_, expiry = entry
                del self.transfers[id_]
                if expiry:
                    self._drop_expiry(expiry)

    def _drop_expiry(self, expiry: tuple[int, int, int]) -> None:
        self.expiring.remove(expiry)
        heapq.heapify(self.expiring)

    # ---- expiry ----
    def expire(self, now: int, batch_timestamp: int) -> None:
        """Expire every pending transfer with expires_at <= now (before a batch). Every entry
        is a created transfer's (a rollback removes its own); a posted or voided one's is
        skipped."""
        while self.expiring and self.expiring[0][0] <= now:
            _, _, pending_id = heapq.heappop(self.expiring)
            p = self.transfers.get(pending_id)
            if p is None or p.status != tb.PENDING_STATUS:
                continue
            dr, cr = self.accounts[p.debit_account_id], self.accounts[p.credit_account_id]
            dr.debits_pending -= p.amount
            cr.credits_pending -= p.amount
            if p.flags & tb.CLOSING_DEBIT:
                dr.flags &= ~tb.CLOSED
            if p.flags & tb.CLOSING_CREDIT:
                cr.flags &= ~tb.CLOSED
            p.status = tb.EXPIRED
            p.expired_before = batch_timestamp

    # ---- one batch ----
    def run_batch(self, events: list[dict], batch_timestamp: int) -> list[tuple[int, int]]:
        """(timestamp, status) per event: expiry, then cell-local events, then the rest."""
        n = len(events)
        self.expire(batch_timestamp - n, batch_timestamp)
        chain_cells = batch_cells(events, self.cells)
        results: list[tuple[int, int]] = [(0, 0)] * n
        local = [i for i in range(n) if chain_cells[i] >= 0]
        crossing = [i for i in range(n) if chain_cells[i] < 0]
        for order in (local, crossing):
            self.execute([events[i] for i in order], order, n, batch_timestamp, results)
        return results

    def execute(
        self,
        events: list[dict],
        indices: list[int],
        batch_size: int,
        batch_timestamp: int,
        results: list,
    ) -> None:
        """TigerBeetle's execute_create over events in order (indices: their batch positions)."""
        chain_start = None
        chain_broken = False
        for k, (event, index) in enumerate(zip(events, indices, strict=True)):
            timestamp = batch_timestamp - batch_size + index + 1
            linked = bool(event["flags"] & tb.LINKED)
            if linked and chain_start is None:
                chain_start = k
                self.undo = []
            if linked and index == batch_size - 1:
                status = tb.LINKED_EVENT_CHAIN_OPEN
            elif chain_broken:
                status = tb.LINKED_EVENT_FAILED
            elif event["flags"] & tb.IMPORTED:
                status = tb.IMPORTED_EVENT_NOT_EXPECTED  # imported batches are not supported
            elif event["timestamp"] != 0:
                status = tb.TIMESTAMP_MUST_BE_ZERO
            else:
                t = Transfer(
                    **{f: event[f] for f in TRANSFER_FIELDS if f != "timestamp"},
                    timestamp=timestamp,
                )
                status = self.create_transfer(t)
            created = status == tb.CREATED
            if not created:
                # the existing transfer's timestamp, read before a rollback can remove it
                stamp = self.transfers[event["id"]].timestamp if status == tb.EXISTS else 0
                if chain_start is not None and not chain_broken:
                    chain_broken = True
                    self._rollback()
                    for j in range(chain_start, k):
                        results[indices[j]] = (0, tb.LINKED_EVENT_FAILED)
                if status in tb.TRANSIENT:
                    self.orphans.add(event["id"])
                results[index] = (stamp, status)
            else:
                results[index] = (timestamp, tb.CREATED)
            if chain_start is not None and (not linked or status == tb.LINKED_EVENT_CHAIN_OPEN):
                chain_start, chain_broken, self.undo = None, False, None

    # ---- create_transfer ----
    def create_transfer(self, t: Transfer) -> int:
        if t.flags & ~tb.TRANSFER_FLAGS_KNOWN:
            return tb.RESERVED_FLAG
        if t.id == 0:
            return tb.ID_MUST_NOT_BE_ZERO
        if t.id == tb.U64_MAX:
            return tb.ID_MUST_NOT_BE_INT_MAX
        if t.id in self.transfers:
            return self.exists(t, self.transfers[t.id])
        if t.id in self.orphans:
            return tb.ID_ALREADY_FAILED
        if t.flags & (tb.POST_PENDING | tb.VOID_PENDING):
            return self.post_or_void(t)
        if t.debit_account_id == 0:
            return tb.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
        if t.debit_account_id == tb.U64_MAX:
            return tb.DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX
        if t.credit_account_id == 0:
            return tb.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
        if t.credit_account_id == tb.U64_MAX:
            return tb.CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX
        if t.credit_account_id == t.debit_account_id:
            return tb.ACCOUNTS_MUST_BE_DIFFERENT
        if t.pending_id != 0:
            return tb.PENDING_ID_MUST_BE_ZERO
        if not t.flags & tb.PENDING:
            if t.timeout != 0:
                return tb.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
            if t.flags & (tb.CLOSING_DEBIT | tb.CLOSING_CREDIT):
                return tb.CLOSING_TRANSFER_MUST_BE_PENDING
        if t.ledger == 0:
            return tb.LEDGER_MUST_NOT_BE_ZERO
        if t.code == 0:
            return tb.CODE_MUST_NOT_BE_ZERO
        dr = self.accounts.get(t.debit_account_id)
        if dr is None:
            return tb.DEBIT_ACCOUNT_NOT_FOUND
        cr = self.accounts.get(t.credit_account_id)
        if cr is None:
            return tb.CREDIT_ACCOUNT_NOT_FOUND
        if dr.ledger != cr.ledger:
            return tb.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER
        if t.ledger != dr.ledger:
            return tb.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS
        if dr.flags & tb.CLOSED:
            return tb.DEBIT_ACCOUNT_ALREADY_CLOSED
        if cr.flags & tb.CLOSED:
            return tb.CREDIT_ACCOUNT_ALREADY_CLOSED
        amount = t.amount
        if t.flags & tb.BALANCING_DEBIT:
            amount = min(amount, max(0, dr.credits_posted - (dr.debits_posted + dr.debits_pending)))
        if t.flags & tb.BALANCING_CREDIT:
            amount = min(
                amount, max(0, cr.debits_posted - (cr.credits_posted + cr.credits_pending))
            )
        if t.flags & tb.PENDING:
            if amount + dr.debits_pending > tb.U64_MAX:
                return tb.OVERFLOWS_DEBITS_PENDING
            if amount + cr.credits_pending > tb.U64_MAX:
                return tb.OVERFLOWS_CREDITS_PENDING
        if amount + dr.debits_posted > tb.U64_MAX:
            return tb.OVERFLOWS_DEBITS_POSTED
        if amount + cr.credits_posted > tb.U64_MAX:
            return tb.OVERFLOWS_CREDITS_POSTED
        if amount + dr.debits_pending + dr.debits_posted > tb.U64_MAX:
            return tb.OVERFLOWS_DEBITS
        if amount + cr.credits_pending + cr.credits_posted > tb.U64_MAX:
            return tb.OVERFLOWS_CREDITS
        if t.timestamp + t.timeout * tb.NS_PER_S > tb.U63_MAX:
            return tb.OVERFLOWS_TIMEOUT
        if dr.debits_exceed_credits(amount):
            return tb.EXCEEDS_CREDITS
        if cr.credits_exceed_debits(amount):
            return tb.EXCEEDS_DEBITS
        t.amount = amount
        if t.flags & tb.PENDING:
            t.status = tb.PENDING_STATUS
            self._set(dr, "debits_pending", dr.debits_pending + amount)
            self._set(cr, "credits_pending", cr.credits_pending + amount)
        else:
            self._set(dr, "debits_posted", dr.debits_posted + amount)
            self._set(cr, "credits_posted", cr.credits_posted + amount)
        if t.flags & tb.CLOSING_DEBIT:
            self._set(dr, "flags", dr.flags | tb.CLOSED)
        if t.flags & tb.CLOSING_CREDIT:
            self._set(cr, "flags", cr.flags | tb.CLOSED)
        self._insert(t)
        return tb.CREATED

    def exists(self, t: Transfer, e: Transfer) -> int:
        if t.flags != e.flags:
            return tb.EXISTS_WITH_DIFFERENT_FLAGS
        if t.pending_id != e.pending_id:
            return tb.EXISTS_WITH_DIFFERENT_PENDING_ID
        if t.timeout != e.timeout:
            return tb.EXISTS_WITH_DIFFERENT_TIMEOUT
        if t.flags & (tb.POST_PENDING | tb.VOID_PENDING):
            return self.post_or_void_exists(t, e, self.transfers[t.pending_id])
        if t.debit_account_id != e.debit_account_id:
            return tb.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID
        if t.credit_account_id != e.credit_account_id:
            return tb.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID
        if t.flags & (tb.BALANCING_DEBIT | tb.BALANCING_CREDIT):
            if t.amount < e.amount:  # a balancing amount is an upper limit
                return tb.EXISTS_WITH_DIFFERENT_AMOUNT
        elif t.amount != e.amount:
            return tb.EXISTS_WITH_DIFFERENT_AMOUNT
        if t.user_data_64 != e.user_data_64:
            return tb.EXISTS_WITH_DIFFERENT_USER_DATA_64
        if t.user_data_32 != e.user_data_32:
            return tb.EXISTS_WITH_DIFFERENT_USER_DATA_32
        if t.ledger != e.ledger:
            return tb.EXISTS_WITH_DIFFERENT_LEDGER
        if t.code != e.code:
            return tb.EXISTS_WITH_DIFFERENT_CODE
        return tb.EXISTS

    def post_or_void(self, t: Transfer) -> int:
        post, void = bool(t.flags & tb.POST_PENDING), bool(t.flags & tb.VOID_PENDING)
        if (post and void) or t.flags & (
            tb.PENDING
            | tb.BALANCING_DEBIT
            | tb.BALANCING_CREDIT
            | tb.CLOSING_DEBIT
            | tb.CLOSING_CREDIT
        ):
            return tb.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if t.pending_id == 0:
            return tb.PENDING_ID_MUST_NOT_BE_ZERO
        if t.pending_id == tb.U64_MAX:
            return tb.PENDING_ID_MUST_NOT_BE_INT_MAX
        if t.pending_id == t.id:
            return tb.PENDING_ID_MUST_BE_DIFFERENT
        if t.timeout != 0:
            return tb.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
        p = self.transfers.get(t.pending_id)
        if p is None:
            return tb.PENDING_TRANSFER_NOT_FOUND
        if not p.flags & tb.PENDING:
            return tb.PENDING_TRANSFER_NOT_PENDING
        dr, cr = self.accounts[p.debit_account_id], self.accounts[p.credit_account_id]
        if t.debit_account_id and t.debit_account_id != p.debit_account_id:
            return tb.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID
        if t.credit_account_id and t.credit_account_id != p.credit_account_id:
            return tb.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID
        if t.ledger and t.ledger != p.ledger:
            return tb.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER
        if t.code and t.code != p.code:
            return tb.PENDING_TRANSFER_HAS_DIFFERENT_CODE
        if void:
            amount = t.amount if t.amount > 0 else p.amount
        else:
            amount = p.amount if t.amount == tb.U64_MAX else t.amount
        if amount > p.amount:
            return tb.EXCEEDS_PENDING_TRANSFER_AMOUNT
        if void and amount < p.amount:
            return tb.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
        if p.status == tb.POSTED:
            return tb.PENDING_TRANSFER_ALREADY_POSTED
        if p.status == tb.VOIDED:
            return tb.PENDING_TRANSFER_ALREADY_VOIDED
        if p.status == tb.EXPIRED or (p.timeout and p.expires_at() <= t.timestamp):
            return tb.PENDING_TRANSFER_EXPIRED
        if dr.flags & tb.CLOSED and not void:  # voiding is the one movement a closed account allows
            return tb.DEBIT_ACCOUNT_ALREADY_CLOSED
        if cr.flags & tb.CLOSED and not void:
            return tb.CREDIT_ACCOUNT_ALREADY_CLOSED
        record = Transfer(
            t.id,
            p.debit_account_id,
            p.credit_account_id,
            amount,
            t.pending_id,
            t.user_data_64 or p.user_data_64,
            t.user_data_32 or p.user_data_32,
            0,
            p.ledger,
            p.code,
            t.flags,
            t.timestamp,
        )
        self._insert(record)
        self._set(p, "status", tb.POSTED if post else tb.VOIDED)
        self._set(dr, "debits_pending", dr.debits_pending - p.amount)
        self._set(cr, "credits_pending", cr.credits_pending - p.amount)
        if post:
            self._set(dr, "debits_posted", dr.debits_posted + amount)
            self._set(cr, "credits_posted", cr.credits_posted + amount)
        else:  # voiding a closing transfer reopens the account
            if p.flags & tb.CLOSING_DEBIT:
                self._set(dr, "flags", dr.flags & ~tb.CLOSED)
            if p.flags & tb.CLOSING_CREDIT:
                self._set(cr, "flags", cr.flags & ~tb.CLOSED)
        return tb.CREATED

    def post_or_void_exists(self, t: Transfer, e: Transfer, p: Transfer) -> int:
        if t.debit_account_id and t.debit_account_id != e.debit_account_id:
            return tb.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID
        if t.credit_account_id and t.credit_account_id != e.credit_account_id:
            return tb.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID
        if t.flags & tb.VOID_PENDING:
            if (e.amount != p.amount) if t.amount == 0 else (t.amount != e.amount):
                return tb.EXISTS_WITH_DIFFERENT_AMOUNT
        if t.flags & tb.POST_PENDING:
            if (e.amount != p.amount) if t.amount == tb.U64_MAX else (t.amount != e.amount):
                return tb.EXISTS_WITH_DIFFERENT_AMOUNT
        if (
            (e.user_data_64 != p.user_data_64)
            if t.user_data_64 == 0
            else (t.user_data_64 != e.user_data_64)
        ):
            return tb.EXISTS_WITH_DIFFERENT_USER_DATA_64
        if (
            (e.user_data_32 != p.user_data_32)
            if t.user_data_32 == 0
            else (t.user_data_32 != e.user_data_32)
        ):
            return tb.EXISTS_WITH_DIFFERENT_USER_DATA_32
        if t.ledger and t.ledger != e.ledger:
            return tb.EXISTS_WITH_DIFFERENT_LEDGER
        if t.code and t.code != e.code:
            return tb.EXISTS_WITH_DIFFERENT_CODE
        return tb.EXISTS
