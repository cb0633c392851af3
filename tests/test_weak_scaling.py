"""Weak scaling beside strong (issue 23, item 5): a plan can time each C workload at the scale
times the threads (``--scaling weak|both``); such a case says -weak- in its id, runs at its own
scale, is stored as mode "weak" (off the fixed-work curve), has its digest checked like any
other, and `bankbench show` prints both curves side by side."""

import subprocess
import sys

import pytest

from bench import limits, plan, scaling, summary
from bench.store import Store
from workloads import registry
from workloads.errors import InputError


def bankbench(*args):
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True
    )


def names(chosen: plan.Plan) -> list[str]:
    return [c.name(chosen.scale) for c in chosen.cases() if c.kind == plan.BATCH]


def test_both_adds_a_weak_case_per_thread_count_above_one_at_the_scale_times_the_threads():
    chosen = plan.resolve(
        "smoke", ["loan.limit"], ["c", "numpy"], threads=[1, 2, 3], scaling="both"
    )
    assert names(chosen) == [
        "loan.limit[c-1t-0.002]",
        "loan.limit[c-2t-0.002]",
        "loan.limit[c-3t-0.002]",
        "loan.limit[numpy-1t-0.002]",  # the NumPy peer's threads are Python's: no weak curve
        "loan.limit[numpy-2t-0.002]",
        "loan.limit[numpy-3t-0.002]",
        # after the workload's fixed-work cases (its inputs at the plan's scale made once)
        "loan.limit[c-weak-2t-0.004]",
        "loan.limit[c-weak-3t-0.006]",  # 12 significant digits: not 0.006000000000000001
    ]
    weak = [c for c in chosen.cases() if c.weak]
    assert [c.test_id() for c in weak] == ["loan.limit-c-weak-2t", "loan.limit-c-weak-3t"]
    assert "scaling both" in chosen.banner()


def test_weak_alone_keeps_the_one_thread_base_and_strong_is_todays_plan():
    weak = plan.resolve("smoke", ["loan.limit"], ["c"], threads=[1, 2, 4], scaling="weak")
    assert names(weak) == [
        "loan.limit[c-1t-0.002]",
        "loan.limit[c-weak-2t-0.004]",
        "loan.limit[c-weak-4t-0.008]",
    ]
    strong = plan.resolve("smoke", ["loan.limit"], ["c"], threads=[1, 2, 4])
    assert strong.scaling == "strong" and not any(c.weak for c in strong.cases())
    assert "scaling" not in strong.banner()
    # the plan goes whole to the worker: the field survives the job file's JSON
    assert plan.Plan.from_dict(weak.to_dict()) == weak
    with pytest.raises(InputError, match="unknown scaling 'weakest'"):
        plan.resolve("smoke", scaling="weakest")


def test_the_memory_check_sizes_a_weak_case_at_its_own_scale():
    model = {
        "worker_base_bytes": 100,
        "workloads": {
            "loan.limit": {"c": {"growth_fixed_bytes": 10, "growth_bytes_per_scale": 1000}}
        },
    }
    strong = plan.resolve("smoke", ["loan.limit"], ["c"], threads=[1, 4], scale=1)
    limits.check(strong, available=1110, model=model)  # scale 1: 1110 bytes
    weak = plan.resolve("smoke", ["loan.limit"], ["c"], threads=[1, 4], scale=1, scaling="weak")
    with pytest.raises(limits.ResourceError, match="at scale 4 needs about"):
        limits.check(weak, available=1110, model=model)  # 4 threads: scale 4


def _row(mode, threads, units_per_s, workload="loan.score", engine="c"):
    return {
        "workload": workload,
        "engine": engine,
        "mode": mode,
        "threads": threads,
        "batch_size": None,
        "units_per_s": units_per_s,
    }


def test_both_curves_start_at_the_one_thread_rate_and_weak_efficiency_is_rate_over_t_rates():
    rows = [
        _row("batch", 1, 1000.0),
        _row("batch", 2, 1500.0),
        _row("weak", 2, 1900.0),
        _row("weak", 4, 3000.0),
        _row("batch", 4, 800.0),
        _row("batch", 2, 5000.0, workload="loan.limit"),  # no one-thread base: no curve
    ]
    curves = scaling.efficiency_curves(rows)
    assert list(curves) == [("loan.score", "c")]
    strong = [(p.threads, p.efficiency) for p in curves[("loan.score", "c")]["strong"]]
    weak = [(p.threads, p.efficiency) for p in curves[("loan.score", "c")]["weak"]]
    assert strong == [(1, 1.0), (2, 0.75), (4, 0.2)]
    assert weak == [(1, 1.0), (2, 0.95), (4, 0.75)]
    text = "\n".join(scaling.render_curves(curves))
    assert "strong rate" in text and "weak rate" in text
    cells = [line.split() for line in text.splitlines()[2:]]
    assert cells == [
        ["loan.score[c]", "1", "1,000/s", "100%", "1,000/s", "100%"],
        ["2", "1,500/s", "75%", "1,900/s", "95%"],
        ["4", "800/s", "20%", "3,000/s", "75%"],
    ]
    # strong alone: no weak column values, and nothing at all for a single thread count
    only_strong = scaling.efficiency_curves([_row("batch", 1, 10.0), _row("batch", 2, 18.0)])
    assert only_strong[("loan.score", "c")]["weak"] == []
    assert scaling.render_curves(scaling.efficiency_curves([_row("batch", 1, 10.0)])) == []


