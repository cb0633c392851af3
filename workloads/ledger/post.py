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
batch. Where its id and accounts sit (which cells) plays no part in when it expires. A
pending transfer with timeout 0 never expires.

Rollback: when an event of a linked chain fails, the chain's earlier events are undone
completely — each transfer they created (it is not stored: its id is free again, and a later
event may create a transfer with that id), the balances and account flags they changed, the
pending statuses they set (a post or void in the chain leaves its pending transfer pending),
and the expiry entries of the pending transfers they created (so a rolled-back transfer
never expires, nor expires a later transfer that reuses its id). The failing event's own id
is remembered as failed (id_already_failed) only when its code is transient, as
TigerBeetle does.

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
`exists`, else 0 —, status u32, amount u64 — what a created transfer moved: a balancing
one's amount as limited, a post's amount, a void's the pending amount; 0 for every other
event — and expired_in_batch u32 — for a created pending transfer that expired, the 0-based
position k of the batch it expired before; 2^32-1 otherwise) per event, and ``accounts``
(id, debits_pending, debits_posted, credits_pending, credits_posted u64, flags u16). check()
states the ledger's invariants over these (check_ledger). Unit: transfers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from native import ffi, lib
from workloads import _native, _tables
from workloads._base import BATCH, BATCHING, Benchmark, Workload
from workloads.errors import InputError
from workloads.ledger import _sharded
from workloads.ledger import _tigerbeetle as tb
from workloads.ledger._ledger import Ledger

BATCH_SIZE_MAX = 8189
NS_PER_S = 10**9
# core instructions per unit of the ledger's set-up calls, what _native.threads_worth splits
# them by (callgrind at scale 0.05, 1 thread: bb_ledger_new 878,000 over ledger.eod's 10,048
# accounts; bb_ledger_reserve 3,228,000 over ledger.post's 125,149 transfers (zeroing the
# cells' id maps); bb_ledger_read_balances 301,000 over 10,048 accounts)
INSTRUCTIONS_PER_ACCOUNT_INSERTED = 87
INSTRUCTIONS_PER_TRANSFER_RESERVED = 26
INSTRUCTIONS_PER_BALANCE_READ = 30

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
RESULTS = {
    "id": pa.uint64(),
    "timestamp": pa.uint64(),
    "status": pa.uint32(),
    "amount": pa.uint64(),
    "expired_in_batch": pa.uint32(),
}
NOT_EXPIRED = 0xFFFF_FFFF  # expired_in_batch of a row whose transfer did not expire
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
    title = "ledger postings"
    priced_as = "postings"
    version = 2  # 2: results carry each created transfer's amount and expired_in_batch
    unit = "transfers"
    engines = ("c", "python")
    c_sources = ("src/ledger.c", "src/batches.c", "src/barrier.c", "src/hashmap.c", "src/tables.c")
    benchmarks = (
        Benchmark(BATCH, threaded=True),
        # the batching curve: one C request per 1, 128 or 8189 transfers (TigerBeetle's maximum)
        Benchmark(BATCHING, engines=("c",), batch_sizes=(1, 128, BATCH_SIZE_MAX)),
    )
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

    def batched(self, inputs, batch_size: int) -> _tables.Tables:
        return {**inputs, "transfers": rebatch(inputs["transfers"], batch_size)}

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
        out = []
        for row, (stamp, status) in zip(rows, results, strict=True):
            # a created transfer is the one live transfer of its id
            t = ledger.transfers[row["id"]] if status == tb.CREATED else None
            expired = (
                t.expired_before // NS_PER_S - 1
                if t is not None and t.status == tb.EXPIRED
                else NOT_EXPIRED
            )
            out.append((row["id"], stamp, status, t.amount if t else 0, expired))
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
        ledger_c = CLedger(accounts, cells, threads)
        results = post_batches(
            ledger_c, _tables.columns(inputs["transfers"], TRANSFERS), cells, threads
        )
        return {"results": results, "accounts": ledger_c.balances(threads)}

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
        check_ledger(inputs, outputs)


