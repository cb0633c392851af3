"""ledger.eod: both engines, every thread count, the waterfall by hand, loud reconciliation."""

import numpy as np
import pyarrow as pa
import pytest

from workloads import registry
from workloads.errors import BankbenchError, InputError
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


def one_loan(days: int):
    """A 10,000 RMB loan at 18 %, 5 installments, first due the day after the start; the deposit
    holds 200 RMB, and a salary of 1 RMB arrives on the fourth day (2026-01-04)."""
    import pyarrow as pa

    from workloads import _tables
    from workloads.ledger import post
    from workloads.loan import schedule

    start = schedule.FIRST_DUE_BASE_DAY  # 2026-01-01
    gl = eod.GL_SLOTS  # the general-ledger accounts get their slot numbers as ids
    accounts = [(10, 156, 2001, 2), (11, 156, 1301, 4)] + [(i, 156, 9, 0) for i in gl.values()]
    setup = [
        (0, 100, 1, 10, 20_000, 0, 0, 0, 0, 156, 10, 0, 0),
        (0, 101, 11, 4, 1_000_000, 0, 0, 0, 0, 156, 10, 0, 0),
    ]
    loan = [(1, 1_000_000, 180_000, 5, start + 1, 11, 10, 100, 4, 1)]
    gl_row = [
        (
            0,
            *(
                gl[k]
                for k in (
                    "settlement",
                    "interest_receivable",
                    "interest_income",
                    "penalty_receivable",
                    "penalty_income",
                )
            ),
        )
    ]
    return {
        "accounts": _tables.from_rows(accounts, post.ACCOUNTS),
        "setup": _tables.from_rows(setup, post.TRANSFERS),
        "loans": _tables.from_rows(loan, eod.LOANS),
        "gl": _tables.from_rows(gl_row, eod.GL),
        "config": pa.table(
            {
                "cells": pa.array([1], pa.uint32()),
                "start_day": pa.array([start], pa.int32()),
                "days": pa.array([days], pa.uint32()),
            }
        ),
    }


@pytest.mark.parametrize("engine", W.engines)
def test_waterfall_pays_penalty_then_interest_then_principal(engine):
    # day 2 (due): owed 150.00 interest + 1,940.89 principal; 200.00 pays the interest first
    out = W.run(one_loan(2), engine=engine)
    loan = out["loans"].to_pylist()[0]
    assert out["days"].column("collected_fen").to_pylist() == [0, 20_000]
    assert loan["principal_outstanding_fen"] == 1_000_000 - 5_000
    assert loan["days_past_due"] == 1 and loan["bucket"] == 1
    # day 3: 1,890.89 overdue → penalty round_half_up(189089 · 180000 · 3 / 720e6) = 142 fen
    # day 4: another 142, and the 1 RMB salary pays penalty before any interest or principal
    out = W.run(one_loan(4), engine=engine)
    W.check(one_loan(4), out)
    loan = out["loans"].to_pylist()[0]
    assert out["days"].column("penalty_fen").to_pylist() == [0, 0, 142, 142]
    assert out["days"].column("collected_fen").to_pylist() == [0, 20_000, 0, 100]
    assert loan["penalty_unpaid_fen"] == 142 + 142 - 100
    assert loan["principal_outstanding_fen"] == 995_000
    assert loan["days_past_due"] == 3


def with_money(inputs, opening_fen: int, salary_fen: int, salary_day: int, tops_up: int):
    """one_loan's inputs with another opening deposit and salary."""
    setup, loans = inputs["setup"], inputs["loans"]
    amount = setup.column("amount").to_pylist()
    amount[0] = opening_fen
    setup = setup.set_column(
        setup.column_names.index("amount"), "amount", pa.array(amount, pa.uint64())
    )
    for name, value in (
        ("monthly_income_fen", salary_fen),
        ("salary_day", salary_day),
        ("tops_up", tops_up),
    ):
        at = loans.column_names.index(name)
        loans = loans.set_column(at, name, pa.array([value], loans.schema.field(name).type))
    return {**inputs, "setup": setup, "loans": loans}


