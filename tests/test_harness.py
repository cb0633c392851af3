"""The harness: runs into the store, listing, export, import, fingerprint, bad input."""

import json
import os
import re
import subprocess
import sys

import pyarrow.dataset as ds
import pytest

from bench import cli, fingerprint
from bench.store import Store


def bankbench(*args):
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("store")
    for label in ("first", "second"):
        result = bankbench(
            "run",
            "-p",
            "smoke",
            "-w",
            "loan.limit,ledger.smallbank",
            "-e",
            "c,python",
            "-t",
            "1,2",
            "--label",
            label,
            "--store",
            str(folder),
        )
        assert result.returncode == 0, result.stderr
    return folder


def test_two_runs_are_kept_and_readable_by_pyarrow(store):
    runs = Store(str(store)).runs().to_pylist()
    assert sorted(r["label"] for r in runs) == ["first", "second"]
    assert all(r["status"] == "complete" for r in runs)
    samples = ds.dataset(f"{store}/samples", format="parquet", partitioning="hive").to_table()
    assert set(samples.column("run_id").to_pylist()) == {r["run_id"] for r in runs}
    assert set(samples.column("workload").to_pylist()) == {"loan.limit", "ledger.smallbank"}
    assert min(samples.column("seconds").to_pylist()) > 0


