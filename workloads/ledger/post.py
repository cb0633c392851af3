"""ledger.post — double-entry posting with TigerBeetle's semantics (W1).

What it models: a bank's core ledger posting card holds, P2P payments, loan drawdowns and
repayments as TigerBeetle does: accounts with cumulative debits/credits (pending and posted),
balance-limit flags, two-phase transfers (pending → post in full or in part, or void; timeouts
and expiry), linked chains that are all-or-nothing, balancing transfers, closing transfers,
idempotent retries (exists / exists_with_different_*) and ids that failed with a transient
code (id_already_failed). Result codes carry TigerBeetle's fixed numbers
(workloads/ledger/_tigerbeetle.py; created = 0xFFFFFFFF) and its check order.

Subset and differences, stated: ids and amounts are 64-bit (TigerBeetle's are 128-bit: the
"int max" checks use 2^64-1); there is no user_data_128; imported events are not supported
(an imported event gets imported_event_not_expected); accounts are given, not created through
create_accounts (a malformed account table is refused, naming the row).

Inputs: ``accounts`` (id u64, ledger u32, code u16, flags u16; balances start at 0),
``transfers`` (batch u32 — rows with the same batch number form one request of at most 8189
events, batches in ascending order — then TigerBeetle's fields id, debit_account_id,
credit_account_id, amount u64, pending_id u64, user_data_64 u64, user_data_32 u32, timeout u32
(seconds), ledger u32, code u16, flags u16, timestamp u64 (must be 0)), ``config`` (one row:
cells u32). Clock: batch k (0-based) has timestamp (k+1)·10^9 ns and its events
timestamp − n + j + 1, as TigerBeetle.

Expiry: before any event of batch k runs — in any cell, local or cross-cell — every pending
transfer with a timeout whose expires_at (its timestamp + timeout·10^9) ≤ the batch's first
timestamp − 1 expires: its amounts return to the accounts' balances, and a closing one
reopens its account. A pending transfer that expires at a time inside a batch (after its
first timestamp) is still pending for that batch's balance checks, but posting or voiding it
at or after expires_at gets pending_transfer_expired; it expires for good before the next
batch. Where its id and accounts sit (which cells) plays no part in when it expires.

Cells (the sharding, for any thread count): account and transfer ids belong to cell
id % cells. An event whose id, accounts and pending id all fall in one cell is local to it;
a linked chain is local when all its events are local to the same cell. Within a batch,
after the expiry, the local events run first, every cell in batch order (cells share no
state, so they run in parallel), then the other events in batch order, serially — the way a
cell architecture settles inter-cell transfers after each batch. So the cell count changes
the order of a batch's events, and with it the results where a cross-cell event and a later
local one compete for the same balance; it changes nothing else: not the expiry above, not
the check order or result codes, not the timestamps (an event's is its batch position's).
With cells = 1 the order is TigerBeetle's exactly. The cell count is data, not the thread
count, so results are identical for every T.

Outputs: ``results`` (id, timestamp — the transfer's when created, the existing transfer's on
`exists`, else 0 — and status u32 per event) and ``accounts`` (id, debits_pending,
debits_posted, credits_pending, credits_posted u64, flags u16). Unit: transfers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from native import ffi, lib
from workloads import _native, _tables
from workloads._base import Workload
from workloads.errors import InputError
from workloads.ledger import _sharded
from workloads.ledger import _tigerbeetle as tb
from workloads.ledger._ledger import Ledger

BATCH_SIZE_MAX = 8189
NS_PER_S = 10**9

ACCOUNTS = {"id": pa.uint64(), "ledger": pa.uint32(), "code": pa.uint16(), "flags": pa.uint16()}
TRANSFER_FIELDS = {
    "id": pa.uint64(),
    "debit_account_id": pa.uint64(),
    "credit_account_id": pa.uint64(),
    "amount": pa.uint64(),
    "pending_id": pa.uint64(),
    "user_data_64": pa.uint64(),
    "user_data_32": pa.uint32(),
    "timeout": pa.uint32(),
    "ledger": pa.uint32(),
    "code": pa.uint16(),
    "flags": pa.uint16(),
    "timestamp": pa.uint64(),
}
TRANSFERS = {"batch": pa.uint32(), **TRANSFER_FIELDS}
RESULTS = {"id": pa.uint64(), "timestamp": pa.uint64(), "status": pa.uint32()}
BALANCES = {
    "id": pa.uint64(),
    "debits_pending": pa.uint64(),
    "debits_posted": pa.uint64(),
    "credits_pending": pa.uint64(),
    "credits_posted": pa.uint64(),
    "flags": pa.uint16(),
}


def validate_accounts(accounts: pa.Table, workload: str) -> None:
    """What the ledger refuses to open: ids 0 and 2^64-1, repeated ids, both balance-limit
    flags, unknown flag bits, ledger 0, code 0."""
    ids = accounts.column("id").to_numpy()
    for bad, why in ((ids == 0, "id 0"), (ids == tb.U64_MAX, "id 2^64-1")):
        if bad.any():
            raise InputError(
                f"{workload} accounts row {int(np.argmax(bad))} has {why}; "
                "account ids must be 1..2^64-2"
            )
    order = np.argsort(ids, kind="stable")
    in_order = ids[order]
    dup = np.flatnonzero(in_order[1:] == in_order[:-1])
    if dup.size:
        raise InputError(
            f"{workload} accounts row {int(order[dup[0] + 1])} repeats "
            f"account id {int(in_order[dup[0]])}"
        )
    flags = accounts.column("flags").to_numpy()
    for bad, why in (
        ((flags & 6) == 6, "both balance-limit flags (they are mutually exclusive)"),
        ((flags & ~np.uint16(tb.ACCOUNT_FLAGS_KNOWN)) != 0, "an unknown flag bit"),
        (accounts.column("ledger").to_numpy() == 0, "ledger 0"),
        (accounts.column("code").to_numpy() == 0, "code 0"),
    ):
        if bad.any():
            raise InputError(f"{workload} accounts row {int(np.argmax(bad))} has {why}")


def rebatch(transfers: pa.Table, batch_size: int) -> pa.Table:
    """The same events in batches of at most batch_size, never splitting a linked chain
    (a chain longer than the batch gets a batch of its own)."""
    flags = transfers.column("flags").to_numpy()
    linked = (flags & tb.LINKED) != 0
    unit_start = np.concatenate([[True], ~linked[:-1]])  # a chain ends at its first unlinked event
    starts = np.flatnonzero(unit_start)
    if batch_size <= 1:
        batch_of_unit = np.arange(len(starts))
    else:
        batch_of_unit = starts // (batch_size - 1)  # a unit starting in a batch ends in it
    sizes = np.diff(np.concatenate([starts, [len(flags)]]))
    batch = np.repeat(batch_of_unit, sizes).astype(np.uint32)
    index = transfers.column_names.index("batch")
    return transfers.set_column(index, "batch", pa.array(batch, pa.uint32()))


class Post(Workload):
    name = "ledger.post"
    unit = "transfers"
    engines = ("c", "python")
    input_schemas = {"accounts": ACCOUNTS, "transfers": TRANSFERS, "config": _sharded.CONFIG}
    output_schemas = {"results": RESULTS, "accounts": BALANCES}

    def _generate(self, scale: float, seed: int) -> _tables.Tables:
        from workloads.ledger._post_data import generate

        return generate(scale, seed)

    def _validate_more(self, inputs) -> None:
        _sharded.cells_of(inputs["config"], self.name)
        validate_accounts(inputs["accounts"], self.name)
        batch = inputs["transfers"].column("batch").to_numpy()
        _sharded.check_batches(batch, self.name, "transfers")
        for begin, end in _sharded.batch_bounds(batch):
            if end - begin > BATCH_SIZE_MAX:
                raise InputError(
                    f"ledger.post batch {int(batch[begin])} has {end - begin} events; "
                    f"a request holds at most {BATCH_SIZE_MAX}"
                )

    def _units(self, inputs) -> int:
        return inputs["transfers"].num_rows

    def _run_python(self, inputs, threads: int) -> _tables.Tables:
        ledger = Ledger(
            inputs["accounts"].to_pylist(), _sharded.cells_of(inputs["config"], self.name)
        )
        transfers = inputs["transfers"]
        rows = transfers.select(list(TRANSFER_FIELDS)).to_pylist()
        results = []
        for k, (begin, end) in enumerate(
            _sharded.batch_bounds(transfers.column("batch").to_numpy())
        ):
            results += ledger.run_batch(rows[begin:end], (k + 1) * NS_PER_S)
        out = [
            (row["id"], stamp, status) for row, (stamp, status) in zip(rows, results, strict=True)
        ]
        balances = [
            (a.id, a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.flags)
            for a in ledger.accounts.values()
        ]
        return {
            "results": _tables.from_rows(out, RESULTS),
            "accounts": _tables.from_rows(balances, BALANCES),
        }

    def _run_c(self, inputs, threads: int) -> _tables.Tables:
        cells = _sharded.cells_of(inputs["config"], self.name)
        accounts = _tables.columns(inputs["accounts"], ACCOUNTS)
        ledger_c = CLedger(accounts, cells)
        results = post_batches(
            ledger_c, _tables.columns(inputs["transfers"], TRANSFERS), cells, threads
        )
        return {"results": results, "accounts": ledger_c.balances(accounts["id"])}

    def _check(self, inputs, outputs) -> None:
        check_balances(outputs["accounts"])
        results = outputs["results"]
        transfers = inputs["transfers"]
        status = results.column("status").to_numpy()
        assert results.num_rows == transfers.num_rows, "one result per transfer"
        known = np.array(sorted(tb.NAMES), dtype=np.uint32)
        assert np.isin(status, known).all(), "every status is a TigerBeetle code"
        created = status == tb.CREATED
        flags = transfers.column("flags").to_numpy()
        resolving = created & ((flags & (tb.POST_PENDING | tb.VOID_PENDING)) != 0)
        pending_ids = transfers.column("pending_id").to_numpy()[resolving]
        assert len(np.unique(pending_ids)) == len(pending_ids), (
            "a pending transfer resolves at most once"
        )
        bounds = _sharded.batch_bounds(transfers.column("batch").to_numpy())
        linked = (flags & tb.LINKED) != 0
        batch_start = np.zeros(len(flags), dtype=bool)
        batch_start[[b for b, _ in bounds]] = True
        unit = np.cumsum(batch_start | np.concatenate([[True], ~linked[:-1]]))
        in_chain = linked | np.concatenate([[False], linked[:-1]]) & ~batch_start
        chains = unit[in_chain]
        if chains.size:
            made = np.bincount(chains, weights=created[in_chain].astype(np.int64))
            size = np.bincount(chains)
            assert ((made == 0) | (made == size)).all(), "linked chains are all-or-nothing"


def check_balances(accounts: pa.Table) -> None:
    """Money is conserved and no account is beyond its limit flag."""

    def total(name: str) -> int:
        return sum(int(x) for x in accounts.column(name).to_pylist())

    assert total("debits_posted") == total("credits_posted"), "Σ debits posted = Σ credits posted"
    assert total("debits_pending") == total("credits_pending"), (
        "Σ debits pending = Σ credits pending"
    )
    flags = accounts.column("flags").to_numpy()
    dp, dpo, cp, cpo = (
        accounts.column(n).to_numpy().astype(object)
        for n in ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
    )
    debit_limited = (flags & tb.DEBITS_MUST_NOT_EXCEED_CREDITS) != 0
    credit_limited = (flags & tb.CREDITS_MUST_NOT_EXCEED_DEBITS) != 0
    assert all(dp[debit_limited] + dpo[debit_limited] <= cpo[debit_limited]), (
        "no debit-limited account is overdrawn"
    )
    assert all(cp[credit_limited] + cpo[credit_limited] <= dpo[credit_limited]), (
        "no credit-limited account is over-credited"
    )


def post_batches(
    ledger_c: CLedger, cols: dict[str, np.ndarray], cells: int, threads: int
) -> pa.Table:
    """Posts the batches of a transfers table through a C ledger: one C loop per cell group
    over all batches — per batch expiry and the cell-local events of the cells it claims
    (the first out of cells plans the next batch), a barrier, the cross-cell events on group
    0, a barrier; the results go from a scratch table to row order on the last group."""
    n = len(cols["id"])
    _native.check_status(lib.bb_ledger_reserve(ledger_c.c, n), "bb_ledger_reserve")
    transfers_c = ffi.new(
        "bb_ledger_transfers *", {k: _native.pointer(cols[k]) for k in TRANSFER_FIELDS}
    )
    out: dict[str, np.ndarray] = {
        "timestamp": np.empty(n, np.uint64),
        "status": np.empty(n, np.uint32),
    }
    scratch = {k: np.empty_like(v) for k, v in out.items()}
    results_c, scratch_c = (
        ffi.new("bb_ledger_results *", {k: _native.out_pointer(v) for k, v in arrays.items()})
        for arrays in (out, scratch)
    )
    bounds = _sharded.batch_bounds(cols["batch"])
    _sharded.run(
        bounds,
        threads,
        cells,
        {
            "ledger": ledger_c.c,
            "transfers": transfers_c,
            "scratch": scratch_c,
            "results": results_c,
        },
        "bb_ledger",
        timestamps=np.arange(1, len(bounds) + 1, dtype=np.uint64) * np.uint64(NS_PER_S),
    )
    return _tables.table({"id": cols["id"], **out}, RESULTS)


class CLedger:
    """A C ledger over an accounts table (freed with the object)."""

    def __init__(self, accounts: dict[str, np.ndarray], cells: int):
        self._accounts = accounts
        c_accounts = ffi.new(
            "bb_ledger_accounts *", {k: _native.pointer(accounts[k]) for k in ACCOUNTS}
        )
        out = ffi.new("bb_ledger **")
        rc = lib.bb_ledger_new(c_accounts, len(accounts["id"]), cells, out)
        _native.check_status(rc, "bb_ledger_new")
        self.c = ffi.gc(out[0], lib.bb_ledger_free)

    def balances(self, ids: np.ndarray) -> pa.Table:
        n = len(ids)
        out = {k: np.empty(n, dtype=t.to_pandas_dtype()) for k, t in BALANCES.items() if k != "id"}
        c_out = ffi.new("bb_ledger_balances *", {k: _native.out_pointer(v) for k, v in out.items()})
        _native.check_status(lib.bb_ledger_read_balances(self.c, c_out), "bb_ledger_read_balances")
        return _tables.table({"id": ids, **out}, BALANCES)