@pytest.mark.parametrize("engine", W.engines)
def test_a_payment_that_clears_the_oldest_installment_exactly_leaves_the_next_one_owed(engine):
    # 2026-01-02 pays all but 50.00 RMB of installment 1 (150.00 interest + 1,940.89 principal);
    # on 2026-02-02 installment 2 falls due and the salary pays exactly the penalty run up
    # and those 50.00: installment 2 is then the oldest unpaid, whole, 1 day past due that day
    paid_first = 15_000 + 194_089 - 5_000
    probe = W.run(with_money(one_loan(33), paid_first, 0, 2, 0), engine="python")
    penalty = probe["loans"].column("penalty_unpaid_fen")[0].as_py()
    assert penalty > 0
    salary = penalty + 5_000
    inputs = with_money(one_loan(40), paid_first - salary, salary, 2, 1)
    out = W.run(inputs, engine=engine)
    W.check(inputs, out)
    assert out["days"].column("collected_fen").to_pylist()[1] == paid_first
    assert out["days"].column("collected_fen").to_pylist()[32] == salary
    loan = out["loans"].to_pylist()[0]
    assert loan["principal_outstanding_fen"] == 1_000_000 - 194_089
    assert loan["days_past_due"] == 40 - 32 and loan["bucket"] == 1
    assert W.digest(out) == W.digest(W.run(inputs, engine="python"))


def test_an_interest_above_2_to_the_32_fen_accrues_as_the_reference():
    # 10^12 fen at 18 %: 1.5 * 10^10 fen of interest in the first installment, so the day's
    # share takes the C core's 128-bit division, not its 64-bit one
    inputs = one_loan(40)
    principal = 10**12
    setup, loans = inputs["setup"], inputs["loans"]
    amount = setup.column("amount").to_pylist()
    amount[1] = principal
    setup = setup.set_column(
        setup.column_names.index("amount"), "amount", pa.array(amount, pa.uint64())
    )
    at = loans.column_names.index("principal_fen")
    loans = loans.set_column(at, "principal_fen", pa.array([principal], pa.int64()))
    inputs = {**inputs, "setup": setup, "loans": loans}
    expected = W.run(inputs, engine="python")
    assert max(expected["days"].column("accrued_fen").to_pylist()) > 2**32 // 31
    got = W.run(inputs, engine="c")
    for table in expected:
        assert got[table].equals(expected[table]), table


def test_accrual_and_buckets():
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
    for engine in W.engines:  # refused before any engine runs: the same line from each
        with pytest.raises(InputError) as refused:
            W.run({**small, "loans": early}, engine=engine)
        message = str(refused.value)
        assert message == "ledger.eod loans: every first_due_day must come after start_day"


def test_general_ledger_accounts_must_sit_in_their_cell():
    """Found by the fuzzer: cell 0's interest receivable pointing at an account of cell 1 ran
    in C but failed the reference's reconciliation; now both refuse it up front."""
    inputs = dict(W.generate(scale=0.0005, seed=3))
    gl = inputs["gl"]
    moved = gl.column("interest_receivable").to_pylist()
    moved[0] = gl.column("interest_income").to_pylist()[1]  # an account of cell 1
    inputs["gl"] = gl.set_column(
        gl.column_names.index("interest_receivable"),
        "interest_receivable",
        pa.array(moved, pa.uint64()),
    )
    for engine in W.engines:
        with pytest.raises(InputError, match="must be in the row's cell"):
            W.run(inputs, engine=engine)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_missing_account_check_agrees_with_isin(seed):
    """eod's binary-search membership test, against numpy's."""
    rng = np.random.default_rng(seed)
    known = rng.integers(0, 50, rng.integers(0, 30)).astype(np.uint64)
    values = rng.integers(0, 60, 40).astype(np.uint64)
    assert (eod._missing(values, np.sort(known)) == ~np.isin(values, known)).all()


