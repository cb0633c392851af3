"""ledger.post: a hand-derived script through 59 result codes, random scripts in both
engines at several thread and cell counts, conservation, replays, bad input."""

import json
import pathlib
import subprocess
import sys

import ledger_scripts  # tests/ledger_scripts.py (pytest puts tests/ on the path)
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workloads import _tables, registry
from workloads.errors import InputError
from workloads.ledger import _sharded, post
from workloads.ledger import _tigerbeetle as tb

W = registry.get("ledger.post")
M = tb.U64_MAX


inputs_of = ledger_scripts.inputs_of


@pytest.fixture
def script(data_dir):
    return json.loads((data_dir / "ledger_script.json").read_text())


@pytest.mark.parametrize(
    "engine, threads, cells",
    [("python", 1, 1), ("c", 1, 1), ("c", 2, 1), ("python", 1, 4), ("c", 3, 4)],
)
def test_script_gives_the_hand_derived_codes_and_balances(script, engine, threads, cells):
    inputs = inputs_of(script["accounts"], script["batches"], cells)
    out = W.run(inputs, engine=engine, threads=threads)
    W.check(inputs, out)
    expected = [e["expect"] for batch in script["batches"] for e in batch]
    got = [tb.NAMES[s] for s in out["results"].column("status").to_pylist()]
    for e, g, event in zip(expected, got, [e for b in script["batches"] for e in b], strict=True):
        assert g == e, f"id {event['id']}: {event.get('why', '')}"
    balances = {
        r["id"]: [
            r["debits_pending"],
            r["debits_posted"],
            r["credits_pending"],
            r["credits_posted"],
            r["flags"],
        ]
        for r in out["accounts"].to_pylist()
    }
    for account, values in script["expected_accounts"].items():
        assert balances[int(account)] == values, f"account {account}"
    codes = {s for s in out["results"].column("status").to_pylist() if s != tb.CREATED}
    assert len(codes) >= 30, "the script drives at least 30 distinct result codes"


def test_exists_reports_the_original_timestamp(script):
    inputs = inputs_of(script["accounts"], script["batches"])
    outputs = W.run(inputs, engine="c")
    W.check(inputs, outputs)
    out = outputs["results"].to_pylist()
    first = out[0]
    retry = next(r for r in out[1:] if r["id"] == first["id"] and r["status"] == tb.EXISTS)
    assert retry["timestamp"] == first["timestamp"] > 0


ACCOUNTS = [
    {
        "id": i,
        "ledger": 840 if i == 11 else 156,
        "code": 1,
        "flags": [0, tb.DEBITS_MUST_NOT_EXCEED_CREDITS, tb.CREDITS_MUST_NOT_EXCEED_DEBITS][i % 3]
        | (tb.CLOSED if i == 12 else 0),
    }
    for i in range(1, 13)
]
FLAG_CHOICES = [
    0,
    tb.LINKED,
    tb.PENDING,
    tb.POST_PENDING,
    tb.VOID_PENDING,
    tb.BALANCING_DEBIT,
    tb.BALANCING_CREDIT,
    tb.PENDING | tb.CLOSING_DEBIT,
    tb.PENDING | tb.CLOSING_CREDIT,
    tb.LINKED | tb.PENDING,
    tb.LINKED | tb.POST_PENDING,
    tb.POST_PENDING | tb.VOID_PENDING,
    tb.IMPORTED,
    1024,
]
event = st.fixed_dictionaries(
    {
        "id": st.integers(0, 30) | st.just(M),
        "debit_account_id": st.integers(0, 13) | st.just(M),
        "credit_account_id": st.integers(0, 13) | st.just(M),
        "amount": st.sampled_from([0, 1, 7, 100, 5_000, M - 3, M]),
        "pending_id": st.sampled_from([0, 0, 0, 1, 2, 3, 4, 5, 6, M]),
        "user_data_64": st.sampled_from([0, 1]),
        "user_data_32": st.sampled_from([0, 2]),
        "timeout": st.sampled_from([0, 0, 1, 2]),
        "ledger": st.sampled_from([156, 156, 156, 0, 840]),
        "code": st.sampled_from([1, 1, 2, 0]),
        "flags": st.sampled_from(FLAG_CHOICES),
        "timestamp": st.sampled_from([0] * 9 + [5]),
    }
)
funding = [
    dict(
        id=100 + i,
        debit_account_id=3,
        credit_account_id=i,
        amount=10_000,
        pending_id=0,
        user_data_64=0,
        user_data_32=0,
        timeout=0,
        ledger=156,
        code=1,
        flags=0,
        timestamp=0,
    )
    for i in (1, 4, 7, 10)
]
script_strategy = st.tuples(
    st.lists(st.lists(event, min_size=1, max_size=12), min_size=1, max_size=4),
    st.sampled_from([1, 2, 3]),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script_strategy)
