"""Fuzzing every C entry point through the cffi API, with Hypothesis.

Each case takes a small generated input, cuts it to 0–16 rows (empty inputs included), and
overwrites random cells of any table — the data and the configuration tables (scorecards,
rules, parameters) — with extreme values of the column's type (0, ±1, the type's minimum and
maximum, random bits) or nulls. The C engine must never crash, and must agree with the Python
reference: the same digest, or both refusing the input with a BankbenchError.

Short mode (the test suite): a few dozen cases per entry point. Long mode: ``tox -e fuzz``
(20,000 cases per entry point, one test per CPU with pytest-xdist), or
``BANKBENCH_FUZZ_CASES=N pytest -n auto tests/test_fuzz.py``.
"""

from __future__ import annotations

import collections
import os

import ledger_scripts  # tests/ledger_scripts.py (pytest puts tests/ on the path)
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from native import ffi, lib
from workloads import registry
from workloads._rng import Xoshiro256pp
from workloads.errors import BankbenchError

CASES = int(os.environ.get("BANKBENCH_FUZZ_CASES", "40"))
FUZZ = settings(
    max_examples=CASES,
    deadline=None,
    database=None,
    derandomize=CASES <= 1000,  # the short mode is the same every run; the long one explores
    suppress_health_check=list(HealthCheck),
)
RAN: collections.Counter[str] = collections.Counter()  # cases run per test, reported at the end
BASE_SEEDS = (3, 11)
BASE_SCALE = 0.0005
MAX_ROWS = 16
DATA_TABLE = {"ledger.eod": "loans"}  # where it is not the largest table


def _bases(name: str) -> list[dict[str, pa.Table]]:
    w = registry.get(name)
    return [w.generate(scale=BASE_SCALE, seed=s) for s in BASE_SEEDS]


BASES: dict[str, list[dict[str, pa.Table]]] = {}


def bases(name: str) -> list[dict[str, pa.Table]]:
    if name not in BASES:
        BASES[name] = _bases(name)
    return BASES[name]


def extremes(dtype: np.dtype) -> list[int]:
    info = np.iinfo(dtype)
    return sorted(
        {0, 1, info.max, info.min, info.max - 1, info.min + 1} | ({-1} if info.min else set())
    )


@st.composite
def mutated(draw, name: str) -> dict[str, pa.Table]:
    """A generated input for workload ``name``, cut short and with hostile cells."""
    inputs = dict(draw(st.sampled_from(bases(name))))
    table_names = sorted(inputs)
    # cut one table (usually the data) to a few rows, possibly none
    data = DATA_TABLE.get(name) or max(table_names, key=lambda t: inputs[t].num_rows)
    cut = draw(st.sampled_from([data, data, data, *table_names]))
    table = inputs[cut]
    start = draw(st.integers(0, max(0, table.num_rows - 1)))
    inputs[cut] = table.slice(start, draw(st.integers(0, MAX_ROWS)))
    for _ in range(draw(st.integers(0, 4))):
        target = draw(st.sampled_from(table_names))
        inputs[target] = _mutate_cell(draw, inputs[target])
    return inputs


def _mutate_cell(draw, table: pa.Table) -> pa.Table:
    if table.num_rows == 0 or table.num_columns == 0:
        return table
    index = draw(st.integers(0, table.num_columns - 1))
    column = table.column(index)
    if not (pa.types.is_integer(column.type) or pa.types.is_boolean(column.type)):
        return table
    row = draw(st.integers(0, table.num_rows - 1))
    values = column.to_pylist()
    if draw(st.integers(0, 9)) == 0:  # a null now and then
        values[row] = None
    elif pa.types.is_boolean(column.type):
        values[row] = draw(st.booleans())
    else:
        dtype = np.dtype(column.type.to_pandas_dtype())
        info = np.iinfo(dtype)
        values[row] = draw(
            st.sampled_from(extremes(dtype)) | st.integers(int(info.min), int(info.max))
        )
    return table.set_column(index, table.field(index), pa.array(values, type=column.type))


def outcome(name: str, inputs: dict[str, pa.Table], engine: str, threads: int):
    w = registry.get(name)
    try:
        outputs = w.run(inputs, engine=engine, threads=threads)
    except BankbenchError:
        return ("refused",)
    if name == "ledger.post":  # the ledger's invariants hold on every output it gives
        w.check(inputs, outputs)
    return ("digest", w.digest(outputs))


