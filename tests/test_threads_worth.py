"""The one rule of how many threads a parallel C call is worth (workloads/_native.py:
threads_worth), that it never changes an answer, and how a run reports fewer threads."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bench import samples, scaling, summary
from bench.records import Sample
from workloads import _native, registry

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
    ],
)
def test_threads_worth_splits_only_into_parts_of_the_least_work(units, per_unit, asked, expected):
    assert _native.threads_worth(units, per_unit, asked) == expected


def test_threads_counted_sees_each_call_inside_its_block_only():
    _native.threads_worth(10**9, 1_000, 3)  # outside any block: counted nowhere
    with _native.threads_counted() as outer:
        _native.threads_worth(1, 1, 8)
        with _native.threads_counted() as inner:
            _native.threads_worth(10**9, 1_000, 4)
    assert outer == [1, 4] and inner == [4]


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
        if "too small to split" in line
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


def test_the_benchmarks_extra_info_reaches_the_sample():
    entry = {"name": "b", "stats": {"data": [0.1]}, "extra_info": {"threads_used": 3}}
    [sample] = samples.from_pytest_benchmark("r", entry, known={"threads": 8})
    assert (sample.threads, sample.threads_used) == (8, 3)