def test_every_worker_process_keeps_its_samples(tmp_path):
    """--processes N pools the samples of N workers: none may overwrite another's."""
    result = bankbench(
        "run", "-p", "smoke", "-w", "loan.limit", "-e", "c", "-t", "1", "-r", "2",
        "--processes", "2", "--store", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    samples = Store(str(tmp_path)).samples().to_pylist()
    batch = [s for s in samples if s["batch_size"] is None]
    assert sorted((s["process"], s["round"]) for s in batch) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_the_core_clock_nests_inside_the_benchmark_time(store):
    """inner_seconds (the core's CLOCK_MONOTONIC around workload.run) lies inside the round
    pytest-benchmark timed, so it can show what the harness adds."""
    samples = Store(str(store)).samples().to_pylist()
    batch = [s for s in samples if s["mode"] == "batch" and s["batch_size"] is None]
    assert batch and all(0 < s["inner_seconds"] <= s["seconds"] for s in batch)


def test_each_c_call_records_its_calling_threads_own_time(store):
    """serial_seconds: per call, the core's clock around it less its parallel calls' time: a
    part of the call for the C engine, the whole call for Python (it has no parallel call)."""
    samples = Store(str(store)).samples().to_pylist()
    batch = [s for s in samples if s["mode"] == "batch" and s["batch_size"] is None]
    c = [s for s in batch if s["engine"] == "c"]
    assert c and all(0 < s["serial_seconds"] < s["inner_seconds"] for s in c)
    python = [s for s in batch if s["engine"] == "python"]
    assert python and all(s["serial_seconds"] == s["inner_seconds"] for s in python)


def test_each_multi_thread_c_benchmark_records_the_hosts_compute_ceiling_around_it(store):
    """The CPUs' own 2-thread efficiency right before and after a C benchmark's rounds
    (bench/probes.py: compute_ceiling), on every one of its samples; none where one thread
    or the Python engine ran (no parallel call to bound)."""
    samples = Store(str(store)).samples().to_pylist()
    batch = [s for s in samples if s["mode"] == "batch" and s["batch_size"] is None]
    with_ceiling = {
        (s["workload"], s["engine"], s["threads"])
        for s in batch
        if s["host_compute_efficiency"] is not None
    }
    assert with_ceiling == {("loan.limit", "c", 2), ("ledger.smallbank", "c", 2)}
    assert all(
        0 < s["host_compute_efficiency"] < 10
        for s in batch
        if (s["workload"], s["engine"], s["threads"]) in with_ceiling
    )


def test_duckdb_reads_the_store(store):
    duckdb = pytest.importorskip("duckdb")
    rows = (
        duckdb.connect()
        .execute(
            f"select count(distinct run_id) from read_parquet('{store}/samples/**/*.parquet', "
            "hive_partitioning = true)"
        )
        .fetchall()
    )
    assert rows == [(2,)]


def test_show_and_export(store, capsys):
    assert cli.main(["show", "first", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "loan.limit[c-2t-0.002]" in out and "yes" in out
    assert cli.main(["export", "second", "--format", "json", "--store", str(store)]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["run"]["label"] == "second" and exported["samples"]


def test_import_of_another_projects_pytest_benchmark_json(tmp_path, capsys):
    other = tmp_path / "test_other.py"
    other.write_text("def test_sum(benchmark):\n    benchmark(sum, range(100))\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            str(other),
            f"--benchmark-json={tmp_path / 'o.json'}",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
        # not a pytest-xdist worker, whatever runs this test (pytest-benchmark disables
        # itself in one)
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")},
    )
    store = tmp_path / "store"
    assert cli.main(["import", str(tmp_path / "o.json"), "--store", str(store)]) == 0
    assert cli.main(["runs", "--store", str(store)]) == 0
    assert "imported" in capsys.readouterr().out
    assert Store(str(store)).samples().column("benchmark").to_pylist()[0].endswith("test_sum")


def test_bad_input_is_one_line_and_changes_nothing(store, tmp_path):
    before = sorted(p.name for p in store.rglob("*.parquet"))
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"benchmarks": 3}')
    for args, words in (
        (("import", str(foreign)), "not a pytest-benchmark JSON"),
        (("show", "missing-run"), "available: "),
        (("run", "-p", "smoke", "-w", "loan.nope"), "valid: "),
        (("run", "-p", "smoke", "-e", "cobol"), "valid: c, numpy, python"),
    ):
        result = bankbench(*args, "--store", str(store))
        assert (
            result.returncode == 2 and words in result.stderr and result.stderr.count("\n") == 1
        ), result.stderr
    (store / "runs" / "broken.parquet").write_text("not parquet")
    result = bankbench("runs", "--store", str(store))
    assert (
        result.returncode == 0
        and "broken.parquet: not a readable Parquet file" in result.stderr
        and "first" in result.stdout
    )
    (store / "runs" / "broken.parquet").unlink()
    assert sorted(p.name for p in store.rglob("*.parquet")) == before
    result = bankbench("run", "-p", "smoke", "-w", "loan.limit", "--store", "/etc/passwd/results")
    assert result.returncode == 2 and "is not a folder (/etc/passwd is a file)" in result.stderr


def test_fingerprint_knows_the_machine():
    facts = fingerprint.collect()
    assert facts["arch"] in ("x86_64", "aarch64")
    assert facts["logical_cpus"] and facts["page_size_bytes"] in (4096, 16384, 65536)
    assert "flags" in facts["build"]


def test_a_run_without_proc_records_unknown_facts_not_a_traceback(tmp_path, monkeypatch, capsys):
    """`bankbench run` in a chroot without /proc raised FileNotFoundError: '/proc/meminfo'
    (psutil, for the memory check). Every /proc read of this process fails here."""
    import builtins

    real_open = builtins.open

    def no_proc(file, *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and os.fsdecode(file).startswith("/proc"):
            raise FileNotFoundError(2, "No such file or directory", os.fsdecode(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc)
    store = tmp_path / "store"
    command = ["run", "-p", "smoke", "-w", "loan.limit", "-e", "c", "-t", "1"]
    assert cli.main([*command, "--store", str(store)]) == 0
    err = capsys.readouterr().err
    assert "bankbench: warning: the memory available is unknown" in err
    (run,) = Store(str(store)).runs().to_pylist()
    facts = json.loads(run["fingerprint_json"])
    assert run["status"] == "complete" and facts["memory_bytes"] is None
    assert facts["cpu_model"] is None  # no /proc/cpuinfo: unknown, never guessed


def test_arm_identity_and_emulation_from_cpuinfo():
    kunpeng = [
        {
            "processor": "0",
            "Features": "fp asimd atomics",
            "CPU implementer": "0x48",
            "CPU architecture": "8",
            "CPU variant": "0x1",
            "CPU part": "0xd01",
            "CPU revision": "0",
        }
    ]
    identity = fingerprint.cpu_identity("aarch64", kunpeng)
    assert "Kunpeng 920" in identity["cpu_model"] and identity["midr_part"] == "0xd01"


def test_compare_two_runs_and_markdown(store, capsys, host_emulated):
    code = cli.main(
        [
            "compare",
            "first",
            "second",
            "--store",
            str(store),
            "--format",
            "markdown",
            "--fail-on-regression",
            "5",
        ]
    )
    out = capsys.readouterr().out
    if host_emulated:  # emulated timings are refused (exit 4), never compared
        assert code == cli.EXIT_NOT_COMPARABLE and "emulated" in out, out
        return
    assert code == cli.EXIT_CANNOT_DECIDE  # smoke runs cannot detect a 5 % change, and say so
    assert out.startswith("## bankbench compare") and "| benchmark | ratio |" in out
    assert "**CANNOT DECIDE** whether anything regressed beyond 5 %" in out
    assert cli.main(["compare", "first", "missing", "--store", str(store)]) == 2


CALIBRATE = ["calibrate", "-p", "smoke", "-w", "loan.limit", "-e", "c", "-t", "1", "--store"]


def test_calibrate_refuses_an_emulated_host_before_running(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fingerprint, "host_emulation", lambda: "qemu-user (test)")
    assert cli.main([*CALIBRATE, str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "emulated (qemu-user (test))" in err
    assert not (tmp_path / "store").exists()


def test_calibrate_stores_the_noise_floor(tmp_path, capsys, host_emulated):
    store = tmp_path / "store"
    code = cli.main([*CALIBRATE, str(store)])
    if host_emulated:  # emulated timings have no noise floor: refused up front
        assert code == 2 and "emulated" in capsys.readouterr().err
        return
    assert code == 0
    assert "detectable" in capsys.readouterr().out
    runs = Store(str(store)).runs().to_pylist()
    from bench.plan import default_label

    label = default_label("smoke")  # the one default of a run's label, -A and -B added
    assert sorted(r["label"] for r in runs) == [f"{label}-A", f"{label}-B"]
    calibration = ds.dataset(
        f"{store}/calibration", format="parquet", partitioning="hive"
    ).to_table()
    assert calibration.num_rows == 1 and calibration.column("cv")[0].as_py() >= 0
    from bench import calibrate

    floor = calibrate.noise_floor(Store(str(store)), runs[0])
    stored = calibration.to_pylist()[0]
    assert floor == {
        "loan.limit[c-1t-0.002]": max(abs(stored["aa_ratio"] - 1), stored["detectable_change"])
    }
    code = cli.main(["compare", f"{label}-A", f"{label}-B", "--store", str(store)])
    assert code == 0
    assert "noise floor: 1 of 1 compared benchmark calibrated" in capsys.readouterr().out


def test_report_from_real_runs(store, tmp_path, capsys, host_emulated):
    out = tmp_path / "report"
    assert cli.main(["report", "first", "second", "--store", str(store), "-o", str(out)]) == 0
    html = (out / "report.html").read_text()
    # runs from an emulated host are reported, with no speed verdict and the reason
    assert ("NO SPEED VERDICT" in html and "ran under emulation" in html) is host_emulated
    # both machines' outputs agree, on any host; the per-benchmark speed table only where the
    # timings were compared (under emulation a benchmark is named only if it was noisy)
    assert "<tr><td>loan.limit</td><td>baseline</td><td>same</td></tr>" in html
    assert ("loan.limit[c-2t-0.002]</td>" in html) is not host_emulated
    assert "No cost file was given" in html
    assert (out / "report.pdf").stat().st_size > 10_000


def test_a_run_inside_a_pytest_xdist_worker_still_measures(tmp_path):
    """An enclosing pytest -n session leaves PYTEST_XDIST_WORKER in the environment, which
    makes pytest-benchmark disable itself; the run's worker must not inherit it (seen when the
    suite ran with -n under emulation: every run failed with "Can't have both
    --benchmark-only and --benchmark-disable")."""
    environment = {**os.environ, "PYTEST_XDIST_WORKER": "gw7", "PYTEST_XDIST_WORKER_COUNT": "8"}
    command = [sys.executable, "-m", "bench.cli", "run", "-p", "smoke", "-w", "loan.limit"]
    result = subprocess.run(
        [*command, "-e", "c", "-t", "1", "--store", str(tmp_path / "store")],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loan.limit[c-1t" in result.stdout


def test_a_run_records_how_the_pool_shares_and_waits_and_show_prints_it(tmp_path, capsys):
    """The pool's pieces and its yielding between calls change what a scaling figure
    measures: the run's record keeps them beside the allocator."""
    from workloads import _native

    store = tmp_path / "store"
    command = ["run", "-p", "smoke", "-w", "loan.limit", "-e", "c", "-t", "1"]
    assert cli.main([*command, "--store", str(store)]) == 0
    (run,) = Store(str(store)).runs().to_pylist()
    policy = json.loads(run["fingerprint_json"])["pool"]
    assert policy == _native.pool_policy() and "16 pieces" in policy and "5,000 µs" in policy
    capsys.readouterr()
    assert cli.main(["show", run["run_id"], "--store", str(store)]) == 0
    assert f"worker pool: {policy}" in capsys.readouterr().out


def test_show_gives_each_2_thread_benchmark_the_hosts_ceiling_around_it(store, capsys):
    assert cli.main(["show", "first", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    header = next(
        line for line in out.splitlines() if line.startswith("workload ") and "host 2t" in line
    )
    assert header.split()[-5:] == ["2t", "serial", "its", "cap", "verdict"]
    rows = [
        line for line in out.splitlines() if line.startswith(("loan.limit ", "ledger.smallbank "))
    ]
    judged = [line for line in rows if "%" in line.split()[2]]
    assert judged and all(line.split()[6].endswith("%") for line in judged)
    # the calling thread's own share of the 1-thread call, and the cap it sets (loan.limit's
    # probe, the triad, is one word: its columns 7 and 8)
    limit = [line.split() for line in rows if line.startswith("loan.limit ")]
    assert limit and all(re.fullmatch(r"\d+\.\d%", c[7]) and c[8].endswith("%") for c in limit)
    assert "the run's own probe gave" in out


def test_sigterm_while_the_run_probes_says_interrupted_and_stores_nothing(
    tmp_path, capsys, monkeypatch
):
    """The stop handler is in place before the probes (seconds at the full size): a SIGTERM
    there is an interruption the CLI names, not a silent death, and the handlers come back."""
    import signal
    import time

    from bench import probes

    def probing(size):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        raise AssertionError("SIGTERM did not stop the probes")

    monkeypatch.setattr(probes, "run", probing)
    before = signal.getsignal(signal.SIGTERM)
    store = tmp_path / "store"
    code = cli.main(["run", "-p", "smoke", "-w", "loan.limit", "-e", "c", "--store", str(store)])
    assert code != 0
    said = capsys.readouterr().err
    assert "bankbench: interrupted" in said
    assert "marked incomplete" not in said  # no run was stored to mark
    assert signal.getsignal(signal.SIGTERM) == before
    assert not (store / "runs").exists() or Store(str(store)).runs().num_rows == 0


def test_pytest_benchmarks_own_storage_stays_in_the_runs_scratch_folder(tmp_path):
    """A run left an empty .benchmarks/ folder in the user's current folder."""
    from bench import run as runner

    command = runner.worker_command(tmp_path / "job-0.json")
    assert f"--benchmark-storage=file://{tmp_path / 'pytest-benchmark'}" in command


def test_an_interrupted_run_is_named_as_kept_incomplete(tmp_path, capsys, monkeypatch):
    """Stopped between benchmarks, the CLI names the run it left incomplete (and only then:
    the same words after a stop while probing, or in another command, were untrue)."""
    import signal

    from bench import probes
    from bench import run as runner
    from workloads.errors import Stopped

    def stopped(*args, **kwargs):
        raise Stopped(signal.SIGINT)

    monkeypatch.setattr(probes, "run", lambda size: {})
    monkeypatch.setattr(runner, "_run_worker", stopped)
    store = tmp_path / "store"
    code = cli.main(["run", "-p", "smoke", "-w", "loan.limit", "-e", "c", "--store", str(store)])
    assert code == 128 + signal.SIGINT
    (run,) = Store(str(store)).runs().to_pylist()
    assert run["status"] == "incomplete"
    said = capsys.readouterr().err
    kept = f"run {run['run_id']} keeps the benchmarks that finished and is marked incomplete"
    assert kept in said
