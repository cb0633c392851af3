"""ledger.smallbank: each transaction's semantics by hand, parity, conservation, bad input."""

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from native import ffi, lib
from workloads import _native, _tables, registry
from workloads.errors import InputError
from workloads.ledger import _sharded
from workloads.ledger import smallbank as sb
from workloads.ledger._sharded import config_table

W = registry.get("ledger.smallbank")


def run(customers, txns, engine="c", threads=1, cells=1):
    inputs = {
        "customers": _tables.from_rows(customers, sb.CUSTOMERS),
        "transactions": _tables.from_rows([(0, *t) for t in txns], sb.TRANSACTIONS),
        "config": config_table(cells),
    }
    out = W.run(inputs, engine=engine, threads=threads)
    W.check(inputs, out)
    return out["results"].to_pylist(), out["customers"].to_pylist()


@pytest.mark.parametrize("engine", W.engines)
def test_each_transaction_by_hand(engine):
    customers = [(1000, 5000), (200, 0), (0, 300)]
    txns = [
        (sb.BALANCE, 0, 0, 0),  # 6000
        (sb.DEPOSIT_CHECKING, 1, 0, 130),  # c1: 330
        (sb.TRANSACT_SAVINGS, 2, 0, 400),  # abort: savings 300 < 400
        (sb.TRANSACT_SAVINGS, 2, 0, 300),  # s2: 0
        (sb.SEND_PAYMENT, 1, 2, 500),  # abort: checking 330 < 500
        (sb.SEND_PAYMENT, 0, 2, 500),  # c0: 500, c2: 500
        (sb.WRITE_CHECK, 1, 0, 500),  # 330 + 0 < 500: charge 600, c1: -270
        (sb.WRITE_CHECK, 0, 0, 500),  # 500 + 5000 >= 500: charge 500, c0: 0
        (sb.AMALGAMATE, 0, 2, 0),  # 0 + 5000 → c2: 5500; c0 = s0 = 0
        (sb.BALANCE, 2, 0, 0),  # 5500
        (sb.SEND_PAYMENT, 0, 0, 5),  # a = b: invalid
        (sb.DEPOSIT_CHECKING, 7, 0, 5),  # unknown customer: invalid
        (sb.DEPOSIT_CHECKING, 1, 0, -5),  # negative amount: invalid
        (9, 1, 0, 5),  # unknown type: invalid
    ]
    results, final = run(customers, txns, engine)
    assert [(r["status"], r["value_fen"]) for r in results] == [
        (0, 6000),
        (0, 0),
        (1, 0),
        (0, 0),
        (1, 0),
        (0, 0),
        (0, 600),
        (0, 500),
        (0, 0),
        (0, 5500),
        (3, 0),
        (3, 0),
        (3, 0),
        (3, 0),
    ]
    assert final == [
        {"checking_fen": 0, "savings_fen": 0},
        {"checking_fen": -270, "savings_fen": 0},
        {"checking_fen": 5500, "savings_fen": 0},
    ]


@pytest.mark.parametrize("engine", W.engines)
def test_overflow_changes_nothing(engine):
    top = 2**63 - 1
    results, final = run(
        [(top, 0), (1, 1)],
        [(sb.DEPOSIT_CHECKING, 0, 0, 1), (sb.AMALGAMATE, 1, 0, 0), (sb.BALANCE, 0, 0, 0)],
        engine,
    )
    assert [r["status"] for r in results] == [2, 2, 0]
    assert final[0]["checking_fen"] == top


txn = st.tuples(
    st.integers(0, 6),
    st.integers(0, 7),
    st.integers(0, 7),
    st.sampled_from([0, 1, 130, 500, 2020, -1]),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-1000, 10_000), st.integers(-10, 10_000)), min_size=6, max_size=6
    ),
    st.lists(st.lists(txn, min_size=1, max_size=20), min_size=1, max_size=3),
    st.sampled_from([1, 2, 3]),
)
def test_random_batches_agree_for_every_engine_and_thread_count(customers, batches, cells):
    rows = [(b, *t) for b, batch in enumerate(batches) for t in batch]
    inputs = {
        "customers": _tables.from_rows(customers, sb.CUSTOMERS),
        "transactions": _tables.from_rows(rows, sb.TRANSACTIONS),
        "config": config_table(cells),
    }
    expected = W.run(inputs, engine="python")
    W.check(inputs, expected)
    for threads in (1, 2, 3):
        assert W.digest(W.run(inputs, engine="c", threads=threads)) == W.digest(expected)


