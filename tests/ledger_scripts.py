"""Long random TigerBeetle-style scripts for ledger.post, and their check against the
reference (used by tests/test_ledger_post.py at a short size and tests/test_fuzz.py at the
long one).

A script has 20–40 batches one second apart, so pending transfers with timeouts of 0–5 s
expire between batches, and the events after them meet the expiry: posts and voids of live,
resolved, expired and missing pending transfers, closing transfers (an account closes and an
expiry or void reopens it), balance-limited accounts, balancing transfers, linked chains,
retries (exists, exists_with_different_*) and a few malformed events. Account and transfer
ids are random, so with cells > 1 events and pending transfers land in every arrangement of
cells (local, accounts in one cell and id in another, accounts spanning cells).

The moves of issue 22's class of fault, each counted in MOVES (a move a long run never makes
is a generator bug): a linked chain that rolls back with a short-timeout pending transfer in
it; the rolled-back id reused (mostly in the next batch, before the stale deadline) by a
pending transfer with timeout 0 or another timeout; a batch sized so that its expiry clock
(first timestamp - 1) lands 1 ns before, or exactly at, the rolled-back transfer's deadline;
posts and voids of the pending transfer that reused the id."""

from __future__ import annotations

import collections
import contextlib
import random
from unittest import mock

import pyarrow as pa

from workloads import _native, _tables, registry
from workloads.ledger import _sharded, post
from workloads.ledger import _tigerbeetle as tb

W = registry.get("ledger.post")
M = tb.U64_MAX
LEDGER = 156
AMOUNTS = [0, 1, 3, 10, 50, 200, 1_000, 5_000]
NS_PER_S = 10**9
# every move of the generator; random_script adds each script's counts here
MOVE_NAMES = (
    "plain", "pending", "post", "void", "retry", "malformed", "linked_chain",
    "rolled_back_short_pending", "reuse_with_timeout_0", "reuse_with_other_timeout",
    "clock_1ns_before_stale_deadline", "clock_at_stale_deadline", "resolve_reused_id",
)  # fmt: skip
MOVES: collections.Counter[str] = collections.Counter()


def event(id_: int, dr: int, cr: int, amount: int, flags: int = 0, **fields) -> dict:
    row = dict(
        id=id_,
        debit_account_id=dr,
        credit_account_id=cr,
        amount=amount,
        pending_id=0,
        user_data_64=0,
        user_data_32=0,
        timeout=0,
        ledger=LEDGER,
        code=1,
        flags=flags,
        timestamp=0,
    )
    row.update(fields)
    return row


def inputs_of(
    accounts: list[dict], batches: list[list[dict]], cells: int = 1
) -> dict[str, pa.Table]:
    rows = [
        (b, *(e[f] for f in post.TRANSFER_FIELDS)) for b, batch in enumerate(batches) for e in batch
    ]
    return {
        "accounts": _tables.from_rows(
            [tuple(a[f] for f in post.ACCOUNTS) for a in accounts], post.ACCOUNTS
        ),
        "transfers": _tables.from_rows(rows, post.TRANSFERS),
        "config": _sharded.config_table(cells),
    }