@pytest.fixture(scope="module")
def weak_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("store")
    result = bankbench(
        "run", "-p", "smoke", "-w", "loan.limit", "-e", "c", "-t", "1,2", "-r", "2",
        "--scaling", "both", "--label", "weak", "--store", str(folder),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder


def test_a_weak_run_stores_its_cases_at_their_own_scale_with_the_references_digest(weak_run):
    store = Store(str(weak_run))
    run_id = store.find_run("weak")["run_id"]
    rows = store.samples([run_id]).to_pylist()
    weak = [r for r in rows if r["mode"] == "weak"]
    assert {r["benchmark"] for r in weak} == {"loan.limit[c-weak-2t-0.004]"}
    assert {(r["threads"], r["scale"]) for r in weak} == {(2, 0.004)}
    # the digest at the weak case's own scale is the Python reference's on those inputs
    workload = registry.get("loan.limit")
    inputs = workload.generate(scale=0.004, seed=plan.DEFAULT_SEED)
    assert {r["digest"] for r in weak} == {workload.digest(workload.run(inputs, "python", 1))}
    # off the fixed-work curve: the strong efficiency line has only the strong 2-thread case
    strong = summary.efficiency(summary.summarize(store.samples([run_id])))
    assert [(n, t) for n, t, _, _ in strong] == [("loan.limit[c]", 2)]


def test_show_prints_the_strong_and_weak_curves_side_by_side(weak_run):
    shown = bankbench("show", "weak", "--store", str(weak_run))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("workload[engine]"))
    assert "strong rate" in lines[header] and "weak rate" in lines[header]
    one, two = lines[header + 1], lines[header + 2]
    assert one.startswith("loan.limit[c]") and one.split()[1] == "1"
    assert two.split()[0] == "2" and two.count("%") == 2  # a strong and a weak efficiency


def test_the_reports_scaling_section_shows_strong_and_weak_side_by_side(tmp_path):
    import test_report  # tests/test_report.py: its synthetic runs (pytest puts tests/ on the path)

    from reports import analysis, content
    from reports.document import Figure, Paragraph, Table

    store = Store(str(tmp_path / "store"))
    base = test_report.make_run(store, "20261128T000000-aaaaaaaa", "x86-base")
    test_report.make_run(store, "20261128T000001-bbbbbbbb", "arm-cand", speed=1.5)
    # the baseline also timed weak scaling: 2 threads did twice the work in 0.125 s (its
    # one-thread call: 0.1 s), an efficiency of 80 %
    store.write_samples(
        base,
        "loan.decide[c-weak-2t-2.0]",
        [
            {
                "run_id": base["run_id"],
                "benchmark": "loan.decide[c-weak-2t-2.0]",
                "workload": "loan.decide",
                "engine": "c",
                "threads": 2,
                "scale": 2.0,
                "seed": 42,
                "mode": "weak",
                "units": 200_000,
                "round": i,
                "seconds": 0.125,
                "digest": "d-weak",
            }
            for i in range(9)
        ],
    )
    machines = analysis.load(["x86-base", "arm-cand"], [store.location])
    report = analysis.analyse(machines, set(), None)
    weak = analysis.weak_scaling_points(report.machines[0], "loan.decide")
    assert [(p.threads, round(p.efficiency, 2)) for p in weak] == [(1, 1.0), (2, 0.8)]
    assert analysis.weak_scaling_points(report.machines[1], "loan.decide") == []
    # the weak benchmark stays off the strong curve
    assert [p.threads for p in analysis.scaling_points(report.machines[0], "loan.decide")] == [1, 2]
    blocks = content.scaling(report)
    table = next(b for b in blocks if isinstance(b, Table))
    assert table.header[2:] == [
        "strong: rate (efficiency) by threads",
        "weak: rate (efficiency) by threads",
    ]
    decisions = analysis.workload_words("loan.decide")
    rows = {(r[0], r[1]): r for r in table.rows}
    assert rows[(decisions, "x86-base")][3].endswith("2 threads: 1.60 M/s (80 %)")
    assert rows[(decisions, "arm-cand")][3] == "not measured"
    assert any(isinstance(b, Figure) for b in blocks)
    assert not any(isinstance(b, Paragraph) and "No run measured weak" in b.text for b in blocks)