def test_random_scripts_agree_in_both_engines_for_every_thread_count(case):
    batches, cells = case
    inputs = inputs_of(ACCOUNTS, [funding, *batches], cells)
    expected = W.run(inputs, engine="python")
    W.check(inputs, expected)
    for threads in (1, 2, 3):
        with ledger_scripts.every_thread_asked():  # a few hundred rows: one thread otherwise
            got = W.run(inputs, engine="c", threads=threads)
        W.check(inputs, got)
        assert got["results"].equals(expected["results"]), threads
        assert got["accounts"].equals(expected["accounts"]), threads


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script_strategy)
def test_money_is_conserved_after_every_batch(case):
    batches, cells = case
    all_batches = [funding, *batches]
    for k in range(1, len(all_batches) + 1):
        inputs = inputs_of(ACCOUNTS, all_batches[:k], cells)
        out = W.run(inputs, engine="c", threads=2)
        W.check(inputs, out)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script_strategy)
def test_replaying_a_batch_creates_nothing_it_created_before(case):
    batches, cells = case
    once_inputs = inputs_of(ACCOUNTS, [funding, *batches], cells)
    twice_inputs = inputs_of(ACCOUNTS, [funding, *batches, batches[0]], cells)
    once, twice = (W.run(i, engine="c") for i in (once_inputs, twice_inputs))
    W.check(once_inputs, once)
    W.check(twice_inputs, twice)
    n = sum(len(b) for b in [funding, *batches])
    before = (
        once["results"]
        .column("status")
        .to_pylist()[n - sum(len(b) for b in batches) :][: len(batches[0])]
    )
    after = twice["results"].column("status").to_pylist()[n:]
    for was, now in zip(before, after, strict=True):
        if was == tb.CREATED or was in tb.TRANSIENT:
            assert now != tb.CREATED, "a created or failed-for-good id never posts again"
    if tb.CREATED not in after:  # against the same clock: a batch as long whose events cannot act
        inert = [dict(e, id=0) for e in batches[0]]
        idle_inputs = inputs_of(ACCOUNTS, [funding, *batches, inert], cells)
        idle = W.run(idle_inputs, engine="c")
        W.check(idle_inputs, idle)
        assert twice["accounts"].equals(idle["accounts"]), (
            "a replay that creates nothing moves no money"
        )


def test_a_pending_transfer_expires_before_any_event_of_its_batch_in_every_cell():
    """Regression (issue 12): with cells = 3 the pending transfer 6 -> 15 has its accounts in
    cell 0 and its id in cell 1. It expires before batch 2, so account 6 (debit-limited,
    funded with 10) can pay 5 again there. The C engine expired such a pending transfer only
    in the serial cross-cell step, after the cells' local events, and the local 6 -> 15 got
    exceeds_credits."""
    ev = ledger_scripts.event
    accounts = [
        {"id": 6, "ledger": 156, "code": 1, "flags": tb.DEBITS_MUST_NOT_EXCEED_CREDITS},
        {"id": 15, "ledger": 156, "code": 1, "flags": 0},
    ]
    batches = [
        [ev(3, 15, 6, 10), ev(1, 6, 15, 10, tb.PENDING, timeout=1)],
        [ev(9, 15, 6, 0)],
        [ev(12, 6, 15, 5)],
    ]
    inputs = inputs_of(accounts, batches, cells=3)
    for engine, threads in [("python", 1), ("c", 1), ("c", 2), ("c", 4), ("c", 8), ("c", 16)]:
        out = W.run(inputs, engine=engine, threads=threads)
        W.check(inputs, out)
        assert out["results"].column("status").to_pylist() == [tb.CREATED] * 4, (engine, threads)
        balances = {r["id"]: r for r in out["accounts"].to_pylist()}
        assert balances[6]["debits_pending"] == 0 and balances[6]["debits_posted"] == 5