class _Script:
    def __init__(self, rng: random.Random):
        self.rng = rng
        ids = rng.sample(range(1, 64), rng.randint(6, 14))
        limits = [0, 0, tb.DEBITS_MUST_NOT_EXCEED_CREDITS, tb.CREDITS_MUST_NOT_EXCEED_DEBITS]
        self.accounts = [
            {"id": i, "ledger": LEDGER, "code": 1, "flags": rng.choice(limits)} for i in ids
        ]
        if rng.random() < 0.3:  # an account of another ledger, and one closed from the start
            self.accounts[0]["ledger"] = 840
        if rng.random() < 0.2:
            self.accounts[-1]["flags"] |= tb.CLOSED
        self.ids = [a["id"] for a in self.accounts]
        self.used: set[int] = set()
        self.pendings: list[dict] = []
        self.sent: list[dict] = []
        self.moves: collections.Counter[str] = collections.Counter()
        self.batch_index = 0  # of the batch being made (the funding batch is 0)
        self.rolled_back: list[dict] = []  # pending transfers of failed chains, ids free
        self.reuse_in: dict[int, list[dict]] = {}  # batch -> rolled-back pendings to reuse
        self.size_of: dict[int, tuple[int, str]] = {}  # batch -> (size, clock move)
        self.reused: list[dict] = []  # pending transfers that reused a rolled-back id
        free = [a["id"] for a in self.accounts if not a["flags"] & 6 and a["ledger"] == LEDGER]
        self.free = [i for i in free if not self._closed(i)]

    def _closed(self, id_: int) -> bool:
        return any(a["flags"] & tb.CLOSED for a in self.accounts if a["id"] == id_)

    def new_id(self) -> int:
        while True:
            id_ = self.rng.randint(1, 5_000)
            if id_ not in self.used:
                self.used.add(id_)
                return id_

    def account(self) -> int:
        return self.rng.choice(self.ids) if self.rng.random() < 0.97 else 99  # 99: no account

    def funding(self) -> list[dict]:
        """Credits for the debit-limited accounts, debits for the credit-limited ones, from an
        unlimited one."""
        free = [a["id"] for a in self.accounts if not a["flags"] & 6]
        source = free[0] if free else self.ids[0]
        batch = []
        for a in self.accounts:
            if a["id"] == source:
                continue
            if a["flags"] & tb.DEBITS_MUST_NOT_EXCEED_CREDITS:
                batch.append(event(self.new_id(), source, a["id"], 2_000))
            elif a["flags"] & tb.CREDITS_MUST_NOT_EXCEED_DEBITS:
                batch.append(event(self.new_id(), a["id"], source, 2_000))
        return batch or [event(self.new_id(), source, self.ids[1], 10)]

    def plain(self, flags: int = 0) -> dict:
        rng = self.rng
        if rng.random() < 0.15:
            flags |= rng.choice([tb.BALANCING_DEBIT, tb.BALANCING_CREDIT])
        return event(self.new_id(), self.account(), self.account(), rng.choice(AMOUNTS), flags)

    def pending(self, flags: int = 0) -> dict:
        rng = self.rng
        flags |= tb.PENDING
        if rng.random() < 0.15:
            flags |= tb.CLOSING_DEBIT
        if rng.random() < 0.15:
            flags |= tb.CLOSING_CREDIT
        e = event(
            self.new_id(),
            self.account(),
            self.account(),
            rng.choice(AMOUNTS),
            flags,
            timeout=rng.randint(0, 5),
        )
        self.pendings.append(e)
        return e

    def resolve(self, flags: int) -> dict:
        rng = self.rng
        p = rng.choice(self.pendings) if self.pendings else None
        if self.reused and rng.random() < 0.3:
            p = rng.choice(self.reused)
        if p is not None and p in self.reused:
            self.moves["resolve_reused_id"] += 1
        pending_id = p["id"] if p and rng.random() < 0.9 else rng.choice([0, self.new_id()])
        full = p["amount"] if p else 0
        if flags & tb.VOID_PENDING:
            amount = rng.choice([0, 0, full, full + 1])
        else:
            amount = rng.choice([M, M, full, max(0, full - 1), full + 1, 0])
        dr = cr = 0
        if p and rng.random() < 0.3:
            dr, cr = p["debit_account_id"], p["credit_account_id"]
        elif rng.random() < 0.05:
            dr = self.account()
        return event(self.new_id(), dr, cr, amount, flags, pending_id=pending_id, ledger=0, code=0)

    def retry(self) -> dict:
        rng = self.rng
        e = dict(rng.choice(self.sent))
        if rng.random() < 0.3:
            field = rng.choice(["amount", "user_data_64", "timeout", "code", "flags"])
            e[field] = {"amount": 7, "user_data_64": 1, "timeout": 2, "code": 2, "flags": 0}[field]
        return e

    def malformed(self) -> dict:
        e = self.plain()
        field, value = self.rng.choice(
            [("id", 0), ("ledger", 0), ("code", 0), ("timestamp", 5), ("flags", 1024),
             ("pending_id", 3), ("timeout", 1), ("ledger", 840)]
        )  # fmt: skip
        e[field] = value
        return e

    def one(self, flags: int = 0) -> dict:
        kind = self.rng.choices(
            ["plain", "pending", "post", "void", "retry", "malformed"], [30, 28, 18, 10, 8, 3]
        )[0]
        if kind == "retry" and not self.sent:
            kind = "malformed"
        self.moves[kind] += 1
        if kind == "plain":
            return self.plain(flags)
        if kind == "pending":
            return self.pending(flags)
        if kind == "post":
            return self.resolve(flags | tb.POST_PENDING)
        if kind == "void":
            return self.resolve(flags | tb.VOID_PENDING)
        if kind == "retry":
            return self.retry()
        return self.malformed()

    def two_free_accounts(self) -> tuple[int, int]:
        if len(self.free) >= 2:
            dr, cr = self.rng.sample(self.free, 2)
            return dr, cr
        return self.account(), self.account()

    def failing_chain(self) -> tuple[list[dict], dict]:
        """A linked chain that rolls back, with a pending transfer of timeout 1-2 s in it."""
        rng = self.rng
        dr, cr = self.two_free_accounts()
        p = event(self.new_id(), dr, cr, rng.choice(AMOUNTS[1:]), tb.LINKED | tb.PENDING)
        p["timeout"] = rng.randint(1, 2)
        chain = [p]
        if rng.random() < 0.5:
            chain.append(self.plain(tb.LINKED))
        rng.shuffle(chain)
        same = rng.choice(self.ids)
        chain.append(event(self.new_id(), same, same, 1))  # accounts_must_be_different
        self.moves["rolled_back_short_pending"] += 1
        return chain, p

    def reuse(self, p: dict) -> dict:
        """A pending transfer with the id of the rolled-back p: timeout 0 or another timeout."""
        rng = self.rng
        dr, cr = self.two_free_accounts()
        if rng.random() < 0.6:
            timeout, move = 0, "reuse_with_timeout_0"
        else:
            timeout = rng.choice([t for t in range(1, 6) if t != p["timeout"]])
            move = "reuse_with_other_timeout"
        self.moves[move] += 1
        e = event(p["id"], dr, cr, rng.choice(AMOUNTS[1:]), tb.PENDING, timeout=timeout)
        self.pendings.append(e)
        self.reused.append(e)
        return e

    def batch(self) -> list[dict]:
        rng = self.rng
        self.batch_index += 1
        k = self.batch_index
        events: list[dict] = [self.reuse(p) for p in self.reuse_in.pop(k, [])]
        if k in self.size_of:  # sized so that its expiry clock lands at a stale deadline
            size, move = self.size_of.pop(k)
            if len(events) < size:
                self.moves[move] += 1
            while len(events) < size:
                events.append(self.one())
            self.sent += events
            return events
        failed: list[dict] = []
        for _ in range(rng.randint(1, 10)):
            if rng.random() < 0.06:
                chain, p = self.failing_chain()
                events += chain
                failed.append(p)
            elif rng.random() < 0.12:  # a linked chain of 2–3 (now and then left open at the end)
                self.moves["linked_chain"] += 1
                size = rng.randint(2, 3)
                chain = [self.one(tb.LINKED) for _ in range(size)]
                if rng.random() < 0.9:
                    chain[-1]["flags"] &= ~tb.LINKED
                events += chain
            else:
                events.append(self.one())
        for p in failed:
            self.plan_reuse(p, k, events)
        self.sent += events
        return events

    def plan_reuse(self, p: dict, k: int, events: list[dict]) -> None:
        """The rolled-back p (batch k) is due at (k+1)·10^9 - n + j + 1 + timeout·10^9: batch
        k + timeout has expiry clock (k + timeout + 1)·10^9 - size, so a size of n - j puts
        it 1 ns before the deadline and n - j - 1 exactly at it. Its id comes back in the
        next batch (before the deadline) or some later one."""
        rng = self.rng
        n, j = len(events), next(i for i, e in enumerate(events) if e is p)
        self.used.discard(p["id"])  # free again once the chain has rolled back
        self.rolled_back.append(p)
        later = k + 1 if rng.random() < 0.7 else k + rng.randint(2, 4)
        self.reuse_in.setdefault(later, []).append(p)
        self.used.add(p["id"])  # now reserved for the reuse
        target = k + p["timeout"]
        size, move = rng.choice(
            [(n - j, "clock_1ns_before_stale_deadline"), (n - j - 1, "clock_at_stale_deadline")]
        )
        if size >= 1 and target not in self.size_of and target > later:
            self.size_of[target] = (size, move)


