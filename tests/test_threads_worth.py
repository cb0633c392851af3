"""The one rule of how many threads a parallel C call is worth (workloads/_native.py:
threads_worth), that it never changes an answer, and how a run reports fewer threads."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bench import samples, scaling, summary
from bench.records import Sample
from workloads import _native, registry
from workloads.ledger import _sharded, post
from workloads.loan import fraud

PART = _native.PART_INSTRUCTIONS_MIN
C_WORKLOADS = [n for n in registry.names() if "c" in registry.get(n).engines]


@pytest.mark.parametrize(
    ("units", "per_unit", "asked", "expected"),
    [
        (0, 1_000, 8, 1),  # no work: one thread, never 0
        (1, 1_000, 8, 1),  # tiny
        (PART // 100 * 2 - 1, 100, 8, 1),  # just under two parts
        (PART // 100 * 2, 100, 8, 2),  # two parts exactly
        (PART // 100 * 5, 100, 4, 4),  # worth more than asked: as asked
        (10**9, 1_000, 1, 1),
        (10**9, 1_000, 16, 16),
        (3, 10**8, 16, 3),  # a unit is never split: no more threads than units
    ],
)
def test_threads_worth_splits_only_into_parts_of_the_least_work(units, per_unit, asked, expected):
    assert _native.threads_worth(units, per_unit, asked) == expected


def test_threads_worth_gives_no_more_threads_than_the_call_has_parts():
    with _native.threads_counted() as counted:
        assert _native.threads_worth(10**9, 1_000, 16, parts_max=8) == 8  # 8 cells
        assert _native.threads_worth(10**9, 1_000, 4, parts_max=8) == 4
        assert _native.threads_worth(1, 1, 16, parts_max=8) == 1
    assert counted == [8, 4, 1]


def test_threads_counted_sees_each_call_inside_its_block_only():
    _native.threads_worth(10**9, 1_000, 3)  # outside any block: counted nowhere
    with _native.threads_counted() as outer:
        _native.threads_worth(1, 1, 8)
        with _native.threads_counted() as inner:
            _native.threads_worth(10**9, 1_000, 4)
    assert outer == [1, 4] and inner == [4]


def test_a_block_counts_the_time_of_its_parallel_calls_and_nothing_else(monkeypatch):
    """Splits.parallel_ns: the core's clock inside each parallel call of the block (every
    open block sees it); the rest of a block is the calling thread alone."""
    clock = iter(range(0, 10**6, 100))  # each reading 100 ns after the last
    monkeypatch.setattr(_native, "lib", _ClockedLib(_native.lib, clock))
    with _native.threads_counted() as outer:
        with _native.threads_counted() as inner:
            with _native.parallel_call():
                pass  # readings 0 and 100
        with _native.parallel_call():
            pass  # readings 200 and 300
    with _native.parallel_call():
        pass  # no block open: nothing read, nothing counted
    assert (outer.parallel_ns, inner.parallel_ns) == (200, 100)
    assert next(clock) == 400


class _ClockedLib:
    def __init__(self, lib, clock):
        self._lib, self._clock = lib, clock

    def bb_now_ns(self):
        return next(self._clock)

    def __getattr__(self, name):
        return getattr(self._lib, name)


@pytest.mark.parametrize("name", C_WORKLOADS)
def test_the_time_outside_a_workloads_parallel_calls_is_a_part_of_its_call(name):
    """A real call: its parallel calls take time, and the calling thread's own part of the
    call (Python, serial C) is what is left, neither negative nor the whole call."""
    workload = registry.get(name)
    inputs = workload.generate(0.002, 42)
    start = _native.lib.bb_now_ns()
    with _native.threads_counted() as counted:
        workload.run(inputs, "c", 2)
    call_ns = _native.lib.bb_now_ns() - start
    assert 0 < counted.parallel_ns < call_ns


@pytest.mark.parametrize("name", C_WORKLOADS)
def test_every_c_workload_gives_one_answer_at_1_2_4_and_16_threads(name):
    workload = registry.get(name)
    asked = (1, 2, 4, 16)
    for scale in (0.002, 0.1):
        inputs = workload.generate(scale, 42)
        digests, used = set(), []
        for threads in asked:
            with _native.threads_counted() as counted:
                digests.add(workload.digest(workload.run(inputs, "c", threads)))
            used.append(max(counted))
        assert len(digests) == 1, (name, scale, used)
        assert all(1 <= u <= t for u, t in zip(used, asked, strict=True)), used
    assert used[-1] > 1, "at scale 0.1 the call is split: the digests compare real splits"
    # at the smoke scale no workload is worth 16 threads (the 2-core host's loss to dispatch)
    inputs = workload.generate(0.002, 42)
    with _native.threads_counted() as counted:
        workload.run(inputs, "c", 16)
    assert max(counted) < 16


class LibSpy:
    """The core's lib, whose named functions also append the parts they run to a list."""

    def __init__(self, real, ran_on: list[int], parts: dict):
        self._real, self._ran_on, self._parts = real, ran_on, parts

    def __getattr__(self, attribute: str):
        real = getattr(self._real, attribute)
        if attribute not in self._parts:
            return real

        def call(*args):
            self._ran_on.append(self._parts[attribute](*args))
            return real(*args)

        return call


