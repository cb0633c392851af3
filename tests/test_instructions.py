"""Instruction counts under Valgrind (``--measure instructions``): reading callgrind's dumps,
refusing where Valgrind cannot run, and counts that repeat exactly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import native
from bench.commands import compare as compare_command
from bench.compare import counts_formats
from bench.measure import callgrind
from bench.measure.counts import CALL, CORE

# a dump as callgrind 3.19 writes it with our options: a cffi wrapper calls its core function
# (which calls libc and waits at the barrier once), the interpreter around it has its own cost
DUMP = textwrap.dedent(
    """\
    # callgrind format
    version: 1
    creator: callgrind-3.19.0
    part: 3

    desc: Trigger: --dump-before=bb_measure_end

    positions: line
    events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim
    summary: 1 2 3

    ob=/usr/lib/libpython3.so
    fl=(1) ceval.c
    fn=(1) _PyEval_EvalFrameDefault
    0 5000 100 50 1 2 3 0 1 0 400 20
    cob=/x/_bankcore.so
    cfi=(2) build/_bankcore.c
    cfn=(2) _cffi_f_bb_ledger_run
    calls=1 0
    0 1300 10 10
    cfn=(4) _cffi_f_bb_measure_end
    calls=1 0
    0 7

    ob=/x/_bankcore.so
    fl=(2)
    fn=(2)
    0 200 5 5
    cfn=(3) bb_ledger_run
    calls=1 0
    0 1160 220 110 0 10 5 0 2 1 90 9 3 1
    cfn=(6) PyEval_SaveThread
    calls=1 0
    0 30

    fn=(3)
    0 900 150 80 0 8 5 0 2 1 70 7 3 1
    cfn=(5) bb_barrier_wait
    calls=2 0
    0 100 10 0 0 0 0 0 0 0 20 2
    cfn=(7) memset
    calls=1 0
    0 100 40 20 0 2 0 0 0 0 0 0
    cob=/lib/libc.so.6
    cfn=(8) malloc
    calls=1 0
    0 60 20 10

    fn=(5)
    0 100 10 0 0 0 0 0 0 0 20 2

    fn=(4)
    0 7
    totals: 1 2 3
    """
)


def test_core_counts_are_the_wrapped_calls_less_waiting():
    parsed = callgrind.parse(DUMP.splitlines(keepends=True))
    core = parsed[CORE]
    # bb_ledger_run inclusive, less its barrier waits and its malloc
    assert core["Ir"] == 1160 - 100 - 60
    assert parsed["left_out"]["Ir"] == 100 + 60
    assert parsed["entries"] == {"bb_ledger_run": 1}  # the markers are not work
    assert core["DLmr"] == 2 and core["Bcm"] == 9 - 2
    counts = callgrind.counts_of(core, CORE)
    assert counts.instructions == 1000
    assert counts.branches == (90 - 20) + 3 and counts.branch_misses == (9 - 2) + 1
    assert counts.l1d_misses == 10 + 5 and counts.llc_misses == 0 + 2 + 1
    assert counts.cycles is None and "does not simulate cycles" in counts.unknown_reason


def test_call_counts_are_everything_in_the_window():
    parsed = callgrind.parse(DUMP.splitlines(keepends=True))
    # every self cost once: the interpreter, the wrapper, the core, the wait, the marker
    assert parsed[CALL]["Ir"] == 5000 + 200 + 900 + 100 + 7  # malloc's own lines: not here
    assert callgrind.counts_of(parsed[CALL], CALL).scope == CALL


def test_a_dump_without_cache_simulation_leaves_misses_unknown():
    counts = callgrind.counts_of({"Ir": 10}, CORE)
    assert counts.instructions == 10 and counts.l1d_misses is None
    assert "l1d_misses" in counts.unknown_reason


def test_missing_valgrind_says_how_to_install_it():
    with pytest.raises(callgrind.MeasureUnavailable, match="apt-get install valgrind"):
        callgrind.check_available(None, which=lambda name: None)


def test_emulated_host_is_refused_in_one_line():
    with pytest.raises(callgrind.MeasureUnavailable) as refused:
        callgrind.check_available("aarch64 Python on an x86 /proc/cpuinfo (qemu-user emulation)")
    assert "\n" not in str(refused.value) and "qemu-user" in str(refused.value)


def test_a_sanitizer_build_is_refused_in_one_line(monkeypatch):
    flags = "-O1 -fsanitize=address,undefined"
    monkeypatch.setattr(native, "build_info", lambda: {"flags": flags})
    with pytest.raises(callgrind.MeasureUnavailable) as refused:
        callgrind.check_available(None, which=lambda name: "/usr/bin/valgrind")
    assert "\n" not in str(refused.value) and "sanitizer build" in str(refused.value)


needs_valgrind = pytest.mark.skipif(
    not __import__("shutil").which("valgrind") or native.is_sanitizer_build(),
    reason="valgrind is not installed, or the core is a sanitizer build it cannot run",
)

MEASURE_SCRIPT = textwrap.dedent(
    """\
    import json, sys
    from bench.measure.callgrind import Meter
    from workloads import registry
    meter = Meter()
    results = {}
    for name, threads in (("loan.limit", 1), ("ledger.smallbank", 2)):
        w = registry.get(name)
        inputs = w.generate(scale=0.0005, seed=7)
        outputs, counts = meter.measure(lambda: w.run(inputs, "c", threads), "core", True)
        results[name] = counts.to_dict()
    print(json.dumps(results))
    """
)


@needs_valgrind
def test_counts_of_the_core_repeat_exactly(tmp_path):
    """The same calls in two processes under callgrind: the same instructions (a 2-thread
    sharded run within 0.1 %: only the order of cell claims varies)."""
    runs = []
    for attempt in range(2):
        base = tmp_path / f"run{attempt}" / "callgrind.out"
        base.parent.mkdir()
        command = callgrind.command(
            callgrind.check_available(None), base, not callgrind.core_starts_instrumentation()
        )
        result = subprocess.run(
            [*command, sys.executable, "-c", MEASURE_SCRIPT],
            capture_output=True,
            text=True,
            env={**os.environ, **callgrind.worker_environment(base)},
            timeout=900,
        )
        assert result.returncode == 0, result.stderr + callgrind.valgrind_log_tail(base)
        runs.append(__import__("json").loads(result.stdout.splitlines()[-1]))
    first, second = runs
    assert first["loan.limit"]["instructions"] == second["loan.limit"]["instructions"] > 0
    a, b = first["ledger.smallbank"]["instructions"], second["ledger.smallbank"]["instructions"]
    assert a > 0 and abs(a - b) / a < 0.001
    assert first["loan.limit"]["l1d_misses"] is not None
    assert first["loan.limit"]["scope"] == CORE


# --- compare in instruction mode ------------------------------------------------------------


def _count_samples(run_id, instructions_by_benchmark, measure="instructions", source="callgrind/2"):
    rows = []
    for benchmark, instructions in instructions_by_benchmark.items():
        workload, rest = benchmark.split("[", 1)
        engine, threads = rest.split("-")[0], int(rest.split("-")[1].rstrip("t"))
        rows.append(
            {
                "run_id": run_id,
                "benchmark": benchmark,
                "workload": workload,
                "engine": engine,
                "threads": threads,
                "units": 1000,
                "scale": 0.002,
                "seed": 42,
                "mode": "batch",
                "batch_size": None,
                "round": 0,
                "seconds": 1.0,
                "digest": "d-" + workload,
                "measure": measure,
                "instructions": instructions,
                "cycles": instructions // 2 if source == "perf" else None,
                "branches": instructions // 10,
                "branch_misses": instructions // 1000,
                "l1d_misses": instructions // 500,
                "llc_misses": instructions // 5000,
                "counts_source": source,
                "counts_scope": "call" if engine == "python" else "core",
                "counts_unknown": None if source == "perf" else "no cycles in a simulator",
            }
        )
    return rows


def _run(run_id, arch="x86_64", **build):
    return {
        "run_id": run_id,
        "label": run_id,
        "status": "complete",
        "fingerprint_json": __import__("json").dumps({"arch": arch, "cpu_model": "cpu"}),
        "build_json": __import__("json").dumps({"source_sha256": "s", **build}),
    }


BASE = {
    "loan.limit[c-1t-0.002]": 187_000,
    "loan.limit[c-2t-0.002]": 188_000,
    "ledger.post[c-1t-0.002]": 940_000,
    "ledger.post[c-2t-0.002]": 941_000,
}


def test_two_percent_more_instructions_in_one_workload_trips_a_one_percent_gate():
    from bench.compare import counts as ci

    slower = {k: (round(v * 1.02) if k.startswith("loan.limit") else v) for k, v in BASE.items()}
    result = ci.compare(
        _run("a"),
        _run("b", source_sha256="t"),
        _count_samples("a", BASE),
        _count_samples("b", slower),
    )
    assert result.comparable and result.differences["source_sha256"] == ("s", "t")
    regressed = ci.regressions(result, 1.0)
    assert sorted(r.benchmark for r in regressed) == [
        "loan.limit[c-1t-0.002]",
        "loan.limit[c-2t-0.002]",
    ]
    assert regressed[0].change_pct() == pytest.approx(2.0, abs=0.01)
    assert ci.regressions(result, 2.5) == []
    table = counts_formats.render(result, "table", 1.0, regressed)
    assert "REGRESSION (exit 3)" in table and "more work" in table and "same work" in table
    assert "never gated" not in table  # that is said of counters only
    # the same counts (what two runs of one commit give): nothing regresses
    same = ci.compare(_run("a"), _run("b"), _count_samples("a", BASE), _count_samples("b", BASE))
    assert ci.regressions(same, ci.AA_SPREAD_PCT) == []


def test_interpreter_counts_are_gated_at_their_measured_spread_and_the_text_says_so():
    """The python engine's counts (scope call, interpreter included) moved -0.47 % between two
    runs of identical code; `--fail-on-regression 0.1` then said "REGRESSION (exit 3)" for
    identical code while claiming the counts agree within 0.1 %. Core rows are gated at the
    threshold asked for, rows of scope call at no less than INTERPRETER_SPREAD_PCT."""
    from bench.compare import counts as ci

    base = {**BASE, "loan.limit[python-1t-0.002]": 2_000_000}
    drift = {**BASE, "loan.limit[python-1t-0.002]": 2_009_400}  # +0.47 %, identical code
    drift["ledger.post[c-1t-0.002]"] = round(BASE["ledger.post[c-1t-0.002]"] * 1.005)  # +0.5 %
    result = ci.compare(_run("a"), _run("b"), _count_samples("a", base), _count_samples("b", drift))
    assert {r.benchmark: r.scope for r in result.rows}["loan.limit[python-1t-0.002]"] == "call"
    regressed = ci.regressions(result, 0.1)
    assert [r.benchmark for r in regressed] == ["ledger.post[c-1t-0.002]"]  # the core row only
    table = counts_formats.render(result, "table", 0.1, regressed)
    python_row = next(line for line in table.splitlines() if "python" in line)
    assert python_row.rstrip().endswith("same work")
    gate = next(line for line in table.splitlines() if line.startswith("gate:"))
    assert (
        "more than 0.1 % (1 benchmark counted with the interpreter, scope call: by more "
        "than 1 %)" in gate
    )
    assert "C core's instruction counts (scope core) repeat within 0.1 %" in gate
    assert "misses are shown, not gated" in gate
    rows = __import__("json").loads(counts_formats.render(result, "json", 0.1, regressed))["rows"]
    assert {r["benchmark"]: r["threshold_pct"] for r in rows}["loan.limit[python-1t-0.002]"] == 1
    # a real interpreter regression beyond the spread is still caught
    worse = {**drift, "loan.limit[python-1t-0.002]": 2_030_000}  # +1.5 %
    result = ci.compare(_run("a"), _run("b"), _count_samples("a", base), _count_samples("b", worse))
    assert "loan.limit[python-1t-0.002]" in [r.benchmark for r in ci.regressions(result, 0.1)]


def test_a_gate_tighter_than_the_counts_repeat_is_refused():
    from bench.compare import counts as ci
    from workloads.errors import InputError

    result = ci.compare(_run("a"), _run("b"), _count_samples("a", BASE), _count_samples("b", BASE))
    with pytest.raises(InputError, match="below"):
        ci.regressions(result, 0.01)


@pytest.mark.parametrize("threshold", ["nan", "NaN"])
def test_a_nan_gate_threshold_is_refused_not_a_pass(threshold):
    """`compare --fail-on-regression nan` (float() accepts it) compared each change with NaN,
    so nothing ever regressed: a +4.29 % loan.limit regression exited 0 and read "same work"
    (measured, h12), and `.ci/instructions-gate BASE HEAD OUT nan` would pass it. Either the
    argument or the gate must refuse it."""
    from bench import cli
    from bench.compare import counts as ci
    from workloads.errors import InputError

    try:
        args = cli.parser().parse_args(["compare", "a", "b", "--fail-on-regression", threshold])
    except SystemExit as refused:
        assert refused.code == 2
        return
    slower = {k: round(v * 1.02) for k, v in BASE.items()}
    result = ci.compare(
        _run("a"), _run("b"), _count_samples("a", BASE), _count_samples("b", slower)
    )
    with pytest.raises(InputError):
        ci.regressions(result, args.fail_on_regression)


@pytest.mark.parametrize("threshold", ["inf", "1e309", "-1", "abc"])
def test_a_non_finite_or_negative_gate_threshold_is_refused_with_one_line(threshold, capsys):
    """The argument type refuses, before any store is opened: in time and instruction mode
    alike (inf and 1e309 would gate nothing, as nan did; a negative threshold gates noise)."""
    from bench import cli

    with pytest.raises(SystemExit) as refused:
        cli.parser().parse_args(["compare", "a", "b", "--fail-on-regression", threshold])
    assert refused.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--fail-on-regression" in error and ("finite" in error or threshold in error)


def test_instruction_counts_of_two_architectures_are_refused_in_one_line():
    from bench.compare import counts as ci

    result = ci.compare(
        _run("a"), _run("b", arch="aarch64"), _count_samples("a", BASE), _count_samples("b", BASE)
    )
    assert not result.comparable and not result.rows
    for fmt in ("table", "markdown"):
        out = counts_formats.render(result, fmt, 1.0)
        assert out.count("\n") == 0 and "different instruction sets" in out


@pytest.mark.parametrize(
    ("base_source", "methods"),
    [
        ("callgrind/1", "callgrind/1 vs callgrind/4"),
        ("callgrind", "callgrind/unknown vs callgrind/4"),  # stored before the version
    ],
)
def test_counts_of_two_counting_methods_are_refused_in_one_line(base_source, methods, capsys):
    """564028d against b4b04ae (the same C sources) read ledger.post -19.7 % "less work": a
    later commit left the allocator out of the counts. Counts of two methods are refused."""
    from bench.compare import counts as ci

    fewer = {k: v * 4 // 5 for k, v in BASE.items()}
    result = ci.compare(
        _run("a"),
        _run("b"),
        _count_samples("a", BASE, source=base_source),
        _count_samples("b", fewer, source=callgrind.SOURCE),
    )
    assert callgrind.SOURCE == "callgrind/4"
    assert not result.comparable and not result.rows
    out = counts_formats.render(result, "table", 1.0)
    assert out.count("\n") == 0 and f"counted by different methods ({methods})" in out
    args = __import__("argparse").Namespace(fail_on_regression=1.0, format="table")
    samples = _count_samples("a", BASE, source=base_source), _count_samples("b", fewer)
    assert compare_command.counts_main(args, _run("a"), _run("b"), *samples) == 4
    assert "different methods" in capsys.readouterr().out


def test_refused_counts_say_why_in_every_format_and_csv_on_stderr(capsys):
    """`compare A B --format csv` of counts from two architectures printed only the CSV
    header, exit 4, and no reason."""
    import argparse
    import csv
    import json

    runs = _run("a"), _run("b", arch="aarch64")
    samples = _count_samples("a", BASE), _count_samples("b", BASE)

    def compared(fmt):
        args = argparse.Namespace(fail_on_regression=None, format=fmt)
        return compare_command.counts_main(args, *runs, *samples), *capsys.readouterr()

    code, out, err = compared("csv")
    assert code == 4 and [row[0] for row in csv.reader(out.splitlines())] == ["benchmark"]
    assert err.count("\n") == 1 and err.startswith("bankbench: NOT COMPARABLE: instruction")
    assert "different instruction sets" in err
    code, out, err = compared("json")
    assert code == 4 and not err
    assert not json.loads(out)["comparable"] and "different" in json.loads(out)["refusals"][0]
    code, out, err = compared("markdown")
    assert code == 4 and out.count("\n") == 1 and "different instruction sets" in out and not err


def test_an_instruction_gate_against_a_run_that_did_not_finish_never_passes(capsys):
    import argparse

    finished = {k: v for k, v in BASE.items() if k.startswith("loan.limit")}
    abandoned = {**_run("b"), "status": "abandoned"}
    samples = _count_samples("a", BASE), _count_samples("b", finished)
    gate = argparse.Namespace(fail_on_regression=1.0, format="table")
    assert compare_command.counts_main(gate, _run("a"), abandoned, *samples) == 4
    out = capsys.readouterr().out
    assert "GATE NOT PASSED (exit 4): the 1 % regression gate cannot pass: the candidate (b) is " \
        "abandoned" in out  # fmt: skip
    csv_gate = argparse.Namespace(fail_on_regression=1.0, format="csv")
    assert compare_command.counts_main(csv_gate, _run("a"), abandoned, *samples) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gate cannot pass" in err
    no_gate = argparse.Namespace(fail_on_regression=None, format="table")
    assert compare_command.counts_main(no_gate, _run("a"), abandoned, *samples) == 0
    assert "the candidate (b) is abandoned" in capsys.readouterr().out
    more = {k: round(v * 1.02) for k, v in finished.items()}
    assert (
        compare_command.counts_main(
            gate, _run("a"), abandoned, samples[0], _count_samples("b", more)
        )
        == 3
    )


def test_counters_of_two_machines_are_shown_side_by_side_and_never_gated():
    from bench.compare import counts as ci
    from workloads.errors import InputError

    other = {k: v * 3 // 2 for k, v in BASE.items()}
    result = ci.compare(
        _run("a"),
        _run("b", arch="aarch64"),
        _count_samples("a", BASE, "counters", "perf"),
        _count_samples("b", other, "counters", "perf"),
    )
    assert result.comparable and result.mode == "counters"
    row = result.rows[0]
    assert row.candidate["instructions"] == pytest.approx(row.baseline["instructions"] * 1.5, 0.01)
    assert row.baseline["ipc"] == pytest.approx(2.0, 0.01)
    assert "IPC" in counts_formats.render(result, "table", None)
    with pytest.raises(InputError, match="not gated"):
        ci.regressions(result, 1.0)


def test_a_time_run_and_a_counted_run_are_not_compared():
    from bench.compare import counts as ci

    timed = [{**s, "measure": "time"} for s in _count_samples("a", BASE)]
    assert ci.counted(timed, _count_samples("b", BASE))
    result = ci.compare(_run("a"), _run("b"), timed, _count_samples("b", BASE))
    assert not result.comparable and "one measurement mode" in result.refusals[0]


def test_markdown_escapes_what_runs_and_stores_say():
    from bench.compare import counts as ci

    hostile = {"loan.limit[c-1t-0.002]": 1000}
    base_run = {**_run("a"), "label": "<img src=x onerror=alert(1)>|`x`\n# head"}
    rows = _count_samples("a", hostile)
    result = ci.compare(base_run, _run("b"), rows, _count_samples("b", hostile))
    out = counts_formats.render(result, "markdown", 1.0)
    assert "<img" not in out and "\n# head" not in out


# --- bankbench run --measure instructions ----------------------------------------------------


def _run_instructions(store, *extra):
    from bench import cli

    return cli.main(
        ["run", "--measure", "instructions", "-p", "smoke", "--store", str(store), *extra]
    )


def test_run_without_valgrind_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    from bench import fingerprint

    real = fingerprint.collect
    # a real host (under qemu-user the emulation refusal comes first: the test below)
    monkeypatch.setattr(fingerprint, "collect", lambda: {**real(), "emulated": False})
    monkeypatch.setattr(callgrind.shutil, "which", lambda name: None)
    assert _run_instructions(tmp_path / "store", "-w", "loan.limit") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install valgrind" in err
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").rglob("*.parquet"))


def test_rounds_and_processes_the_count_does_not_use_are_named_in_one_line(
    tmp_path, monkeypatch, capsys
):
    """`run --measure instructions -r 7 --processes 3` counted once in one process without a
    word: the options the user gave are named as unused; none given, nothing is said."""
    from bench import fingerprint
    from bench import plan as plans
    from bench.measure import modes

    real = fingerprint.collect
    monkeypatch.setattr(fingerprint, "collect", lambda: {**real(), "emulated": False})
    monkeypatch.setattr(callgrind.shutil, "which", lambda name: None)  # stops after the note
    store = tmp_path / "store"
    assert _run_instructions(store, "-w", "loan.limit", "-r", "7", "--processes", "3") == 2
    note, refusal = capsys.readouterr().err.splitlines()
    assert note == (
        "--measure instructions counts once: -r 7 and --processes 3 are not used "
        "(the counts repeat exactly)"
    )
    assert "valgrind" in refusal
    assert _run_instructions(store, "-w", "loan.limit", "--processes", "2") == 2
    assert "--processes 2 is not used" in capsys.readouterr().err
    for unused in ([], ["-r", "1"], ["-r", "1", "--processes", "1"]):
        assert _run_instructions(store, "-w", "loan.limit", *unused) == 2
        assert "not used" not in capsys.readouterr().err
    timed = plans.resolve("smoke", rounds=7, processes=3)
    assert modes.unused_options(timed, 7, 3) is None  # time mode uses them


def test_run_on_an_emulated_host_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    from bench import fingerprint

    real = fingerprint.collect

    def emulated():
        return {**real(), "emulated": True, "emulation_reason": "qemu-user (test)"}

    monkeypatch.setattr(fingerprint, "collect", emulated)
    assert _run_instructions(tmp_path / "store", "-w", "loan.limit") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "qemu-user" in err and "Valgrind cannot run" in err


def test_the_plan_counts_once_and_says_what_it_leaves_out():
    from bench import plan as plans
    from bench.measure import modes

    plan = plans.resolve("quick", measure="instructions", engines=["c", "numpy"])
    assert (plan.rounds, plan.processes, plan.min_round_s) == (1, 1, 0.0)
    kept = {(c.kind, c.engine) for c in plan.cases()}
    assert ("capacity", "c") not in kept and ("batch", "numpy") not in kept  # quick: 0.05
    lines = modes.skipped_lines(plan)
    assert any("capacity" in line for line in lines)
    assert any("numpy engine under Valgrind" in line for line in lines)
    assert plans.resolve("smoke", measure="instructions").engines == ("c",)
    assert plans.resolve("smoke").rounds > 1  # time: as the profile says


@needs_valgrind
def test_run_counts_every_c_benchmark_of_the_selection(tmp_path, capsys):
    from bench.store import Store

    store = tmp_path / "store"
    assert _run_instructions(store, "-w", "ledger.smallbank", "--label", "counted") == 0
    out = capsys.readouterr().out
    samples = Store(str(store)).samples().to_pylist()
    assert sorted(s["benchmark"] for s in samples) == [
        "ledger.smallbank[c-1t-0.002]",
        "ledger.smallbank[c-2t-0.002]",
    ]
    for s in samples:
        assert s["measure"] == "instructions" and s["counts_scope"] == "core"
        assert s["counts_source"] == callgrind.SOURCE and s["instructions"] > s["units"]
        assert s["cycles"] is None and "cycles" in s["counts_unknown"]
        assert s["l1d_misses"] is not None and s["branch_misses"] is not None
        assert s["host_compute_efficiency"] is None  # a time under Valgrind bounds nothing
    one, two = sorted(samples, key=lambda s: s["threads"])
    # the same work at 2 threads, plus a little for sharding: never half
    assert 0.99 < two["instructions"] / one["instructions"] < 1.2
    assert "instr/unit" in out and "median" not in out  # no Valgrind times shown