def random_script(seed: int) -> tuple[list[dict], list[list[dict]]]:
    """(accounts, batches) of a random script: a funding batch, then 19–39 more."""
    script = _Script(random.Random(seed))
    batches = [script.funding()]
    batches += [script.batch() for _ in range(script.rng.randint(19, 39))]
    MOVES.update(script.moves)
    return script.accounts, batches


def missing_moves(moves: collections.Counter[str]) -> list[str]:
    """The moves a run never made."""
    return [m for m in MOVE_NAMES if not moves[m]]


@contextlib.contextmanager
def every_thread_asked():
    """Each parallel call on the threads asked for (at most its parts: a ledger run's cells),
    not the few its work is worth (_native.threads_worth): a script of a few hundred rows
    would otherwise run on one thread at any thread count asked."""

    given: list[int] = []  # what each call got, for the caller to see the threads reached

    def asked(units: int, per_unit: int, threads: int, parts_max: int | None = None) -> int:
        given.append(max(1, min(threads, max(units, 1) if parts_max is None else parts_max)))
        return given[-1]

    with mock.patch.object(_native, "threads_worth", asked):
        yield given


def check_against_reference(inputs: dict[str, pa.Table], threads=(1, 2, 4)) -> None:
    """The C engine at each thread count (every_thread_asked) gives the reference's statuses,
    timestamps, balances and digest; money is conserved and no limit is broken (W.check) in
    both."""
    expected = W.run(inputs, engine="python")
    W.check(inputs, expected)
    digest = W.digest(expected)
    cells = inputs["config"].column("cells")[0].as_py()
    for t in threads:
        with every_thread_asked() as given:
            got = W.run(inputs, engine="c", threads=t)
        assert min(t, cells) in given, (t, cells, given)  # the run got its groups
        W.check(inputs, got)
        for table in ("results", "accounts"):
            if not got[table].equals(expected[table]):
                where = _first_difference(got[table], expected[table])
                raise AssertionError(f"{table} differ at {t} threads: {where}")
        assert W.digest(got) == digest, t


def _first_difference(got: pa.Table, expected: pa.Table) -> str:
    for i, (g, e) in enumerate(zip(got.to_pylist(), expected.to_pylist(), strict=True)):
        if g != e:
            return f"row {i}: C {g}, reference {e}"
    return "same rows, different layout"
