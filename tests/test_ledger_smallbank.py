"""ledger.smallbank: each transaction's semantics by hand, parity, conservation, bad input."""

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads import _tables, registry
from workloads.errors import InputError
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