def issue_22_script(cells: int) -> dict[str, pa.Table]:
    """Issue 22: a linked chain with the pending transfer 9 (timeout 1 s) rolls back in batch
    0; id 9 comes back in batch 1 as a pending transfer with timeout 0, which never expires.
    The reference left the rolled-back transfer's expiry entry behind, and it expired the new
    transfer 9 before batch 2."""
    ev = ledger_scripts.event
    accounts = [{"id": i, "ledger": 1, "code": 1, "flags": 0} for i in (1, 2, 3)]
    batches = [
        [ev(9, 1, 2, 100, tb.LINKED | tb.PENDING, timeout=1, ledger=1), ev(66, 3, 3, 1, ledger=1)],
        [ev(9, 1, 2, 301, tb.PENDING, timeout=0, ledger=1), ev(10, 2, 3, 5, ledger=1)],
        [ev(70, 0, 0, 0, tb.POST_PENDING, pending_id=555, ledger=1)],
        [ev(71, 0, 0, 0, tb.POST_PENDING, pending_id=556, ledger=1)],
    ]
    return inputs_of(accounts, batches, cells)


@pytest.mark.parametrize("cells", [1, 2, 4])
@pytest.mark.parametrize("engine, threads", [("python", 1), ("c", 1), ("c", 2), ("c", 4)])
def test_a_rolled_back_pending_transfer_does_not_expire_the_one_that_reuses_its_id(
    cells, engine, threads
):
    inputs = issue_22_script(cells)
    out = W.run(inputs, engine=engine, threads=threads)
    W.check(inputs, out)
    statuses = [tb.NAMES[s] for s in out["results"].column("status").to_pylist()]
    assert statuses == [
        "linked_event_failed",
        "accounts_must_be_different",
        "created",
        "created",
        "pending_transfer_not_found",
        "pending_transfer_not_found",
    ]
    assert out["results"].column("expired_in_batch").to_pylist() == [post.NOT_EXPIRED] * 6
    balances = {r["id"]: r for r in out["accounts"].to_pylist()}
    assert balances[1]["debits_pending"] == 301 and balances[2]["credits_pending"] == 301
    assert balances[2]["credits_posted"] == 0 and balances[2]["debits_posted"] == 5


def _tampered(table: pa.Table, column: str, row: int, value: int) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.column_names.index(column)
    return table.set_column(index, table.field(index), pa.array(values, table.field(index).type))


@pytest.mark.parametrize(
    "changes, broken",
    [
        # the issue-22 fault: the timeout-0 pending transfer 9 expired before batch 2
        ([("results", "expired_in_batch", 2, 2)], "only a pending transfer with timeout > 0"),
        (
            [("accounts", "debits_pending", 0, 0), ("accounts", "credits_pending", 1, 0)],
            "sums over its live pending transfers",
        ),
        ([("results", "amount", 0, 100)], "a failed or rolled-back event leaves no trace"),
        ([("results", "amount", 3, 4)], "a transfer moves its amount"),
        ([("accounts", "flags", 2, tb.CLOSED)], "closed only by a live closing pending transfer"),
    ],
)
def test_check_names_the_broken_invariant(changes, broken):
    """check() reads the invariants from inputs and outputs alone: a right output passes, and
    each tampered one fails naming its invariant."""
    inputs = issue_22_script(1)
    out = W.run(inputs, engine="c")
    W.check(inputs, out)
    bad = dict(out)
    for table, column, row, value in changes:
        bad[table] = _tampered(bad[table], column, row, value)
    with pytest.raises(AssertionError, match=broken):
        W.check(inputs, bad)


def test_check_finds_a_pending_transfer_that_should_have_expired():
    ev = ledger_scripts.event
    accounts = [{"id": i, "ledger": 156, "code": 1, "flags": 0} for i in (1, 2)]
    # created at 1 s with a 1 s timeout: due at 2 s, after batch 1's expiry clock (2 s - 1 ns),
    # so it is still pending in batch 1 and expires before batch 2
    batches = [[ev(5, 1, 2, 10, tb.PENDING, timeout=1)], [ev(6, 1, 2, 1)], [ev(7, 1, 2, 1)]]
    inputs = inputs_of(accounts, batches)
    out = W.run(inputs, engine="c")
    assert out["results"].column("expired_in_batch").to_pylist() == [2] + [post.NOT_EXPIRED] * 2
    W.check(inputs, out)
    not_expired = dict(
        out, results=_tampered(out["results"], "expired_in_batch", 0, post.NOT_EXPIRED)
    )
    with pytest.raises(AssertionError, match="past its deadline expires"):
        W.check(inputs, not_expired)