def test_generated_mix_is_exact_per_deck():
    inputs = W.generate(scale=0.001, seed=4)
    kinds = inputs["transactions"].column("type").to_numpy()[:1000].reshape(10, 100)
    for deck in kinds:
        assert np.bincount(deck, minlength=6).tolist() == sb.MIX


def test_bad_tables_are_refused():
    inputs = W.generate(scale=0.0001, seed=4)
    t = inputs["transactions"]
    with pytest.raises(InputError, match="'transactions.customer_a' has type int64"):
        W.run(
            {
                **inputs,
                "transactions": t.set_column(
                    2, "customer_a", t.column("customer_a").cast(pa.int64())
                ),
            }
        )
    with pytest.raises(InputError, match="'customers.savings_fen' is missing"):
        W.run({**inputs, "customers": inputs["customers"].drop_columns(["savings_fen"])})


@pytest.mark.parametrize("engine", W.engines)
@pytest.mark.parametrize(
    "table, column",
    [("transactions", "customer_a"), ("transactions", "amount_fen"), ("customers", "checking_fen")],
)
def test_a_null_id_or_amount_is_one_error_naming_the_column(engine, table, column):
    inputs = {
        "customers": _tables.from_rows([(1000, 5000), (200, 0)], sb.CUSTOMERS),
        "transactions": _tables.from_rows(
            [(0, sb.SEND_PAYMENT, 0, 1, 10), (0, sb.BALANCE, 1, 0, 0)], sb.TRANSACTIONS
        ),
        "config": config_table(2),
    }
    target = inputs[table]
    index = target.column_names.index(column)
    values = target.column(column).to_pylist()
    values[0] = None
    inputs[table] = target.set_column(
        index, target.field(index), pa.array(values, target.field(index).type)
    )
    with pytest.raises(InputError, match=rf"'{table}\.{column}' has 1 null value"):
        W.run(inputs, engine=engine, threads=2)


THREAD_COUNTS = (1, 2, 3, 4, 16)


