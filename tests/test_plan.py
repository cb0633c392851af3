"""The Plan: every thread count asked for is measured and stored, the seed is the plan's, the
suite is parametrized from it, runs that cannot fit are refused, progress is visible."""

import io
import json
import os
import re
import subprocess
import sys
import warnings

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench import limits, plan, progress, run, summary
from bench.records import RUNS, SAMPLES, RunRecord, Sample
from bench.store import Store
from workloads.errors import BankbenchError


def bankbench(*args):
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True
    )


def stored(store, run_id):
    """(workload, threads, digest) of every batch sample of one run."""
    rows = Store(str(store)).samples([run_id]).to_pylist()
    return [
        (r["workload"], r["threads"], r["digest"], r["seed"])
        for r in rows
        if r["mode"] == "batch" and r["batch_size"] is None
    ]


def runs_by_label(store):
    return {r.label: r for r in Store(str(store)).run_records()}


@pytest.fixture(scope="module")
def threads_run(tmp_path_factory):
    """Five thread counts on a 2-CPU machine, above the core count too."""
    folder = tmp_path_factory.mktemp("store")
    result = bankbench(
        "run", "-p", "smoke", "-w", "loan.score,ledger.post", "-e", "c", "-t", "1,2,3,4,8",
        "--label", "five", "--store", str(folder),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder, result


def test_every_requested_thread_count_is_stored_with_one_digest(threads_run):
    folder, _ = threads_run
    record = runs_by_label(folder)["five"]
    rows = stored(folder, record.run_id)
    for workload in ("loan.score", "ledger.post"):
        assert {t for w, t, _, _ in rows if w == workload} == {1, 2, 3, 4, 8}, workload
        assert len({d for w, _, d, _ in rows if w == workload}) == 1, workload
    assert record.seed == plan.DEFAULT_SEED and record.plan["threads"] == [1, 2, 3, 4, 8]
    assert record.status == "complete"


def test_every_sample_carries_its_workloads_version_and_source_hash(threads_run):
    from workloads import registry

    folder, _ = threads_run
    rows = Store(str(folder)).samples([runs_by_label(folder)["five"].run_id]).to_pylist()
    for name in ("loan.score", "ledger.post"):
        workload = registry.get(name)
        keys = {
            (r["workload_version"], r["workload_source_sha256"])
            for r in rows
            if r["workload"] == name
        }
        assert keys == {(workload.version, workload.source_sha256())}, name
    assert registry.get("loan.score").version == 2  # the stored value is the declared one


def test_a_change_to_ledger_c_changes_only_the_hash_of_the_workloads_built_from_it(
    monkeypatch,
):
    import native
    from workloads import registry

    before = {name: registry.get(name).source_sha256() for name in registry.names()}
    built = native.file_sha256()
    changed = {**built, "src/ledger.c": "0" * 64}
    monkeypatch.setattr(native, "file_sha256", lambda: changed)
    after = {name: registry.get(name).source_sha256() for name in registry.names()}
    moved = sorted(name for name in before if before[name] != after[name])
    assert moved == ["ledger.eod", "ledger.post"]  # eod posts through the ledger
    changed_header = {**built, "include/bankcore.h": "0" * 64}
    monkeypatch.setattr(native, "file_sha256", lambda: changed_header)
    assert all(registry.get(n).source_sha256() != before[n] for n in before)  # shared: all


def test_progress_off_a_terminal_is_one_line_per_finished_benchmark(threads_run):
    _, result = threads_run
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    # 13 timed benchmarks, then ledger.post's open-loop sweep at each of the 5 thread counts
    assert len(lines) == 18 and lines[12].startswith("[13/18] ledger.post[c-1t-0.002-batch8189]")
    assert lines[-1].startswith("[18/18] ledger.post[c-open-loop-8t-0.1]")
    assert "\r" not in result.stderr and all("ETA" in line for line in lines)
    assert "seed 42" in result.stderr and "threads 1,2,3,4,8" in result.stderr


def test_max_is_every_usable_cpu_and_the_seed_changes_the_digests(threads_run):
    folder, _ = threads_run
    for label, seed in (("seven", "7"), ("seven-again", "7")):
        result = bankbench(
            "run", "-p", "smoke", "-w", "loan.score", "-e", "c", "-t", "max", "-r", "1",
            "--seed", seed, "--label", label, "--store", str(folder),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "seed 7" in result.stderr
    runs = runs_by_label(folder)
    seven, again, default = (
        stored(folder, runs[label].run_id) for label in ("seven", "seven-again", "five")
    )
    assert {t for _, t, _, _ in seven} == {plan.usable_cpus()}
    assert {s for *_, s in seven} == {7} and runs["seven"].seed == 7
    digest_of = {w: d for w, _, d, _ in default}
    assert {d for *_, d, _ in seven} == {d for *_, d, _ in again}
    assert {d for *_, d, _ in seven} != {digest_of["loan.score"]}
    shown = bankbench("show", "seven", "--store", str(folder)).stdout
    assert seven[0][2][:16] in shown and digest_of["loan.score"][:16] not in shown
    listed = bankbench("runs", "--store", str(folder)).stdout
    assert any("seven" in line and " 7 " in line for line in listed.splitlines())


def test_the_full_profile_stores_its_sweep(tmp_path):
    chosen = plan.resolve("full", ["loan.limit"], ["c"], scale=0.002, rounds=1, label="sweep")
    assert chosen.threads == plan.sweep(plan.usable_cpus())
    run_id = run.run(chosen, store_location=str(tmp_path), probes={})
    assert sorted({t for _, t, _, _ in stored(tmp_path, run_id)}) == list(chosen.threads)


def test_the_sweep_doubles_up_to_every_cpu():
    assert plan.sweep(1) == (1,)
    assert plan.sweep(6) == (1, 2, 4, 6)
    assert plan.sweep(128) == (1, 2, 4, 8, 16, 32, 64, 128)
    assert plan.parse_threads("1,max,1") == (1, plan.usable_cpus())
    with pytest.raises(BankbenchError):
        plan.parse_threads("0")


def test_the_suite_is_parametrized_from_the_plan_with_real_thread_counts(tmp_path):
    chosen = plan.resolve("smoke", ["ledger.post"], ["c"], threads=[3, 16], seed=5)
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"plan": chosen.to_dict()}))
    # no store or run: the plan alone, collected only
    result = subprocess.run(
        [sys.executable, "-m", "pytest", run.suite_folder(), "--collect-only", "-q",
         "-p", "no:cacheprovider", f"--bankbench-job={job}"],
        capture_output=True, text=True,
    )  # fmt: skip
    ids = [line for line in result.stdout.splitlines() if "::" in line]
    assert any(i.endswith("test_batch[ledger.post-c-16t]") for i in ids), result.stdout
    assert any(i.endswith("test_batch[ledger.post-c-3t]") for i in ids)
    assert len([i for i in ids if "test_batch[" in i]) == 2
    assert [c.name(chosen.scale) for c in chosen.cases()][:2] == [
        "ledger.post[c-3t-0.002]",
        "ledger.post[c-16t-0.002]",
    ]