def check_ledger(inputs, outputs) -> None:
    """The ledger's invariants, read from the inputs and outputs alone (no engine is
    trusted): every created transfer (status created; its amount and expired_in_batch are
    outputs) and every account balance must agree with them.

    - a failed or rolled-back event leaves no trace: amount 0, never expired, no balance;
    - no id is live twice: the ids of created transfers are unique, and `exists` reports the
      timestamp of the transfer it found (created, or made earlier in its own chain, which
      then rolled back: TigerBeetle reports that one too);
    - a post or void resolves a created pending transfer, created before it ran, at most
      once, before its deadline; a void returns the whole amount, a post at most it;
    - no transfer with timeout 0 expires; an expired pending transfer had timeout > 0, was
      not resolved, and expired before the first batch after its creation whose expiry clock
      (first timestamp - 1) is at or past its deadline; every such unresolved one expired;
    - per account, debits_pending/credits_pending are the sums over its live pending
      transfers, debits_posted/credits_posted the sums over its single-phase transfers and
      posts; money is conserved per ledger;
    - replayed in the order the spec runs events (per batch: expiry, cell-local events,
      cross-cell ones), no limit flag is broken after any event, and a closed account is
      moved only by a void; only a closing pending transfer closes, only its void or expiry
      reopens, and no other account flag changes.
    """
    from workloads.ledger._ledger import batch_cells

    cells = _sharded.cells_of(inputs["config"], "ledger.post")
    transfers = inputs["transfers"]
    events = transfers.select(list(TRANSFER_FIELDS)).to_pylist()
    results = outputs["results"].to_pylist()
    bounds = _sharded.batch_bounds(transfers.column("batch").to_numpy())
    batch_of, stamp_of, order_of = [0] * len(events), [0] * len(events), [(0, 0, 0)] * len(events)
    expiry_clock = []  # per batch: the clock its expiry runs at
    for k, (begin, end) in enumerate(bounds):
        n = end - begin
        expiry_clock.append((k + 1) * NS_PER_S - n)
        for j, cell in enumerate(batch_cells(events[begin:end], cells)):
            batch_of[begin + j] = k
            stamp_of[begin + j] = (k + 1) * NS_PER_S - n + j + 1
            order_of[begin + j] = (k, 0 if cell >= 0 else 1, j)

    created: dict[int, int] = {}  # id -> row of the created transfer
    for r, (e, out) in enumerate(zip(events, results, strict=True)):
        if out["status"] != tb.CREATED:
            assert out["amount"] == 0 and out["expired_in_batch"] == NOT_EXPIRED, (
                f"row {r}: a failed or rolled-back event leaves no trace"
            )
            continue
        assert e["id"] not in created, f"row {r}: no id is live twice (id {e['id']})"
        assert out["timestamp"] == stamp_of[r], f"row {r}: a created transfer has its own timestamp"
        created[e["id"]] = r
    for begin, end in bounds:
        for r in range(begin, end):
            if results[r]["status"] != tb.EXISTS:
                continue
            id_, stamp = events[r]["id"], results[r]["timestamp"]
            first = created.get(id_)
            if first is not None and order_of[first] < order_of[r]:
                made = [first]
            else:  # made earlier in its own chain, which then rolled back (TigerBeetle too)
                made = [
                    q
                    for q in range(begin, end)
                    if events[q]["id"] == id_
                    and results[q]["status"] == tb.LINKED_EVENT_FAILED
                    and order_of[q] < order_of[r]
                ]
            assert any(stamp_of[q] == stamp for q in made), (
                f"row {r}: exists reports the timestamp of the transfer it found"
            )

    def deadline(p: int) -> int:
        return stamp_of[p] + events[p]["timeout"] * NS_PER_S

    resolved: dict[int, int] = {}  # pending row -> the row of its post or void
    pending_of: dict[int, int] = {}  # post/void row -> pending row
    for r in created.values():
        e, amount = events[r], results[r]["amount"]
        if not e["flags"] & (tb.POST_PENDING | tb.VOID_PENDING):
            balancing = e["flags"] & (tb.BALANCING_DEBIT | tb.BALANCING_CREDIT)
            assert amount <= e["amount"] if balancing else amount == e["amount"], (
                f"row {r}: a transfer moves its amount (a balancing one at most it)"
            )
            continue
        p = created.get(e["pending_id"])
        assert p is not None and events[p]["flags"] & tb.PENDING, (
            f"row {r}: a post or void resolves a created pending transfer"
        )
        assert order_of[p] < order_of[r], f"row {r}: a pending transfer is resolved after it ran"
        assert p not in resolved, f"row {r}: a pending transfer resolves at most once"
        assert not events[p]["timeout"] or stamp_of[r] < deadline(p), (
            f"row {r}: a pending transfer is resolved before its deadline"
        )
        full = results[p]["amount"]
        if e["flags"] & tb.VOID_PENDING:
            assert amount == full, f"row {r}: a void returns the whole pending amount"
        else:
            asked = full if e["amount"] == tb.U64_MAX else e["amount"]
            assert amount == asked <= full, f"row {r}: a post moves what it asks, at most pending"
        resolved[p] = r
        pending_of[r] = p

    expired_before: dict[int, list[int]] = {}  # batch -> pending rows expired before it
    for p in created.values():
        e, out = events[p], results[p]
        due = None  # the first batch after its creation whose expiry clock reaches the deadline
        if e["flags"] & tb.PENDING and e["timeout"]:
            due = next(
                (k for k in range(batch_of[p] + 1, len(bounds)) if deadline(p) <= expiry_clock[k]),
                None,
            )
        k = out["expired_in_batch"]
        if k == NOT_EXPIRED:
            assert p in resolved or due is None, (
                f"row {p}: a pending transfer past its deadline expires (before batch {due})"
            )
            continue
        assert e["flags"] & tb.PENDING and e["timeout"] > 0, (
            f"row {p}: only a pending transfer with timeout > 0 expires (timeout {e['timeout']})"
        )
        assert p not in resolved, f"row {p}: a resolved pending transfer does not expire"
        assert k == due, (
            f"row {p}: a pending transfer expires before the first batch whose clock is at or "
            f"past its deadline ({due}), not before batch {k}"
        )
        expired_before.setdefault(k, []).append(p)

    accounts = {a["id"]: a for a in inputs["accounts"].to_pylist()}
    balances = {a["id"]: a for a in outputs["accounts"].to_pylist()}
    fields = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
    replay = {a: dict.fromkeys(fields, 0) | {"flags": accounts[a]["flags"]} for a in accounts}

    def sides(r: int) -> tuple[dict, dict]:
        row = events[pending_of.get(r, r)]
        return replay[row["debit_account_id"]], replay[row["credit_account_id"]]

    def expire(p: int) -> None:
        dr, cr = sides(p)
        dr["debits_pending"] -= results[p]["amount"]
        cr["credits_pending"] -= results[p]["amount"]
        if events[p]["flags"] & tb.CLOSING_DEBIT:
            dr["flags"] &= ~tb.CLOSED
        if events[p]["flags"] & tb.CLOSING_CREDIT:
            cr["flags"] &= ~tb.CLOSED

    steps = sorted([(order_of[r], r) for r in created.values()])
    steps += [((k, -1, 0), -1 - k) for k in expired_before]
    for _, r in sorted(steps):
        if r < 0:  # the expiry before batch -1 - r
            for p in expired_before[-1 - r]:
                expire(p)
            continue
        e, amount = events[r], results[r]["amount"]
        dr, cr = sides(r)
        void = bool(e["flags"] & tb.VOID_PENDING)
        assert void or not (dr["flags"] | cr["flags"]) & tb.CLOSED, (
            f"row {r}: only a void moves a closed account"
        )
        if void:
            expire(pending_of[r])
        elif e["flags"] & tb.POST_PENDING:
            dr["debits_pending"] -= results[pending_of[r]]["amount"]
            cr["credits_pending"] -= results[pending_of[r]]["amount"]
            dr["debits_posted"] += amount
            cr["credits_posted"] += amount
        elif e["flags"] & tb.PENDING:
            dr["debits_pending"] += amount
            cr["credits_pending"] += amount
            dr["flags"] |= tb.CLOSED if e["flags"] & tb.CLOSING_DEBIT else 0
            cr["flags"] |= tb.CLOSED if e["flags"] & tb.CLOSING_CREDIT else 0
        else:
            dr["debits_posted"] += amount
            cr["credits_posted"] += amount
        for a in (dr, cr):
            assert not (a["flags"] & tb.DEBITS_MUST_NOT_EXCEED_CREDITS) or (
                a["debits_pending"] + a["debits_posted"] <= a["credits_posted"]
            ), f"row {r}: no debit-limited account is overdrawn after any event"
            assert not (a["flags"] & tb.CREDITS_MUST_NOT_EXCEED_DEBITS) or (
                a["credits_pending"] + a["credits_posted"] <= a["debits_posted"]
            ), f"row {r}: no credit-limited account is over-credited after any event"

    live = [p for p in created.values() if events[p]["flags"] & tb.PENDING and p not in resolved]
    live = [p for p in live if results[p]["expired_in_batch"] == NOT_EXPIRED]
    for a, got in balances.items():
        pending_dr = sum(results[p]["amount"] for p in live if events[p]["debit_account_id"] == a)
        pending_cr = sum(results[p]["amount"] for p in live if events[p]["credit_account_id"] == a)
        assert (got["debits_pending"], got["credits_pending"]) == (pending_dr, pending_cr), (
            f"account {a}: pending balances are the sums over its live pending transfers"
        )
        assert all(got[f] == replay[a][f] for f in fields), (
            f"account {a}: balances are the sums over its created transfers "
            f"(output {[got[f] for f in fields]}, transfers {[replay[a][f] for f in fields]})"
        )
        assert got["flags"] == replay[a]["flags"], (
            f"account {a}: closed only by a live closing pending transfer, flags otherwise as given"
        )
    for ledger in {a["ledger"] for a in accounts.values()}:
        mine = [balances[a] for a in accounts if accounts[a]["ledger"] == ledger]
        for debit, credit in (
            ("debits_posted", "credits_posted"),
            ("debits_pending", "credits_pending"),
        ):
            assert sum(m[debit] for m in mine) == sum(m[credit] for m in mine), (
                f"ledger {ledger}: money is conserved (sum of {debit} = sum of {credit})"
            )


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


