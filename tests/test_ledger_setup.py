"""The C ledger's set-up over the pool (bb_ledger_new, bb_ledger_reserve,
bb_ledger_read_balances): any thread count builds a ledger that gives the same answers.

bb_ledger_new splits the account table's slots between the parts; an account whose probe
would run past its part's last slot is placed in a serial pass after. These tests build the
accounts that take that pass (their home slots computed here, as the core hashes them), so
it is reached, not hoped for."""

import numpy as np
import pytest

from native import ffi, lib
from workloads import _native, _tables, registry
from workloads.ledger import post

MASK64 = (1 << 64) - 1
SLOTS = 1024  # the account table of fewer than 511 accounts


def mix64(z: int) -> int:
    """bb_mix64 (internal.h): the hash that gives an account id its home slot."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def ids_homed_at(slot: int, count: int, start: int = 1) -> list[int]:
    """The first `count` ids from `start` on whose home slot in a table of SLOTS is `slot`."""
    found, candidate = [], start
    while len(found) < count:
        if mix64(candidate) & (SLOTS - 1) == slot:
            found.append(candidate)
        candidate += 1
    return found


def accounts_of(ids: list[int]) -> dict[str, np.ndarray]:
    n = len(ids)
    return {
        "id": np.array(ids, np.uint64),
        "ledger": np.ones(n, np.uint32),
        "code": np.ones(n, np.uint16),
        "flags": np.zeros(n, np.uint16),
    }


def new_status(ids: list[int], threads: int) -> int:
    accounts = accounts_of(ids)
    c_accounts = ffi.new(
        "bb_ledger_accounts *", {k: _native.pointer(accounts[k]) for k in post.ACCOUNTS}
    )
    out = ffi.new("bb_ledger **")
    status = lib.bb_ledger_new(c_accounts, len(ids), 2, threads, out)
    if status == lib.BB_OK:
        lib.bb_ledger_free(out[0])
    return status


@pytest.fixture
def every_thread_asked(monkeypatch):
    """Every parallel call on every thread asked for, however little its work."""
    monkeypatch.setattr(_native, "threads_worth", lambda units, per, asked, parts_max=None: asked)


def post_a_ring(ids: list[int], threads: int) -> tuple[np.ndarray, np.ndarray]:
    """A ledger of these accounts built on `threads`, one transfer from each account to the
    next (amount: its position + 1): every account is looked up by id twice. The
    transfers' statuses and the balances read back on `threads`."""
    ledger = post.CLedger(accounts_of(ids), 1, threads)
    n = len(ids)
    ledger.reserve(n, threads)
    cols = {k: np.zeros(n, t.to_pandas_dtype()) for k, t in post.TRANSFERS.items()}
    cols.update(
        id=np.arange(10**9, 10**9 + n, dtype=np.uint64),
        debit_account_id=np.array(ids, np.uint64),
        credit_account_id=np.array(ids[1:] + ids[:1], np.uint64),
        amount=np.arange(1, n + 1, dtype=np.uint64),
        ledger=np.ones(n, np.uint32),
        code=np.ones(n, np.uint16),
    )
    transfers = ffi.new(
        "bb_ledger_transfers *",
        {k: _native.pointer(v) for k, v in cols.items() if k != "batch"},
    )
    results = {"timestamp": np.zeros(n, np.uint64), "status": np.zeros(n, np.uint32)}
    rows = np.arange(n, dtype=np.int64)
    rc = lib.bb_ledger_execute(
        ledger.c, transfers, 0, n, 10**9, _native.pointer(rows), n, post.results_pointer(results)
    )
    _native.check_status(rc, "execute")
    balances = _tables.columns(ledger.balances(threads), post.BALANCES)
    assert list(balances["id"]) == ids  # one row an account, in the order it was made with
    return results["status"], np.stack([balances["debits_posted"], balances["credits_posted"]])


def crowded_ids() -> list[int]:
    """Accounts that crowd the last slots of every part's range, for 1, 2, 3, 4, 7 and 16
    parts of SLOTS (and the table's last slot, whose probe wraps to slot 0), with others
    spread between: over a part's end, they are placed by the serial pass."""
    ends = sorted(
        {SLOTS // parts * (g + 1) - 1 for parts in (2, 3, 4, 7, 16) for g in range(parts)}
        | {SLOTS - 1}
    )
    ids: list[int] = []
    for end in ends:
        ids += ids_homed_at(end, 3, start=len(ids) * 7919 + 1)
    spread = [i for i in range(1, 100_000) if i not in set(ids)][: 400 - len(ids)]
    return ids + spread


@pytest.mark.parametrize("threads", [1, 2, 3, 4, 7, 16, 64])
def test_accounts_placed_over_any_threads_are_found_and_balanced(threads, every_thread_asked):
    """Every account, those placed by the serial pass included, is found by id (each
    transfer is created) and gets the balances a one-thread ledger gives."""
    ids = crowded_ids()
    expected_status, expected = post_a_ring(ids, 1)
    assert (expected_status == lib.BB_TB_CREATED).all()
    status, balances = post_a_ring(ids, threads)
    assert (status == expected_status).all()
    assert (balances == expected).all()
    # the ring moves amount i + 1 out of account i and into account i + 1
    n = len(ids)
    assert list(balances[0]) == list(range(1, n + 1))
    assert list(balances[1]) == [n, *range(1, n)]


@pytest.mark.parametrize("threads", [1, 2, 3, 16])
def test_a_duplicate_or_reserved_id_is_refused_wherever_it_falls(threads):
    """A duplicate id is refused whether its part places it or the serial pass does (two
    copies of an id homed at a part's last slot, behind two others there); id 0 and 2^64-1
    are refused on any thread count."""
    crowded = ids_homed_at(SLOTS // 2 - 1, 3)
    assert new_status([*crowded, 5], threads) == lib.BB_OK
    assert new_status([*crowded, crowded[2]], threads) == lib.BB_INVALID_ARGUMENT
    assert new_status([*crowded, 5, 6, 5], threads) == lib.BB_INVALID_ARGUMENT
    assert new_status([5, 0, 6], threads) == lib.BB_INVALID_ARGUMENT
    assert new_status([5, MASK64, 6], threads) == lib.BB_INVALID_ARGUMENT


def test_the_set_up_refuses_a_thread_count_outside_the_pool():
    for threads in (0, -1, lib.BB_POOL_THREADS_MAX + 1):
        assert new_status([1, 2], threads) == lib.BB_INVALID_ARGUMENT
    ledger = post.CLedger(accounts_of([1, 2]), 2)
    assert lib.bb_ledger_reserve(ledger.c, 10, 0) == lib.BB_INVALID_ARGUMENT
    assert lib.bb_ledger_reserve(ledger.c, -1, 1) == lib.BB_INVALID_ARGUMENT


@pytest.mark.parametrize("name", ["ledger.post", "ledger.eod"])
@pytest.mark.parametrize("seed", [3, 11])
def test_the_ledger_set_up_split_over_any_threads_gives_the_references_answer(
    name, seed, every_thread_asked
):
    """Forced to split at a small scale (every call on every thread asked for, 16 for 8
    cells included), the set-up, the run and the balances read back give the reference's
    tables."""
    workload = registry.get(name)
    inputs = workload.generate(scale=0.002, seed=seed)
    expected = workload.run(inputs, engine="python")
    for threads in (2, 3, 16):
        got = workload.run(inputs, engine="c", threads=threads)
        for table in expected:
            assert got[table].equals(expected[table]), (name, table, threads)
