"""What users read of open-loop sweeps beyond the run summary: compare's capacity ratio with
its CI, and the report's section (a latency-vs-load chart per workload, capacity measured
beside the closed-loop claim, fleet sizing from measured capacity, the procurement note)."""

from __future__ import annotations

import types

import pytest
from test_openloop_sweep import MU_PER_S, SLO_NS, mm1_point

from bench import samples
from bench.compare import capacity as capacity_compare
from reports import open_loop
from reports.document import Figure, Paragraph, Table

RATES_SHARE = (0.2, 0.5, 0.9, 0.95, 0.97, 1.2)  # of μ: p99 ≤ 1 ms up to 0.95 μ at μ=100k/s


def _points(mu_per_s: float, repeats: int, workload="loan.decide", threads=1) -> list[dict]:
    rows = []
    for repeat in range(repeats):
        # each repeat's server a little faster: the capacities spread, as repeats on a host do
        scale = mu_per_s * (1 + 0.01 * repeat) / MU_PER_S
        for i, share in enumerate(RATES_SHARE):
            point = mm1_point(
                workload,
                offered_per_s=share * MU_PER_S * threads,
                requests=1000,
                threads=threads,
                seed=1,
                scale=0.1,
            )
            point = type(point)(
                **{
                    **point.__dict__,
                    "offered_per_s": point.offered_per_s * scale,
                    "achieved_per_s": point.achieved_per_s * scale,
                }
            )
            rows.append(
                samples.from_open_loop_point(
                    "run",
                    point,
                    index=i,
                    peak_per_s=mu_per_s * threads,
                    slo_ns=SLO_NS,
                    repeat=repeat,
                    benchmark=f"{workload}[c-open-loop-{threads}t-0.1]",
                    mode="open-loop",
                ).to_row()
            )
    return rows


def test_compare_gives_the_capacity_ratio_with_a_ci_over_repeats():
    (row,) = capacity_compare.ratios(_points(100_000, 3), _points(150_000, 3))
    assert row["ratio"] == pytest.approx(1.5, rel=1e-9)
    low, high = row["interval"]
    assert low <= 1.5 <= high and high - low < 0.1
    (line,) = capacity_compare.lines([row])[1:]
    assert "loan.decide 1 thread: 1.50×" in line and "[" in line


def test_one_repeat_gives_a_ratio_and_says_why_there_is_no_ci():
    (row,) = capacity_compare.ratios(_points(100_000, 1), _points(200_000, 1))
    assert row["interval"] is None and row["ratio"] == pytest.approx(2.0)
    assert "no CI" in capacity_compare.lines([row])[1]
    assert capacity_compare.ratios(_points(100_000, 1), []) == []


def _machine(name, rows):
    return types.SimpleNamespace(name=name, timed_under_valgrind=False, open_loop_points=rows)


def test_the_report_section_draws_each_workload_and_sizes_the_fleet_from_measured_capacity():
    machines = [
        _machine("x86-a", _points(100_000, 3) + _points(100_000, 1, "ledger.post")),
        _machine("arm-b", _points(150_000, 3)),
    ]
    model = types.SimpleNamespace(target=types.SimpleNamespace(decisions_per_s=1_000_000))
    blocks = open_loop.section(types.SimpleNamespace(machines=machines, model=model))
    figures = [b for b in blocks if isinstance(b, Figure)]
    assert [f.name for f in figures] == [
        "latency-vs-load-ledger.post",
        "latency-vs-load-loan.decide",
    ]
    assert all(f.png.startswith(b"\x89PNG") for f in figures)
    assert any(
        isinstance(b, Paragraph) and "closed-loop number is not used" in b.text for b in blocks
    )
    capacity_table, fleet_table = [b for b in blocks if isinstance(b, Table)]
    (x86,) = [r for r in capacity_table.rows if r[0] == "x86-a" and r[1] == "loan.decide"]
    # the median repeat's capacity (95,000, 95,950, 96,900/s), the CI of the mean beside it
    assert x86[3].startswith("95,950/s [") and "(not capacity)" in x86[4]
    servers = {r[0]: r for r in fleet_table.rows}
    assert set(servers) == {"x86-a", "arm-b"}  # decisions only: ledger.post is not sized
    # 1,000,000/s over 95,950/s → 11 servers, measured
    assert servers["x86-a"][4] == "11" and "measured" in servers["x86-a"][2]


def test_no_sweep_says_so():
    blocks = open_loop.section(types.SimpleNamespace(machines=[_machine("a", [])], model=None))
    assert any(isinstance(b, Paragraph) and "No open-loop sweep" in b.text for b in blocks)