def scratch_columns(out: dict[str, np.ndarray], bounds: list[tuple[int, int]]) -> dict:
    """The scratch table of a run of `bounds` (bb_ledger_run): room for the longest batch,
    twice when there are several, not a row per transfer of the run."""
    batch_rows_max = _sharded.longest_batch(bounds)
    rows = batch_rows_max * (2 if len(bounds) > 1 else 1)
    return {k: np.empty(rows, v.dtype) for k, v in out.items() if k != "expired_in_batch"}


def results_pointer(arrays: dict[str, np.ndarray]):
    """A bb_ledger_results over result columns; its rows is what each column holds."""
    fields = {k: _native.out_pointer(v) for k, v in arrays.items()}
    return ffi.new("bb_ledger_results *", {**fields, "rows": len(arrays["status"])})


def post_batches(
    ledger_c: CLedger, cols: dict[str, np.ndarray], cells: int, threads: int
) -> pa.Table:
    """Posts the batches of a transfers table through a C ledger: one C loop per cell group
    over all batches — per batch expiry and the cell-local events of the cells it claims
    (the first out of cells plans the next batch), a barrier, the cross-cell events on group
    0, a barrier; the results go from a scratch table to row order on the last group."""
    n = len(cols["id"])
    ledger_c.reserve(n, threads)
    transfers_c = ffi.new(
        "bb_ledger_transfers *", {k: _native.pointer(cols[k]) for k in TRANSFER_FIELDS}
    )
    out: dict[str, np.ndarray] = {
        "timestamp": np.empty(n, np.uint64),
        "status": np.empty(n, np.uint32),
        "amount": np.empty(n, np.uint64),
        "expired_in_batch": np.full(n, NOT_EXPIRED, np.uint32),
    }
    bounds = _sharded.batch_bounds(cols["batch"])
    results_c = results_pointer(out)
    scratch = scratch_columns(out, bounds)
    scratch_c = results_pointer(scratch)
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
        slots=True,
    )
    return _tables.table({"id": cols["id"], **out}, RESULTS)