def test_a_missing_benchmark_makes_the_run_incomplete(tmp_path, monkeypatch):
    """Should a worker store fewer benchmarks than the plan has, the run says which and is
    not complete."""
    chosen = plan.resolve("smoke", ["loan.limit"], ["c"], threads=[1, 2], rounds=1, label="short")
    real_cases = plan.Plan.cases

    def one_more(self):
        return [*real_cases(self), plan.Case(plan.BATCH, "loan.limit", "c", 5)]

    monkeypatch.setattr(run, "_cases_of", lambda p: one_more(p))
    with pytest.raises(BankbenchError, match=r"loan.limit\[c-5t-0.002\]"):
        run.run(chosen, store_location=str(tmp_path), probes={})
    assert runs_by_label(tmp_path)["short"].status == "incomplete"


def test_a_plan_too_big_for_memory_is_refused_up_front(tmp_path):
    store = tmp_path / "store"
    result = bankbench("run", "-p", "smoke", "-w", "ledger.post", "-e", "c", "-s", "50",
                       "--store", str(store))  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "ledger.post (c) at scale 50 needs about" in result.stderr
    assert "GiB is available" in result.stderr
    assert not store.exists()  # refused before anything was written
    model = {
        "worker_base_bytes": 100,
        "workloads": {
            "loan.limit": {"c": {"growth_fixed_bytes": 10, "growth_bytes_per_scale": 1000}}
        },
    }
    small = plan.resolve("smoke", ["loan.limit"], ["c"], scale=1)
    limits.check(small, available=1110, model=model)
    with pytest.raises(limits.ResourceError, match="needs about"):
        limits.check(small, available=1109, model=model)
    # a worker generates its inputs first: where that peak is the larger, it decides
    entry = model["workloads"]["loan.limit"]["c"]
    entry.update(worker_fixed_bytes=10, worker_bytes_per_scale=3000)
    limits.check(small, available=3110, model=model)
    with pytest.raises(limits.ResourceError, match="needs about"):
        limits.check(small, available=3109, model=model)


