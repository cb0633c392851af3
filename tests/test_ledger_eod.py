"""ledger.eod: both engines, every thread count, the waterfall by hand, loud reconciliation."""

import numpy as np
import pytest

from workloads import registry
from workloads.errors import BankbenchError
from workloads.ledger import eod

W = registry.get("ledger.eod")


@pytest.fixture(scope="module")
def small():
    return W.generate(scale=0.002, seed=8)


@pytest.mark.parametrize("seed", [1, 8])
def test_engines_and_thread_counts_agree(seed):
    inputs = W.generate(scale=0.002, seed=seed)
    expected = W.run(inputs, engine="python")
    W.check(inputs, expected)
    for threads in (1, 2, 3):
        got = W.run(inputs, engine="c", threads=threads)
        W.check(inputs, got)
        for table in expected:
            assert got[table].equals(expected[table]), (table, threads)


def test_bad_payers_fall_behind_and_good_ones_do_not(small):
    out = W.run(small, engine="c")
    state = out["loans"]
    tops_up = small["loans"].column("tops_up").to_numpy().astype(bool)
    dpd = state.column("days_past_due").to_numpy()
    assert (dpd[~tops_up] > 0).mean() > 0.5, "borrowers who stop paying in go overdue"
    penalty = state.column("penalty_unpaid_fen").to_numpy()
    assert penalty[~tops_up].sum() > 0
    days = out["days"]
    assert int(days.column("collected_fen").to_numpy().sum()) > 0


def test_waterfall_pays_penalty_then_interest_then_principal():
    from workloads.ledger._eod_reference import accrued_by, bucket_of

    assert [accrued_by(100, 0, 3, d) for d in range(5)] == [0, 33, 66, 100, 100]
    assert [bucket_of(d) for d in (0, 1, 30, 31, 60, 61, 90, 91)] == [0, 1, 1, 2, 2, 3, 3, 4]


@pytest.mark.parametrize("engine", W.engines)
def test_a_broken_sub_ledger_fails_the_run_loudly(small, engine):
    # a loan account funded with one fen too little: its balance no longer equals the loan
    import pyarrow as pa

    setup = small["setup"]
    amounts = setup.column("amount").to_numpy().copy()
    loans = small["loans"]
    drawdown = int(
        np.flatnonzero(
            setup.column("debit_account_id").to_numpy()
            == loans.column("loan_account_id")[0].as_py()
        )[0]
    )
    amounts[drawdown] -= 1
    broken = setup.set_column(
        setup.column_names.index("amount"), "amount", pa.array(amounts, pa.uint64())
    )
    with pytest.raises(BankbenchError, match="differs|reconciliation"):
        W.run({**small, "setup": broken}, engine=engine)


def test_config_errors_name_the_problem(small):
    import pyarrow as pa

    loans = small["loans"]
    early = loans.set_column(
        loans.column_names.index("first_due_day"),
        "first_due_day",
        pa.array(np.zeros(loans.num_rows, np.int32)),
    )
    with pytest.raises(BankbenchError, match="first_due_day"):
        W.run({**small, "loans": early})
    assert eod.DAYS == 90