class CLedger:
    """A C ledger over an accounts table (freed with the object). Its set-up, reserve and
    balances run over the pool's threads (what their work is worth, _native.threads_worth);
    the answers never depend on how many."""

    def __init__(self, accounts: dict[str, np.ndarray], cells: int, threads: int = 1):
        self._accounts = accounts
        self.cells = cells
        c_accounts = ffi.new(
            "bb_ledger_accounts *", {k: _native.pointer(accounts[k]) for k in ACCOUNTS}
        )
        out = ffi.new("bb_ledger **")
        n = len(accounts["id"])
        threads = _native.threads_worth(n, INSTRUCTIONS_PER_ACCOUNT_INSERTED, threads)
        with _native.parallel_call():
            rc = lib.bb_ledger_new(c_accounts, n, cells, threads, out)
        _native.check_status(rc, "bb_ledger_new")
        self.c = ffi.gc(out[0], lib.bb_ledger_free)

    def reserve(self, transfers: int, threads: int = 1) -> None:
        """Room for `transfers` more transfers, each cell's tables on a thread of the pool."""
        per_cell = transfers // self.cells + 1
        threads = _native.threads_worth(
            self.cells, per_cell * INSTRUCTIONS_PER_TRANSFER_RESERVED, threads
        )
        with _native.parallel_call():
            rc = lib.bb_ledger_reserve(self.c, transfers, threads)
        _native.check_status(rc, "bb_ledger_reserve")

    def balances(self, threads: int = 1) -> pa.Table:
        """Every account's balances, in the order of the accounts it was made with (the core
        writes one row per account: no other ids to size or label them by)."""
        ids = self._accounts["id"]
        n = len(ids)
        out = _tables.output_columns(BALANCES, n, given={"id": None})
        c_out = ffi.new("bb_ledger_balances *", {k: _native.out_pointer(v) for k, v in out.items()})
        threads = _native.threads_worth(n, INSTRUCTIONS_PER_BALANCE_READ, threads)
        with _native.parallel_call():
            rc = lib.bb_ledger_read_balances(self.c, c_out, threads)
        _native.check_status(rc, "bb_ledger_read_balances")
        return _tables.table({"id": ids, **out}, BALANCES)