def test_the_model_fits_the_run_and_the_worker_peak_by_scale(tmp_path, monkeypatch):
    """bankbench memory --write-model: a straight line per peak through the measured scales;
    what was measured before of other workloads stays."""
    monkeypatch.setattr(limits, "MODEL", tmp_path / "model.json")
    other = {"c": {"growth_fixed_bytes": 1, "growth_bytes_per_scale": 2, "scales": [1, 2]}}
    limits.MODEL.write_text(json.dumps({"worker_base_bytes": 50, "workloads": {"x": other}}))
    rows = [
        {"workload": "ledger.post", "engine": "c", "scale": s, "rss_before_bytes": 70,
         "rss_growth_bytes": 100 + 400 * s, "worker_peak_bytes": 300 + 1100 * s}
        for s in (0.25, 1.0)
    ]  # fmt: skip
    model = limits.write_model(rows)
    assert model["workloads"]["ledger.post"]["c"] == {
        "scales": [0.25, 1.0],
        "growth_fixed_bytes": 100,
        "growth_bytes_per_scale": 400,
        "worker_fixed_bytes": 300,
        "worker_bytes_per_scale": 1100,
    }
    assert model["workloads"]["x"] == other and model["worker_base_bytes"] == 70
    assert limits.estimate_bytes(model, "ledger.post", "c", 2) == 70 + 300 + 2200


def test_a_measuring_child_killed_by_a_signal_is_one_line_naming_it(monkeypatch):
    """The kernel's out-of-memory killer ends a child with SIGKILL and no output: the error
    says so (it was an IndexError traceback for the run's child, 'no output' for the
    worker's)."""
    from bench import memory

    run_process = subprocess.run

    def killed(command, **kwargs):  # a child that really dies of the signal
        suicide = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
        return run_process([sys.executable, "-c", suicide], **kwargs)

    monkeypatch.setattr(memory.subprocess, "run", killed)
    with pytest.raises(BankbenchError) as run_child:
        memory.measure("loan.score", "c", 1, 0.001)
    with pytest.raises(BankbenchError) as worker_child:
        memory.worker_peak_bytes("loan.score", "c", 1, 0.001, 42)
    for error in (run_child.value, worker_child.value):
        assert "killed by SIGKILL" in str(error) and "out of memory" in str(error)
        assert len(str(error).splitlines()) == 1
    assert "as a worker" in str(worker_child.value)


@pytest.mark.parametrize(
    "arguments, said",
    [
        (["-w", "ledger.post", "-e", "numpy", "--write-model", "-s", "0.01,0.02"],
         "nothing to measure"),
        (["-w", "loan.score", "-s", "0.01", "--write-model"], "two scales or more"),
    ],
)  # fmt: skip
def test_memory_refuses_what_it_cannot_measure_or_model_before_measuring(
    arguments, said, tmp_path, monkeypatch, capsys
):
    from bench import cli, memory

    monkeypatch.setattr(limits, "MODEL", tmp_path / "model.json")
    limits.MODEL.write_text("{}")

    def measured(*args, **kwargs):
        raise AssertionError("measured before refusing")

    monkeypatch.setattr(memory, "measure", measured)
    assert cli.main(["memory", *arguments]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.splitlines()) == 1
    assert limits.MODEL.read_text() == "{}"  # no model written of nothing