def test_a_loan_naming_a_missing_account_is_refused_with_its_row():
    w = registry.get("ledger.eod")
    inputs = w.generate(scale=0.002, seed=42)
    loans = inputs["loans"]
    ids = loans.column("deposit_account_id").to_numpy().copy()
    ids[3] = np.uint64(2**63 + 12345)  # no such account
    column = loans.column_names.index("deposit_account_id")
    inputs["loans"] = loans.set_column(column, "deposit_account_id", pa.array(ids, pa.uint64()))
    with pytest.raises(InputError, match=r"loans\.deposit_account_id row 3: no such account"):
        w.run(inputs, "c", 1)


@pytest.mark.parametrize("threads", [2, 3, 16])
def test_the_loans_schedules_split_over_any_threads_give_the_references_answer(
    threads, monkeypatch
):
    """bb_eod_new computes the loans' schedules over the pool's threads (and the cells' days
    run over them): forced to split at this small scale, every table equals the reference's,
    16 threads for 8 cells included."""
    from workloads import _native

    monkeypatch.setattr(_native, "threads_worth", lambda units, per, asked, parts_max=None: asked)
    inputs = W.generate(scale=0.002, seed=8)
    expected = W.run(inputs, engine="python")
    got = W.run(inputs, engine="c", threads=threads)
    for table in expected:
        assert got[table].equals(expected[table]), (table, threads)


@pytest.mark.parametrize("cells", [1, 3, 13])
def test_any_cell_count_on_any_threads_gives_the_references_answer(cells, monkeypatch):
    """The core lays the loans out cell by cell (bb_eod.cell_start, loan_of) and each cell
    keeps its own sequence of transfer ids: for cell counts that are not the default 8, and
    threads fewer than, equal to and more than the cells, every table is the reference's."""
    from workloads import _native

    monkeypatch.setattr(_native, "threads_worth", lambda units, per, asked, parts_max=None: asked)
    inputs = eod.generate(scale=0.002, seed=3, cells=cells)
    expected = W.run(inputs, engine="python")
    W.check(inputs, expected)
    for threads in sorted({1, 2, cells, cells + 2}):
        got = W.run(inputs, engine="c", threads=threads)
        for table in expected:
            assert got[table].equals(expected[table]), (table, cells, threads)


def _eod_new(inputs, threads, change=None):
    """bb_eod_new's status on the inputs' loans, one of its columns changed at one row."""
    from native import ffi, lib
    from workloads import _native, _tables
    from workloads.ledger import post

    cells, start, days = W._config(inputs)
    ledger = post.CLedger(_tables.columns(inputs["accounts"], post.ACCOUNTS), cells)
    loans = {k: v.copy() for k, v in _tables.columns(inputs["loans"], eod.LOANS).items()}
    if change:
        column, row, value = change
        loans[column][row] = value
    gl = _tables.columns(inputs["gl"], eod.GL)
    loans_c = ffi.new("bb_eod_loans *", {k: _native.pointer(loans[k]) for k in eod.LOANS})
    gl_c = ffi.new("bb_eod_gl *", {k: _native.pointer(gl[k]) for k in eod.GL if k != "cell"})
    out = ffi.new("bb_eod **")
    n = len(loans["loan_id"])
    status = lib.bb_eod_new(ledger.c, loans_c, n, gl_c, cells, start, days, threads, out)
    if status == lib.BB_OK:
        lib.bb_eod_free(out[0])
    return status


def test_a_bad_loan_in_any_threads_range_is_refused_by_the_core(small):
    """The core's own checks (the workload refuses these before it, in Python), in each of
    bb_eod_new's steps, wherever the loan falls among the threads' ranges."""
    from native import lib

    cells, start, days = W._config(small)
    n = small["loans"].num_rows
    bad = [
        ("first_due_day", start),  # not after the first day: counting
        ("first_due_day", 2_932_897),  # past 9999-12-31: counting
        ("n_periods", 0),  # counting
        ("principal_fen", 0),  # the schedule itself
    ]
    for threads in (1, 2, 3, 16):
        assert _eod_new(small, threads) == lib.BB_OK
        for column, value in bad:
            for row in (0, n // 2 + 1, n - 1):
                assert _eod_new(small, threads, (column, row, value)) == lib.BB_INVALID_ARGUMENT, (
                    column,
                    row,
                    threads,
                )
    assert _eod_new(small, 0) == lib.BB_INVALID_ARGUMENT