def long_script(seed: int, cells: int, batch_rows: int) -> dict:
    """Generated SmallBank at a small scale, cut into many batches of batch_rows, with a few
    invalid rows (unknown customer, unknown type) so every kind of plan entry occurs."""
    inputs = sb.generate(0.002, seed, hotspot=seed % 2 == 1)
    t = inputs["transactions"]
    rows = t.num_rows
    rng = np.random.default_rng(seed)
    kind = t.column("type").to_numpy().copy()
    a = t.column("customer_a").to_numpy().copy()
    kind[rng.choice(rows, 20, replace=False)] = 7
    a[rng.choice(rows, 20, replace=False)] = inputs["customers"].num_rows + 3
    t = t.set_column(0, "batch", pa.array((np.arange(rows) // batch_rows).astype(np.uint32)))
    t = t.set_column(1, "type", pa.array(kind, pa.uint8()))
    t = t.set_column(2, "customer_a", pa.array(a, pa.uint32()))
    return {**inputs, "transactions": t, "config": config_table(cells)}


@pytest.mark.parametrize("seed, cells, batch_rows", [(0, 8, 97), (1, 3, 250), (2, 16, 61)])
def test_long_scripts_agree_with_the_reference_at_any_thread_count(seed, cells, batch_rows):
    """Many batches (the groups classify every batch's rows before the first one runs, and
    load and read the balances of their own cells): the C engine gives the reference's
    outputs at every thread count, more threads than cells included."""
    inputs = long_script(seed, cells, batch_rows)
    assert inputs["transactions"].num_rows // batch_rows >= 30
    expected = W.run(inputs, engine="python")
    W.check(inputs, expected)
    for threads in THREAD_COUNTS:
        out = W.run(inputs, engine="c", threads=threads)
        assert out["results"].equals(expected["results"]), threads
        assert out["customers"].equals(expected["customers"]), threads
        assert W.digest(out) == W.digest(expected), threads


def expected_plan(inputs: dict, cells: int) -> dict[str, list[int]]:
    """The plan as one thread makes it (bb_batches): each row's cell, each batch's rows
    cross-cell first then cell by cell in batch order, and where each part starts."""
    t = inputs["transactions"]
    kinds, a, b = (t.column(c).to_pylist() for c in ("type", "customer_a", "customer_b"))
    n = inputs["customers"].num_rows
    cell = [sb.cell_of(k, x, y, n, cells) for k, x, y in zip(kinds, a, b, strict=True)]
    order: list[int] = []
    start: list[int] = []
    for begin, end in _sharded.batch_bounds(t.column("batch").to_numpy()):
        rows = range(begin, end)
        order += sorted(rows, key=lambda i: cell[i])  # stable: batch order within a cell
        start += [begin + sum(cell[i] + 2 <= q for i in rows) for q in range(cells + 2)]
    return {"cell": cell, "order": order, "start": start}


def test_the_plan_is_the_same_for_any_thread_count(monkeypatch):
    """Every group classifies its own share of each batch's rows: the plan the batches run
    by is the one a single thread makes, whatever the thread count."""
    made: list[_sharded.Batches] = []

    class Kept(_sharded.Batches):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(_sharded, "Batches", Kept)
    inputs = long_script(3, 5, 113)
    expected = expected_plan(inputs, 5)
    for threads in THREAD_COUNTS:
        W.run(inputs, engine="c", threads=threads)
        plan = {k: made[-1]._arrays[k].tolist() for k in expected}
        assert plan == expected, threads


def run_loaded_by_new(inputs: dict, threads: int) -> tuple[list, list]:
    """The C run without the task's balances: bb_smallbank_new loads them, bb_smallbank_read
    reads them back (the entry points' other use)."""
    cells = _sharded.cells_of(inputs["config"], W.name)
    customers = _tables.columns(inputs["customers"], sb.CUSTOMERS)
    cols = _tables.columns(inputs["transactions"], sb.TRANSACTIONS)
    n = len(customers["checking_fen"])
    out = ffi.new("bb_smallbank **")
    rc = lib.bb_smallbank_new(
        _native.pointer(customers["checking_fen"]),
        _native.pointer(customers["savings_fen"]),
        n,
        cells,
        out,
    )
    assert rc == lib.BB_OK
    bank = ffi.gc(out[0], lib.bb_smallbank_free)
    txns = ffi.new(
        "bb_smallbank_txns *",
        {k: _native.pointer(cols[k]) for k in ("type", "customer_a", "customer_b", "amount_fen")},
    )
    status = np.empty(len(cols["type"]), np.uint8)
    value = np.empty(len(cols["type"]), np.int64)
    results = ffi.new(
        "bb_smallbank_results *",
        {"status": _native.out_pointer(status), "balance_fen": _native.out_pointer(value)},
    )
    fields = {"bank": bank, "txns": txns, "results": results}
    _sharded.run(_sharded.batch_bounds(cols["batch"]), threads, cells, fields, "bb_smallbank")
    final = {k: np.empty(n, np.int64) for k in sb.CUSTOMERS}
    rc = lib.bb_smallbank_read(
        bank, _native.out_pointer(final["checking_fen"]), _native.out_pointer(final["savings_fen"])
    )
    assert rc == lib.BB_OK
    return (
        list(zip(status.tolist(), value.tolist(), strict=True)),
        list(zip(final["checking_fen"].tolist(), final["savings_fen"].tolist(), strict=True)),
    )


@pytest.mark.parametrize("threads", [1, 3])
def test_balances_loaded_by_new_run_as_those_the_groups_load(threads):
    inputs = long_script(4, 3, 200)
    expected = W.run(inputs, engine="c", threads=threads)
    results, final = run_loaded_by_new(inputs, threads)
    assert results == [(r["status"], r["value_fen"]) for r in expected["results"].to_pylist()]
    assert final == [
        (c["checking_fen"], c["savings_fen"]) for c in expected["customers"].to_pylist()
    ]


def test_a_new_bank_without_balances_holds_zeros():
    out = ffi.new("bb_smallbank **")
    assert lib.bb_smallbank_new(ffi.NULL, ffi.NULL, 7, 3, out) == lib.BB_OK
    bank = ffi.gc(out[0], lib.bb_smallbank_free)
    checking, savings = np.full(7, -1, np.int64), np.full(7, -1, np.int64)
    assert (
        lib.bb_smallbank_read(bank, _native.out_pointer(checking), _native.out_pointer(savings))
        == 0
    )
    assert checking.tolist() == savings.tolist() == [0] * 7


@pytest.mark.parametrize("threads", [1, 2, 3, 16])
def test_the_parallel_read_back_equals_the_whole_read_and_refuses_rows_outside(threads):
    n = 1_001
    balances = [np.arange(n, dtype=np.int64) * k + 7 for k in (3, -5)]
    out = ffi.new("bb_smallbank **")
    assert lib.bb_smallbank_new(*map(_native.pointer, balances), n, 3, out) == lib.BB_OK
    bank = ffi.gc(out[0], lib.bb_smallbank_free)
    read = [np.full(n, -1, np.int64) for _ in range(2)]
    task = ffi.new("bb_smallbank_read_task *", [bank, *map(_native.out_pointer, read)])
    _native.parallel_ranges("bb_smallbank_read_rows", task, n, threads)  # ranges of 1001/t
    assert all((r == b).all() for r, b in zip(read, balances, strict=True))
    for begin, end in ((-1, 3), (5, 4), (n - 1, n + 1)):
        assert lib.bb_smallbank_read_rows(task, begin, end) == lib.BB_INVALID_ARGUMENT
    empty = ffi.new("bb_smallbank_read_task *", [bank, ffi.NULL, ffi.NULL])
    assert lib.bb_smallbank_read_rows(empty, 0, 1) == lib.BB_INVALID_ARGUMENT


def test_a_plan_in_batch_sized_slots_is_refused():
    """smallbank classifies every row of the run before its first batch, so its plan needs a
    cell per row: a plan in batch-sized slots (bb_batches.plan_rows, ledger.post's) is
    refused before any transaction, by one group or several (none waits for the others)."""
    n = 6
    balances = [np.full(4, 100, np.int64) for _ in range(2)]
    out = ffi.new("bb_smallbank **")
    assert lib.bb_smallbank_new(*map(_native.pointer, balances), 4, 2, out) == lib.BB_OK
    bank = ffi.gc(out[0], lib.bb_smallbank_free)
    columns = [
        np.full(n, lib.BB_SB_DEPOSIT_CHECKING, np.uint8),
        np.arange(n, dtype=np.uint32) % 4,
        np.zeros(n, np.uint32),
        np.ones(n, np.int64),
    ]
    txns = ffi.new("bb_smallbank_txns *", [_native.pointer(c) for c in columns])
    status = np.full(n, 255, np.uint8)
    read = np.zeros(n, np.int64)
    results = ffi.new(
        "bb_smallbank_results *", [_native.out_pointer(status), _native.out_pointer(read)]
    )
    slots = _sharded.Batches([(0, 2), (2, 4), (4, 6)], 2, slots=True)
    assert slots.c.plan_rows == 2
    assert lib.bb_smallbank_run(bank, txns, slots.c, 0, 1, _native.Barrier(1, 2).c, results) == (
        lib.BB_INVALID_ARGUMENT
    )
    barrier = _native.Barrier(2, 2)
    codes = [lib.bb_smallbank_run(bank, txns, slots.c, g, 2, barrier.c, results) for g in (0, 1)]
    assert codes == [lib.BB_INVALID_ARGUMENT] * 2
    assert (status == 255).all(), "no transaction ran"
    rows = _sharded.Batches([(0, 2), (2, 4), (4, 6)], 2)
    assert lib.bb_smallbank_run(bank, txns, rows.c, 0, 1, _native.Barrier(1, 2).c, results) == (
        lib.BB_OK
    )
    assert (status == lib.BB_SB_COMMIT).all()