@pytest.mark.parametrize(
    "failure",
    [
        FileNotFoundError(2, "No such file or directory", "/proc/meminfo"),  # a chroot
        __import__("psutil").AccessDenied(),
    ],
)
def test_unknown_available_memory_skips_the_check_with_one_warning(monkeypatch, failure):
    import psutil

    def unreadable():
        raise failure

    monkeypatch.setattr(psutil, "virtual_memory", unreadable)
    assert limits.available_bytes() is None
    # a plan no machine could hold: a check that ran would refuse it
    huge = {"growth_fixed_bytes": 10**18, "growth_bytes_per_scale": 0}
    model = {"worker_base_bytes": 100, "workloads": {"loan.limit": {"c": huge}}}
    small = plan.resolve("smoke", ["loan.limit"], ["c"], scale=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        limits.check(small, model=model)  # skipped: no ResourceError
    assert len(caught) == 1, [str(w.message) for w in caught]
    assert re.search("memory available is unknown .* check is skipped", str(caught[0].message))


def test_a_store_that_is_a_file_is_refused_by_every_command(tmp_path):
    a_file = tmp_path / "results"
    a_file.write_text("not a store")
    for args in (
        ("runs",),
        ("show", "x"),
        ("export", "x"),
        ("import", str(a_file)),
        ("compare", "a", "b"),
        ("run", "-p", "smoke", "-w", "loan.limit"),
        ("calibrate", "-p", "smoke", "-w", "loan.limit"),
    ):
        result = bankbench(*args, "--store", str(a_file))
        assert result.returncode == 2 and "is not a folder" in result.stderr, (args, result.stderr)
        assert "probing" not in result.stderr and result.stderr.count("\n") == 1
    result = bankbench("report", "a", "b", "--store", str(a_file), "-o", str(tmp_path / "out"))
    assert result.returncode == 2 and "is not a folder" in result.stderr


def test_records_are_the_schema_and_version_1_stores_still_read(tmp_path):
    assert RUNS.names == [c for c in RUNS.names] and {"seed", "plan_json", "placement_json"} <= set(
        RUNS.names
    )
    assert "measure" in SAMPLES.names and SAMPLES.field("threads").type == pa.int32()
    record = RunRecord.start("r1", "old", {"arch": "x86_64", "hostname": "h"}, profile="smoke")
    assert RunRecord.from_row(record.to_row()) == record
    # a version-1 store: the columns it had, no seed, plan or measure
    old_runs = pa.schema([f for f in RUNS if f.name not in ("seed", "plan_json", "placement_json")])
    newer = ("measure", "workload_version", "workload_source_sha256")  # schema 2 and 3
    old_samples = pa.schema([f for f in SAMPLES if f.name not in newer])
    row = {**record.to_row(), "schema_version": 1}
    (tmp_path / "runs" / "arch=x86_64" / "host=h").mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist([{k: row[k] for k in old_runs.names}], schema=old_runs),
        tmp_path / "runs" / "arch=x86_64" / "host=h" / "r1.parquet",
    )
    sample = Sample(run_id="r1", benchmark="loan.limit[c-1t-1.0]", workload="loan.limit",
                    threads=1, seconds=0.5)  # fmt: skip
    folder = tmp_path / "samples" / "arch=x86_64" / "host=h" / "run=r1"
    folder.mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist(
            [{k: sample.to_row()[k] for k in old_samples.names}], schema=old_samples
        ),
        folder / "00-0000-x.parquet",
    )
    store = Store(str(tmp_path))
    (old,) = store.run_records()
    assert old.schema_version == 1 and old.seed is None and old.plan is None
    assert old.fingerprint == {"arch": "x86_64", "hostname": "h"}
    (read,) = store.samples(["r1"]).to_pylist()
    assert read["seconds"] == 0.5 and read["measure"] is None
    assert read["workload_version"] is None and read["workload_source_sha256"] is None


def test_pinned_threads_each_run_on_their_own_cpu():
    from workloads import _native

    where = run.placement()
    cpus = sorted(os.sched_getaffinity(0))
    assert sorted(where["cpus"]) == cpus
    seen = []
    _native.pin_threads(where["cpus"])
    try:
        _native.run_parallel([lambda: seen.append(os.sched_getaffinity(0)) for _ in cpus])
    finally:
        _native.pin_threads([])
        os.sched_setaffinity(0, cpus)
    assert sorted(seen, key=min) == [{c} for c in cpus]


def test_the_live_line_names_the_benchmark_and_its_eta():
    out = io.StringIO()
    bar = progress.Progress(3, out, live=True)
    bar.start("loan.score[c-1t-0.05]")
    bar.finish("loan.score[c-1t-0.05]")
    bar.start("loan.score[c-2t-0.05]")
    text = out.getvalue()
    assert text.count("\r") == 2 and "\n" not in text
    assert "[2/3] loan.score[c-2t-0.05]" in text and "ETA" in text


def test_a_failing_worker_shows_why():
    output = "\n".join(
        [
            "....F",
            "E   MemoryError: Unable to allocate 40.0 GiB for an array",
            "FAILED bench/suite/test_workloads.py::test_batch[ledger.post-c-1t] - MemoryError",
            "1 failed, 4 passed",
        ]
    )
    shown = run.failure_text(output)
    assert "MemoryError: Unable to allocate 40.0 GiB" in shown and "FAILED" in shown