@pytest.fixture(autouse=True)
def count_cases(request):
    """Every fuzz test runs all CASES cases (Hypothesis stops early only on a failure or an
    exhausted search space); the count is printed, so a long run shows what it covered."""
    before = sum(RAN.values())
    yield
    ran = sum(RAN.values()) - before
    print(f"\nfuzz: {request.node.name}: {ran} cases")
    assert ran >= CASES, f"only {ran} of {CASES} cases ran"


def check_parity(name: str, inputs: dict[str, pa.Table], threads: int) -> None:
    RAN["workload"] += 1
    c = outcome(name, inputs, "c", threads)
    reference = outcome(name, inputs, "python", 1)
    assert c == reference, (name, threads, c, reference)


WORKLOADS = [
    # (workload, C entry points it drives)
    ("loan.score", "bb_scorecard_new, bb_score, bb_scorecard_free"),
    ("loan.limit", "bb_limit_check_params, bb_limit"),
    ("loan.schedule", "bb_schedule_offsets, bb_schedule, bb_annuity_payment"),
    ("loan.fraud", "bb_fraud_check_rules, bb_fraud_run_groups (bb_fraud_evaluate, decisions)"),
    ("loan.decide", "bb_decide_rows"),
    ("ledger.post", "bb_ledger_new, _reserve, _run (its plan, expiry, _execute), _read_balances"),
    ("ledger.smallbank", "bb_smallbank_new, _run (its plan and transactions), _read"),
    ("ledger.eod", "bb_eod_new, bb_eod_run, bb_eod_read_loans"),
]


@pytest.mark.parametrize("name", [n for n, _ in WORKLOADS])
def test_fuzz_workload_entry_points(name):
    @FUZZ
    @given(inputs=mutated(name), threads=st.sampled_from([1, 2, 3]))
    def case(inputs, threads):
        check_parity(name, inputs, threads)

    case()


LEDGER_SCRIPT_CELLS = (1, 2, 4, 7)


@pytest.mark.parametrize("cells", LEDGER_SCRIPT_CELLS)
def test_fuzz_ledger_post_long_scripts(cells):
    """CASES long random TigerBeetle-style scripts per cell count (tests/ledger_scripts.py:
    20-40 batches, 0-5 s timeouts, closing and limit flags, posts and voids of expired pending
    transfers, and issue 22's moves: rolled-back chains with short-timeout pending transfers,
    their ids reused, batch clocks at the stale deadlines), script k with seed k: check()
    holds on the reference's outputs and on the C engine's at 1, 2 and 4 threads (as many
    as the cells allow: ledger_scripts.every_thread_asked), and the C
    engine gives the reference's results, balances and digest. Prints the scripts run,
    differences, check() failures and the count of every generator move; a move never made
    fails the test."""
    W = ledger_scripts.W
    differences, check_failures, first = 0, 0, None
    moves_before = collections.Counter(ledger_scripts.MOVES)
    for seed in range(CASES):
        accounts, batches = ledger_scripts.random_script(seed)
        inputs = ledger_scripts.inputs_of(accounts, batches, cells)
        expected = W.run(inputs, engine="python")
        runs = [("reference", expected)]
        for t in (1, 2, 4):  # on the threads asked, at most the cells (not what rows are worth)
            with ledger_scripts.every_thread_asked():
                runs.append((f"C {t} threads", W.run(inputs, engine="c", threads=t)))
        for engine, outputs in runs:
            try:
                W.check(inputs, outputs)
            except AssertionError as error:
                check_failures += 1
                first = first or f"seed {seed} {engine}: check() failed: {error}"
            if not all(outputs[t].equals(expected[t]) for t in ("results", "accounts")):
                differences += 1
                first = first or f"seed {seed} {engine}: differs from the reference"
        RAN["ledger_script"] += 1
    moves = ledger_scripts.MOVES - moves_before
    print(
        f"\nledger scripts, cells {cells}: {CASES} scripts, {differences} differences, "
        f"{check_failures} check() failures; moves {dict(sorted(moves.items()))}"
    )
    assert differences == 0 and check_failures == 0, first
    assert not ledger_scripts.missing_moves(moves), (
        f"the generator never made {ledger_scripts.missing_moves(moves)}"
    )


