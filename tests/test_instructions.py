"""Instruction counts under Valgrind (``--measure instructions``): reading callgrind's dumps,
refusing where Valgrind cannot run, and counts that repeat exactly."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

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
    0 1100 200 100 0 10 5 0 2 1 90 9 3 1
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
    assert core["Ir"] == 1100 - 100  # bb_ledger_run inclusive, less its barrier waits
    assert parsed["waiting"]["Ir"] == 100
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
    assert parsed[CALL]["Ir"] == 5000 + 200 + 900 + 100 + 7
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


needs_valgrind = pytest.mark.skipif(
    not __import__("shutil").which("valgrind"), reason="valgrind is not installed"
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
            env=callgrind.worker_environment(base),
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