def test_check_refuses_to_run_where_python_o_strips_its_asserts():
    """check() states its invariants as assert statements; python -O (PYTHONOPTIMIZE) strips
    them, so there check() must refuse to run instead of passing any output."""
    code = f"""if True:
        import sys
        sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})
        import ledger_scripts
        import pyarrow as pa
        from workloads.errors import BankbenchError
        accounts = [{{"id": i, "ledger": 156, "code": 1, "flags": 0}} for i in (1, 2)]
        inputs = ledger_scripts.inputs_of(accounts, [[ledger_scripts.event(5, 1, 2, 10)]])
        out = ledger_scripts.W.run(inputs, engine="c")
        results = out["results"]
        i = results.schema.get_field_index("amount")
        wrong = results.set_column(i, results.field(i), pa.array([11], results.field(i).type))
        try:
            ledger_scripts.W.check(inputs, dict(out, results=wrong))
        except BankbenchError as error:
            print(error)
            sys.exit(0)
        sys.exit("check() passed an output whose transfer moved 11 of its 10")
    """
    done = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "python -O" in done.stdout


@pytest.mark.parametrize("cells", [1, 2, 3, 4, 7])
def test_long_random_scripts_agree_with_the_reference_for_every_cell_and_thread_count(cells):
    """20-40 batches a second apart with 0-5 s timeouts: pending transfers expire between
    batches in every arrangement of cells (tests/ledger_scripts.py; the long run is in
    tests/test_fuzz.py)."""
    for seed in range(8):
        accounts, batches = ledger_scripts.random_script(1000 * cells + seed)
        ledger_scripts.check_against_reference(ledger_scripts.inputs_of(accounts, batches, cells))


def test_many_batches_of_uneven_sizes_share_a_scratch_of_two_batches():
    """The run's results go through a scratch of twice the longest batch, the batches taking
    turns at its halves, and its plan through three batch-sized slots (batch k in k % 3): a
    generated stream in batches of 1, 257, 3 and 64 units in turn (a long batch beside short
    ones on every parity and slot) gives the reference's results, on more threads than this
    host's cores too."""
    inputs = W.generate(scale=0.004, seed=7)
    units = post.rebatch(inputs["transfers"], 1).column("batch").to_numpy()
    sizes = np.resize([1, 257, 3, 64], len(units))  # more groups than needed, cut below
    group_of_unit = np.repeat(np.arange(len(sizes)), sizes)[: units[-1] + 1]
    batch = group_of_unit[units].astype(np.uint32)
    transfers = inputs["transfers"]
    index = transfers.column_names.index("batch")
    inputs = {**inputs, "transfers": transfers.set_column(index, "batch", pa.array(batch))}
    bounds = _sharded.batch_bounds(batch)
    scratch = post.scratch_columns({"status": np.empty(len(batch), np.uint32)}, bounds)
    assert len(bounds) > 10 and len(scratch["status"]) < len(batch) / 4
    plan = _sharded.Batches(bounds, 8, slots=True)
    assert plan.c.plan_rows == max(end - begin for begin, end in bounds)
    assert len(plan._arrays["order"]) == 3 * plan.c.plan_rows < len(batch) / 2
    ledger_scripts.check_against_reference(inputs, threads=(1, 2, 3, 5))


@pytest.mark.parametrize("fails", [False, True])
def test_a_chain_longer_than_the_undo_log_in_the_frame_commits_or_rolls_back_whole(fails):
    """A chain's undo log starts with 32 entries in bb_ledger_execute's frame and moves to
    the heap past them: a chain of 40 transfers (a few entries each) is created whole, or,
    its last event failing, rolled back whole, as the reference does."""
    chain = [
        {**funding[0], "id": 500 + i, "debit_account_id": 3, "credit_account_id": 1,
         "amount": 1, "flags": tb.LINKED}
        for i in range(40)
    ]  # fmt: skip
    chain[-1]["flags"] = 0
    if fails:
        chain[-1]["amount"] = M  # more than account 3 may move: exceeds its credits
    inputs = inputs_of(ACCOUNTS, [funding, chain], 1)
    ledger_scripts.check_against_reference(inputs, threads=(1,))
    statuses = W.run(inputs, engine="c")["results"].column("status").to_pylist()[4:]
    assert (statuses[0] == tb.CREATED) is not fails and len(set(statuses[:-1])) == 1


def test_generated_stream_keeps_every_invariant():
    inputs = W.generate(scale=0.004, seed=5)
    out = W.run(inputs, engine="c", threads=2)
    W.check(inputs, out)
    seen = {tb.NAMES[s] for s in out["results"].column("status").to_pylist()}
    expected = {
        "created",
        "exists",
        "exceeds_credits",
        "linked_event_failed",
        "pending_transfer_already_posted",
    }
    assert expected <= seen, expected - seen