def test_ledger_threads_above_the_cpu_count_give_the_one_thread_digest():
    """16 threads of ledger.post (or 8 per usable CPU) complete on fewer CPUs with the
    1-thread digest. That waiters sleep rather than yield is a speed property, measured with
    `bankbench run -w ledger.post -e c -t 2,8,16 -s 1` and by context switches (spinning then
    yielding: ~150,000-400,000 involuntary switches per run at scale 1 on 2 CPUs; sleeping:
    under 1,000 on a quiet host), not asserted here: the host's own load moves that count
    (65,605 seen at load 15)."""
    from workloads import registry

    workload = registry.get("ledger.post")
    inputs = workload.generate(scale=0.2, seed=7)
    expected = workload.digest(workload.run(inputs, "c", 1))
    threads = max(16, 8 * plan.usable_cpus())
    assert workload.digest(workload.run(inputs, "c", threads)) == expected


def test_thread_lists_with_an_empty_item_or_too_many_threads_are_refused():
    for text in ("1,,2", ",1", "1,"):
        with pytest.raises(BankbenchError, match="empty item"):
            plan.parse_threads(text)
    with pytest.raises(BankbenchError, match=f"maximum, {plan.THREADS_MAX}"):
        plan.parse_threads(str(plan.THREADS_MAX + 1))
    assert plan.parse_threads(str(plan.THREADS_MAX)) == (plan.THREADS_MAX,)
    for threads in ("1,,2", "100000"):
        result = bankbench("run", "-t", threads, "--store", "unused")
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr


def test_a_worker_killed_by_a_signal_says_so(tmp_path, monkeypatch, capsys):
    kill = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    monkeypatch.setattr(run, "worker_command", lambda job_path: [sys.executable, "-c", kill])
    with pytest.raises(BankbenchError) as raised:
        bar = progress.Progress(1, stream=io.StringIO())
        run._run_worker({"process": 0}, tmp_path, bar, run.modes.Worker())
    message = str(raised.value)
    assert "killed by signal 9 (SIGKILL: out of memory, or killed by hand)" in message
    assert "above" not in message and "printed nothing" in message
    assert capsys.readouterr().err == ""


def test_sub_microsecond_medians_keep_their_digits(capsys):
    assert summary.duration(4.2e-7) == "420.00ns"
    assert summary.duration(3.5e-6) == "3.50µs"
    assert summary.duration(0.0123) == "12.30ms"
    assert summary.duration(2.5) == "2.50s"
    row = {
        "benchmark": "imported[fast]",
        "workload": "imported",
        "engine": "python",
        "mode": "batch",
        "batch_size": None,
        "threads": 1,
        "median_s": 2.5e-7,
        "cv": 0.01,
        "units_per_s": None,
        "latency_us_p99": None,
        "digest": "",
        "digest_ok": None,
        "harness_overhead": None,
    }
    summary.print_table([row])
    assert "250.00ns" in capsys.readouterr().out


def test_capacity_on_several_shards_stores_its_digest(tmp_path):
    label = "\x1b[31mR\u202eX\r\nY"
    result = bankbench(
        "run", "-p", "smoke", "-w", "loan.decide", "-e", "c", "-t", "1,2",
        "--label", label, "--store", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not any(c in result.stdout + result.stderr for c in ("\x1b", "\u202e", "\r"))
    assert "(\\x1b[31mR\\u202eX\\r\\nY)" in result.stderr  # the banner
    [run_id] = [r.run_id for r in Store(str(tmp_path)).run_records()]
    rows = Store(str(tmp_path)).samples([run_id]).to_pylist()
    capacity = [r for r in rows if r["mode"] == "capacity"]
    assert {r["threads"] for r in capacity} == {1, 2}
    assert all(r["digest"] for r in capacity)
    # one answer per thread count, whatever the micro-batch size
    per_threads = {t: {r["digest"] for r in capacity if r["threads"] == t} for t in (1, 2)}
    assert all(len(d) == 1 for d in per_threads.values())
    assert per_threads[1] == {r["digest"] for r in rows if r["mode"] == "batch"}
    table = summary.summarize(Store(str(tmp_path)).samples([run_id]))
    assert all(r["digest_ok"] is True for r in table)