def test_fuzz_decide_online_entry_points():
    """bb_decide_one and bb_decide_many: a session over a hostile input, in random
    micro-batches, against the batch reference."""
    w = registry.get("loan.decide")

    @FUZZ
    @given(inputs=mutated("loan.decide"), data=st.data())
    def case(inputs, data):
        RAN["online"] += 1
        expected = outcome("loan.decide", inputs, "python", 1)
        try:
            session = w.online(inputs, "c")
            row = 0
            while row < session.size:
                step = data.draw(st.integers(1, 5))
                if step == 1:
                    session.decide(row)
                else:
                    session.decide_many(row, min(row + step, session.size))
                row += step
            got = ("digest", w.digest(session.outputs()))
        except BankbenchError:
            got = ("refused",)
        assert got == expected

    case()


def test_fuzz_rng_entry_points():
    """bb_rng_seed, bb_rng_next, bb_rng_fill_bounded against the Python generator, any seed
    and bound; bb_rng_fill_histogram with hostile buckets never writes outside [lo, hi]."""

    @FUZZ
    @given(
        seed=st.integers(0, 2**64 - 1),
        bound=st.sampled_from([0, 1, 2, 3, 2**32, 2**63, 2**64 - 1]) | st.integers(0, 2**64 - 1),
        n=st.integers(0, 40),
        buckets=st.lists(
            st.tuples(
                st.integers(0, 2**64 - 1) | st.just(0),
                st.integers(-(2**63), 2**63 - 1),
                st.integers(-(2**63), 2**63 - 1),
            ),
            min_size=0,
            max_size=5,
        ),
    )
    def case(seed, bound, n, buckets):
        RAN["rng"] += 1
        rng = ffi.new("bb_rng *")
        lib.bb_rng_seed(rng, seed)
        reference = Xoshiro256pp(seed)
        assert [lib.bb_rng_next(rng) for _ in range(3)] == [reference.next_u64() for _ in range(3)]
        out = np.zeros(n, dtype=np.uint64)
        rc = lib.bb_rng_fill_bounded(rng, bound, ffi.from_buffer("uint64_t[]", out), n)
        if bound == 0:
            assert rc != 0
        else:
            assert rc == 0
            assert out.tolist() == [reference.bounded(bound) for _ in range(n)]
        weights = np.array([b[0] for b in buckets], dtype=np.uint64)
        lo = np.array([min(b[1], b[2]) if b[0] % 2 else b[1] for b in buckets], dtype=np.int64)
        hi = np.array([max(b[1], b[2]) if b[0] % 2 else b[2] for b in buckets], dtype=np.int64)
        values = np.full(n, 7, dtype=np.int64)
        rc = lib.bb_rng_fill_histogram(
            rng,
            ffi.from_buffer("uint64_t[]", weights),
            ffi.from_buffer("int64_t[]", lo),
            ffi.from_buffer("int64_t[]", hi),
            len(buckets),
            ffi.from_buffer("int64_t[]", values),
            n,
        )
        if rc == 0:
            chosen = [(int(l_), int(h)) for w_, l_, h in zip(weights, lo, hi, strict=True) if w_]
            assert all(any(l_ <= v <= h for l_, h in chosen) for v in values.tolist())
        else:
            assert values.tolist() == [7] * n  # refused before writing anything

    case()


def test_fuzz_probe_entry_points():
    """bb_probe_triad, bb_probe_random_update, bb_probe_noop with hostile ranges and sizes."""

    @FUZZ
    @given(
        words=st.integers(0, 64),
        begin=st.integers(-5, 70),
        end=st.integers(-5, 70),
        log2=st.integers(-3, 12),
        updates=st.integers(-10, 1000),
        seed=st.integers(0, 2**64 - 1),
    )
    def case(words, begin, end, log2, updates, seed):
        RAN["probe"] += 1
        a, b, c = (np.arange(words, dtype=np.uint64) for _ in range(3))
        pa_, pb, pc = (ffi.from_buffer("uint64_t[]", x) for x in (a, b, c))
        rc = lib.bb_probe_triad(pa_, pb, pc, 3, begin, min(end, words))
        if 0 <= begin <= min(end, words):
            assert rc == 0
            assert (a[begin : min(end, words)] == b[begin : min(end, words)] * np.uint64(4)).all()
        size = 1 << max(log2, 0)
        table = np.zeros(size, dtype=np.uint64)
        rc = lib.bb_probe_random_update(ffi.from_buffer("uint64_t[]", table), log2, updates, seed)
        assert (rc == 0) == (1 <= log2 <= 40 and updates >= 0)
        assert lib.bb_probe_noop() == 0

    case()
