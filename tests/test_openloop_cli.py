"""``bankbench run`` with the open-loop sweep: --slo-ms refuses what is not a positive number
in one line; a real SIGTERM or Ctrl-C during a sweep keeps every point it finished."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import terminal_job  # tests/terminal_job.py (pytest puts tests/ on the path)

from bench.store import Store


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True
    )


@pytest.mark.parametrize("option", ["--slo-ms", "--slo"])
@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "1e-7"])
def test_an_slo_that_is_not_a_positive_number_is_one_line_and_exit_2(tmp_path, option, value):
    result = run_cli("run", "-p", "smoke", option, value, "--store", str(tmp_path / "s"))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert "SLO" in errors[0] or "milliseconds" in errors[0]
    assert not (tmp_path / "s").exists()  # refused before anything ran


def _growing_files(store):
    return list(store.glob("samples/**/*-growing-*.parquet"))


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_signal_during_a_sweep_keeps_its_finished_points(tmp_path, signal_name):
    store = tmp_path / "store"
    parent = terminal_job.start(
        [
            sys.executable,
            "-m",
            "bench.cli",
            "run",
            "-p",
            "smoke",
            "-w",
            "loan.decide",
            "-e",
            "c",
            "-t",
            "1",
            "--slo-ms",
            "0.5",
            "--store",
            str(store),
        ]
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and parent.poll() is None and not _growing_files(store):
            time.sleep(0.02)
        assert parent.poll() is None, "the run ended before its sweep could be interrupted"
        terminal_job.interrupt(parent, signal_name)
        # as a shell reports a process the signal ended: 143 for SIGTERM, 130 for Ctrl-C
        assert parent.wait(timeout=120) == 128 + getattr(signal, signal_name)
    finally:
        terminal_job.kill_if_running(parent)
    (run,) = Store(str(store)).runs().to_pylist()
    assert run["status"] == "incomplete"
    rows = [
        r
        for r in Store(str(store)).samples([run["run_id"]]).to_pylist()
        if r["mode"] == "open-loop"
    ]
    assert rows, "the finished points are kept"
    assert sorted(r["round"] for r in rows) == list(range(len(rows)))  # each once, in order
    assert all(r["histogram"] and r["offered_per_s"] > 0 for r in rows)