def test_rebatch_never_splits_a_chain():
    transfers = W.generate(scale=0.002, seed=3)["transfers"]
    for size in (1, 2, 128):
        rebatched = post.rebatch(transfers, size)
        flags = rebatched.column("flags").to_numpy()
        batch = rebatched.column("batch").to_numpy()
        linked = (flags & tb.LINKED) != 0
        assert (batch[1:][linked[:-1]] == batch[:-1][linked[:-1]]).all()
        sizes = np.bincount(batch)
        assert sizes.max() <= max(size, 2)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda a: a.set_column(0, "id", pa.array([5, 5], pa.uint64())),
            "row 1 repeats account id 5",
        ),
        (lambda a: a.set_column(0, "id", pa.array([0, 5], pa.uint64())), "row 0 has id 0"),
        (lambda a: a.set_column(3, "flags", pa.array([6, 0], pa.uint16())), "mutually exclusive"),
        (
            lambda a: a.set_column(1, "ledger", pa.array([156, 0], pa.uint32())),
            "row 1 has ledger 0",
        ),
    ],
)
def test_malformed_accounts_are_refused_naming_the_row(change, message):
    accounts = _tables.from_rows([(5, 156, 1, 0), (6, 156, 1, 0)], post.ACCOUNTS)
    inputs = inputs_of([], [[]])
    inputs["accounts"] = change(accounts)
    with pytest.raises(InputError, match=message):
        W.run(inputs, engine="c")


def test_malformed_transfers_are_refused_naming_the_column():
    inputs = inputs_of(ACCOUNTS, [funding])
    transfers = inputs["transfers"]
    with pytest.raises(InputError, match="'transfers.amount' is missing"):
        W.run({**inputs, "transfers": transfers.drop_columns(["amount"])})
    wrong = transfers.set_column(
        transfers.column_names.index("amount"),
        "amount",
        transfers.column("amount").cast(pa.int64()),
    )
    with pytest.raises(InputError, match="'transfers.amount' has type int64"):
        W.run({**inputs, "transfers": wrong})
    big = _tables.from_rows([(0, *[1] * 12)] * (post.BATCH_SIZE_MAX + 1), post.TRANSFERS)
    with pytest.raises(InputError, match="at most 8189"):
        W.run({**inputs, "transfers": big})


@pytest.mark.parametrize("engine", W.engines)
@pytest.mark.parametrize(
    "table, column",
    [
        ("transfers", "id"),
        ("transfers", "amount"),
        ("transfers", "debit_account_id"),
        ("transfers", "batch"),
        ("accounts", "id"),
        ("config", "cells"),
    ],
)
def test_a_null_where_the_spec_allows_none_is_one_error_naming_the_column(engine, table, column):
    """ids, amounts, batch numbers and the cell count may not be null (the spec gives no
    meaning to a missing one): one InputError names the column, on every engine, and
    nothing reaches the core."""
    inputs = inputs_of(ACCOUNTS, [funding, funding[:2]], cells=2)
    target = inputs[table]
    values = target.column(column).to_pylist()
    values[-1] = None
    index = target.column_names.index(column)
    inputs[table] = target.set_column(
        index, target.field(index), pa.array(values, target.field(index).type)
    )
    with pytest.raises(InputError, match=rf"'{table}\.{column}' has 1 null value"):
        W.run(inputs, engine=engine, threads=2)


@pytest.mark.parametrize("engine", W.engines)
def test_exists_in_a_rolled_back_chain_reports_the_rolled_back_transfer(engine):
    """TigerBeetle: `exists` returns the timestamp of the original event, even one created in
    a linked chain and rolled back: the chain {5, 5, 6} gives linked_event_failed, exists
    with the first's timestamp, linked_event_failed. check() accepts it (the long fuzz run found
    check() refusing it: 28 of 20,000 scripts per cell count, engines agreeing)."""
    ev = ledger_scripts.event
    accounts = [{"id": i, "ledger": 156, "code": 1, "flags": 0} for i in (1, 2)]
    batch = [ev(5, 1, 2, 10, tb.LINKED), ev(5, 1, 2, 10, tb.LINKED), ev(6, 1, 2, 1)]
    inputs = inputs_of(accounts, [batch])
    out = W.run(inputs, engine=engine)
    W.check(inputs, out)
    results = out["results"].to_pylist()
    statuses = [tb.NAMES[r["status"]] for r in results]
    assert statuses == ["linked_event_failed", "exists", "linked_event_failed"]
    assert results[1]["timestamp"] == 10**9 - 3 + 1  # the first event's, rolled back