@pytest.mark.parametrize("name", C_WORKLOADS)
def test_the_threads_counted_are_the_threads_each_parallel_call_ran_on(name, monkeypatch):
    """At 16 threads on work worth splitting, what threads_worth counted (what the run
    records as threads_used) equals, call by call, the parts the pool ran: a call over 8
    cells runs on 8 threads and must not be counted as 16."""
    ran_on: list[int] = []

    def spy(name: str, parts):
        real = getattr(_native, name)

        def call(*args):
            ran_on.append(parts(*args[2:]))
            return real(*args)

        monkeypatch.setattr(_native, name, call)

    spy("parallel_ranges", lambda n, threads: max(1, min(n, threads)))
    spy("parallel_chunks", lambda n, chunk, threads: max(1, min(-(-n // chunk), threads)))
    spy("parallel_groups", lambda groups: groups)
    workload = registry.get(name)
    inputs = workload.generate(0.1, 42)
    # the C ledger's set-up calls the pool from C: the parts of each (ledger.c)
    cells = _sharded.cells_of(inputs["config"], name) if "config" in inputs else 0
    monkeypatch.setattr(
        post,
        "lib",
        LibSpy(
            post.lib,
            ran_on,
            {
                "bb_ledger_new": lambda accounts, n, cells, threads, out: threads,
                "bb_ledger_reserve": lambda ledger, n, threads: max(1, min(cells, threads)),
                "bb_ledger_read_balances": lambda ledger, out, threads: threads,
            },
        ),
    )
    with _native.threads_counted() as counted:
        workload.run(inputs, "c", 16)
    assert counted == ran_on
    assert max(counted) > 1, "the call is split at this scale"
    # the most parts each call can split into, at any thread count (bench/serial_share.py's
    # bound holds each call to them): never fewer than it ran on; the cells hold the sharded
    # ledger's calls; loan.fraud's splits its events by key, so by them
    assert all(1 <= t <= most for t, most in zip(counted, counted.parts, strict=True))
    if cells:
        assert cells in counted.parts, (counted, counted.parts)


def _sample(threads: int, seconds: float, used: int | None) -> dict:
    return Sample(
        run_id="r",
        benchmark=f"loan.score[c-{threads}t-0.1]",
        workload="loan.score",
        engine="c",
        threads=threads,
        scale=0.1,
        seed=42,
        units=1_000,
        seconds=seconds,
        digest="d",
        threads_used=used,
    ).to_row()


def test_the_summary_judges_a_point_by_the_threads_it_ran_on(capsys):
    rows = [_sample(1, 1.0, 1), _sample(2, 0.6, 2), _sample(16, 0.9, 2)]
    summarized = summary.summarize(pa.Table.from_pylist(rows, schema=Sample.schema()))
    assert {r["threads"]: r["threads_used"] for r in summarized} == {1: 1, 2: 2, 16: 2}
    efficiency = {t: (e, used) for _, t, e, used in summary.efficiency(summarized)}
    assert efficiency[16] == (pytest.approx(1 / 0.9 / 2), 2)  # over 2 threads, not 16
    summary.print_table(summarized)
    lines = capsys.readouterr().out.splitlines()
    sixteen = next(line for line in lines if line.startswith("loan.score[c-16t"))
    two = next(line for line in lines if line.startswith("loan.score[c-2t"))
    assert "ran on 2 of 16 threads" in sixteen and "ran on" not in two
    curve = scaling.efficiency_curves(summarized)[("loan.score", "c")]["strong"]
    assert [(p.threads, p.threads_used) for p in curve] == [(1, 1), (2, 2), (16, 2)]
    rendered = [
        line
        for line in scaling.render_curves({("loan.score", "c"): {"strong": curve, "weak": []}})
        if "the work splits no further" in line
    ]
    assert len(rendered) == 1 and rendered[0].split()[0] == "16"


def test_a_store_without_threads_used_reads_as_the_threads_asked():
    old = pa.Table.from_pylist(
        [
            {k: v for k, v in _sample(t, 1.0 / t, None).items() if k != "threads_used"}
            for t in (1, 4)
        ]
    )
    assert "threads_used" not in old.column_names
    summarized = summary.summarize(old)
    assert {r["threads"]: r["threads_used"] for r in summarized} == {1: 1, 4: 4}
    assert [(t, used) for _, t, _, used in summary.efficiency(summarized)] == [(4, 4)]


@pytest.mark.parametrize("stored", [-2, 0, 17])
def test_a_stored_threads_used_no_run_can_record_reads_as_the_threads_asked(stored, capsys):
    """A store is the users' input: a count below 1 or above the threads asked (an edited or
    damaged file) is not shown as "ran on -2 of 16" nor divided by."""
    rows = [_sample(1, 1.0, 1), _sample(16, 0.5, stored)]
    summarized = summary.summarize(pa.Table.from_pylist(rows, schema=Sample.schema()))
    assert {r["threads"]: r["threads_used"] for r in summarized} == {1: 1, 16: 16}
    assert [(t, e, u) for _, t, e, u in summary.efficiency(summarized)] == [
        (16, pytest.approx(1 / 0.5 / 16), 16)
    ]
    summary.print_table(summarized)
    assert "splits no further" not in capsys.readouterr().out
    raw = _sample(16, 0.5, stored)
    assert summary.threads_used(raw) == 16 and summary.threads_note(raw) == ""
    curve = scaling.efficiency_curves(summarized)[("loan.score", "c")]["strong"]
    assert [(p.threads, p.threads_used) for p in curve] == [(1, 1), (16, 16)]


def test_two_threads_that_ran_on_one_are_not_judged_against_the_target():
    rows = [_sample(1, 1.0, 1), _sample(2, 1.0, 1), _sample(4, 0.3, 4)]
    summarized = summary.summarize(pa.Table.from_pylist(rows, schema=Sample.schema()))
    [row] = scaling.two_thread_evidence(summarized, probes={})
    assert row["verdict"] == "not judged: ran on 1 thread: the work splits no further"
    rows[1] = _sample(2, 0.55, 2)  # really on 2 threads: judged
    summarized = summary.summarize(pa.Table.from_pylist(rows, schema=Sample.schema()))
    [row] = scaling.two_thread_evidence(summarized, probes={})
    assert row["verdict"] == "meets 80 %"


def test_the_benchmarks_extra_info_reaches_the_sample():
    entry = {"name": "b", "stats": {"data": [0.1]}, "extra_info": {"threads_used": 3}}
    [sample] = samples.from_pytest_benchmark("r", entry, known={"threads": 8})
    assert (sample.threads, sample.threads_used) == (8, 3)


def test_a_benchmark_ran_on_the_threads_of_its_work_not_of_its_shortest_call():
    """A long call split over at most 4 threads and a short one worth 11: the run records the
    threads weighted by work (4). loan.fraud makes one call, split by its events' keys over
    every thread asked for."""
    with _native.threads_counted() as counted:
        _native.threads_worth(10**6, 1_267, 16, parts_max=4)  # 4 cells, say
        _native.threads_worth(10**6, 46, 16)  # a short step of its own: 11
    assert counted == [4, 11] and counted.threads_used(16) == 4
    assert _native.Splits().threads_used(16) == 16  # no parallel call: as asked
    workload = registry.get("loan.fraud")
    inputs = workload.generate(0.1, 42)
    with _native.threads_counted() as counted:
        workload.run(inputs, "c", 16)
    assert counted == [16] and counted.threads_used(16) == 16
    assert counted.parts == [min(inputs["events"].num_rows, fraud.TASKS_MAX)]


def test_a_damaged_thread_count_is_left_off_the_curves():
    rows = [_sample(1, 1.0, 1), _sample(2, 0.6, 2)]
    rows.append({**_sample(2, 0.6, 1), "threads": 0, "benchmark": "loan.score[c-0t-0.1]"})
    summarized = summary.summarize(pa.Table.from_pylist(rows, schema=Sample.schema()))
    curve = scaling.efficiency_curves(summarized)[("loan.score", "c")]["strong"]
    assert [p.threads for p in curve] == [1, 2]


def test_two_threads_on_one_that_were_slower_are_flagged_slower():
    """On 1 thread the efficiency is rate(2)/rate(1): 0.8 is slower, though above 0.5."""
    rows = [_sample(1, 1.0, 1), _sample(2, 1.25, 1)]
    summarized = summary.summarize(pa.Table.from_pylist(rows, schema=Sample.schema()))
    [row] = scaling.two_thread_evidence(summarized, probes={})
    assert row["verdict"].startswith("not judged: ran on 1 thread")
    assert row["verdict"].endswith(
        "; SLOWER at 2 threads than at 1, where both ran the same 1-thread code: the host's "
        "speed moved between the two benchmarks"
    )
    rows[1] = _sample(2, 0.9, 2)  # on 2 threads, 56 %: below the target, not slower
    summarized = summary.summarize(pa.Table.from_pylist(rows, schema=Sample.schema()))
    [row] = scaling.two_thread_evidence(summarized, probes={})
    assert "SLOWER" not in row["verdict"]


def test_the_ceiling_of_a_benchmark_run_by_several_processes_is_their_median():
    """Each worker process measures the host's ceiling around its own rounds; the summary
    keeps the median of the finite ones, not whichever process's sample it read first."""
    rows = [
        {**_sample(2, 0.6, 2), "process": p, "round": r, "host_compute_efficiency": ceiling}
        for p, ceiling in enumerate([0.70, 0.95, 0.90, float("nan")])
        for r in range(3)
    ]
    rows.append({**_sample(1, 1.0, 1), "host_compute_efficiency": None})
    summarized = summary.summarize(pa.Table.from_pylist(rows, schema=Sample.schema()))
    assert {r["threads"]: r["host_compute_efficiency"] for r in summarized} == {
        1: None,
        2: pytest.approx(0.90),
    }