def test_the_reports_scaling_table_names_a_point_that_ran_on_fewer_threads(tmp_path):
    import test_report  # tests/test_report.py: its synthetic runs

    from reports import analysis, content
    from reports.document import Table

    store = Store(str(tmp_path / "store"))
    base = test_report.make_run(store, "20261128T000000-aaaaaaaa", "x86-base")
    test_report.make_run(store, "20261128T000001-bbbbbbbb", "arm-cand", speed=1.5)
    # asked for 16 threads, the work was worth 2: 0.05 s a call against one thread's 0.1 s
    name = "loan.decide[c-16t-1.0]"
    store.write_samples(
        base,
        name,
        [
            {
                "run_id": base["run_id"],
                "benchmark": name,
                "workload": "loan.decide",
                "engine": "c",
                "threads": 16,
                "threads_used": 2,
                "scale": 1.0,
                "seed": 42,
                "units": 100_000,
                "round": i,
                "seconds": 0.05,
                "digest": "d",
            }
            for i in range(9)
        ],
    )
    report = analysis.analyse(
        analysis.load(["x86-base", "arm-cand"], [store.location]), set(), None
    )
    sixteen = analysis.scaling_points(report.machines[0], "loan.decide")[-1]
    assert (sixteen.threads, sixteen.threads_used) == (16, 2)
    assert sixteen.efficiency == pytest.approx(1.0, rel=0.05)  # over 2 threads, not 16
    table = next(b for b in content.scaling(report) if isinstance(b, Table))
    strong = {(r[0], r[1]): r[2] for r in table.rows}[
        (analysis.workload_words("loan.decide"), "x86-base")
    ]
    assert "16 threads (ran on 2: the work splits no further): 2.00 M/s (100 %)" in strong
    assert strong.count("ran on") == 1


def test_show_prints_the_2_thread_evidence_with_the_probes_of_the_same_run(weak_run):
    shown = bankbench("show", "weak", "--store", str(weak_run)).stdout.splitlines()
    row = next(line for line in shown if line.startswith("loan.limit "))
    # the run's own probes were recorded at 1 and 2 threads: the triad's efficiency is known
    # columns: workload, 1t call, 2t eff, its 95 % interval over the rounds, probe, its 2t eff
    assert row.split()[4] == "triad" and row.split()[5].endswith("%"), row
    low, high = (int(v) for v in row.split()[3].rstrip("%").split("-"))
    assert 0 < low <= high, row
    assert next(line for line in shown if line.startswith("host: load average"))


def test_a_call_too_small_to_split_records_and_shows_the_threads_it_ran_on(weak_run):
    # loan.limit at the smoke scale is ~4,000 applicants × 188 instructions: one part's worth
    store = Store(str(weak_run))
    run_id = store.find_run("weak")["run_id"]
    rows = store.samples([run_id]).to_pylist()
    batch = {r["threads"]: {s["threads_used"] for s in rows if s["benchmark"] == r["benchmark"]}
             for r in rows if r["mode"] == "batch"}  # fmt: skip
    assert batch == {1: {1}, 2: {1}}
    two = next(
        r
        for r in summary.summarize(store.samples([run_id]))
        if r["mode"] == "batch" and r["threads"] == 2
    )
    assert two["threads_used"] == 1
    # efficiency over the one thread it ran on, not the two asked
    [(_, asked, efficiency, used)] = summary.efficiency(summary.summarize(store.samples([run_id])))
    assert (asked, used) == (2, 1)
    assert efficiency == pytest.approx(two["units_per_s"] / next(
        r["units_per_s"] for r in summary.summarize(store.samples([run_id]))
        if r["mode"] == "batch" and r["threads"] == 1
    ))  # fmt: skip
    shown = bankbench("show", "weak", "--store", str(weak_run))
    assert shown.returncode == 0, shown.stderr
    assert "ran on 1 of 2 threads" in shown.stdout


def test_a_scaling_point_without_a_one_thread_run_says_so_not_nan():
    import math

    from bench.scaling import CurvePoint
    from reports import content

    point = content._scaling_point(CurvePoint(2, 1_000_000.0, math.nan, 2))
    assert point.endswith("(no 1-thread run)") and "nan" not in point
