"""The store loses nothing silently: corrupt files, folder names, copies, dead runs, durable
writes. Every command that reads a damaged store names the damage in one line, refuses a run
whose files it cannot read, and changes no stored byte."""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import types

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from bench import cli, store_files
from bench.store import Store

RUN = ["run", "-p", "smoke", "-w", "loan.limit", "-e", "c", "-t", "1,2"]
BENCHMARKS = {"loan.limit[c-1t-0.002]", "loan.limit[c-2t-0.002]"}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """Two real smoke runs (base, cand) that every corruption case starts from."""
    folder = tmp_path_factory.mktemp("pristine")
    for label in ("base", "cand"):
        assert cli.main([*RUN, "--label", label, "--store", str(folder)]) == 0
    return folder


def _digest(folder: pathlib.Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _run_id(store: pathlib.Path, label: str) -> str:
    return Store(str(store)).find_run(label)["run_id"]


def _samples_of(store: pathlib.Path, label: str) -> list[pathlib.Path]:
    return sorted(store.glob(f"samples/*/*/run={_run_id(store, label)}/*.parquet"))


def _run_file(store: pathlib.Path, label: str) -> pathlib.Path:
    run_id = _run_id(store, label)
    return next(store.glob(f"runs/*/*/{run_id}.parquet"))


# ---- the damage, each applied to a fresh copy of the pristine store ----
def truncated(store):
    victim = _samples_of(store, "cand")[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    return victim, "unreadable"


def random_bytes(store):
    victim = _samples_of(store, "cand")[0]
    victim.write_bytes(os.urandom(victim.stat().st_size))
    return victim, "unreadable"


def zero_bytes_run(store):
    victim = _run_file(store, "cand")
    victim.write_bytes(b"")
    return victim, "run unreadable"


def wrong_schema(store):
    victim = _samples_of(store, "cand")[1]
    pq.write_table(pa.table({"benchmark": ["x"], "seconds": ["fast"]}), victim)
    return victim, "unreadable"


def value_out_of_range(store):
    """A column of a wider type than the store's holding a value its type cannot: threads_used
    (int32) written as int64 2**40 by hand."""
    victim = _samples_of(store, "cand")[1]
    table = pq.read_table(victim)
    index = table.schema.get_field_index("threads_used")
    wide = pa.array([2**40] * table.num_rows, pa.int64())
    pq.write_table(table.set_column(index, "threads_used", wide), victim)
    return victim, "values unreadable"  # found when its run's samples are read, not before


def bad_folder_value(store):
    """threads=abc: a folder named like a column, with a value that is not one."""
    victim = _samples_of(store, "cand")[0]
    folder = victim.parent / "threads=abc"
    folder.mkdir()
    victim.rename(folder / victim.name)
    return folder, "warned"


def copied_files(store):
    """A run's file and one of its sample files copied under other names."""
    sample = _samples_of(store, "cand")[0]
    shutil.copy(sample, sample.parent / "99-9999-copy.parquet")
    shutil.copy(_run_file(store, "cand"), _run_file(store, "cand").parent / "copy.parquet")
    return _run_file(store, "cand").parent / "copy.parquet", "warned"


def status_folder(store):
    """An incomplete run filed under status=complete/: the folder must not complete it."""
    victim = _run_file(store, "cand")
    table = pq.read_table(victim)
    table = table.set_column(
        table.schema.get_field_index("status"), "status", pa.array(["incomplete"])
    )
    folder = victim.parent / "status=complete"
    folder.mkdir()
    pq.write_table(table, folder / victim.name)
    victim.unlink()
    return folder, "warned"


DAMAGE = [
    truncated,
    random_bytes,
    zero_bytes_run,
    wrong_schema,
    value_out_of_range,
    bad_folder_value,
    copied_files,
    status_folder,
]


def _bankbench(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    for line in err.splitlines():  # each warning and error is one whole line
        assert ("warning:" not in line and "error:" not in line) or line.startswith("bankbench: ")
    return code, out, err


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_every_command_names_the_damage_and_changes_nothing(
    damage, pristine, tmp_path, capsys, host_emulated
):
    store = tmp_path / "store"
    shutil.copytree(pristine, store)
    samples_before = {
        label: len(Store(str(store)).samples([_run_id(store, label)]).to_pylist())
        for label in ("base", "cand")
    }
    victim, kind = damage(store)
    before = _digest(store)
    s = str(store)

    named_early = kind != "values unreadable"  # by every command, before reading samples
    code, out, err = _bankbench(capsys, "runs", "--store", s)
    assert code == 0 and (str(victim) in err or not named_early)
    assert "base" in out
    if kind == "run unreadable":
        assert "cand" not in out
    else:
        assert "cand" in out

    code, out, err = _bankbench(capsys, "show", "base", "--store", s)
    assert code == 0 and (str(victim) in err or not named_early)  # other runs' damage too
    assert all(name in out for name in BENCHMARKS)

    commands = [
        ("show", "cand"),
        ("export", "cand", "--format", "json"),
        ("compare", "base", "cand", "--noise-floor", "0"),
        ("report", "base", "cand", "-o", str(tmp_path / "report")),
    ]
    for command in commands:
        code, out, err = _bankbench(capsys, *command, "--store", s)
        assert str(victim) in err, (command, err)
        if kind.endswith("unreadable"):
            assert code == 2, (command, out)
            assert err.splitlines()[-1].startswith("bankbench: error: ")
            assert str(victim) in err.splitlines()[-1]
        else:  # under qemu-user compare refuses the emulated timings (exit 4) after reading
            refused = host_emulated and command[0] == "compare"
            assert code == (4 if refused else 0), (command, err)
            if command[0] == "show":
                assert all(name in out for name in BENCHMARKS)
                if damage is copied_files:
                    assert "99-9999-copy.parquet holds samples already read" in err
    assert _digest(store) == before

    if kind == "warned":  # the damage is named, and nothing is lost or counted twice
        cand = Store(s).find_run("cand")
        assert cand["status"] == ("incomplete" if damage is status_folder else "complete")
        rows = Store(s).samples([cand["run_id"]]).to_pylist()
        assert {r["benchmark"] for r in rows} == BENCHMARKS
        assert len(rows) == samples_before["cand"]


def test_hive_folder_names_never_replace_stored_columns(tmp_path):
    """pyarrow's dataset discovery would read status=complete/ as the run's status."""
    store = tmp_path / "store"
    folder = store / "runs" / "status=complete"
    folder.mkdir(parents=True)
    row = {name: [None] for name in Store(str(store)).runs().schema.names}
    row.update(run_id=["r1"], label=["x"], status=["incomplete"], fingerprint_json=["{}"])
    pq.write_table(pa.table(row, schema=Store(str(store)).runs().schema), folder / "r1.parquet")
    with pytest.warns(UserWarning, match="status=complete"):
        assert Store(str(store)).find_run("r1")["status"] == "incomplete"


def test_a_local_write_is_fsynced_around_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor):
        events.append(("fsync", os.path.realpath(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def replace(source, target):
        events.append(("rename", target))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "new" / "folder" / "file.parquet"
    store_files.write(pafs.LocalFileSystem(), pa.table({"a": [1]}), str(target))
    rename = events.index(("rename", str(target)))
    before, after = events[:rename], events[rename + 1 :]
    assert any(kind == "fsync" and path.endswith(".tmp") for kind, path in before)  # the data
    assert ("fsync", str(target.parent)) in after  # the rename itself
    assert ("fsync", str(tmp_path / "new")) in before  # the new folders in their parents
    assert pq.read_table(target).to_pylist() == [{"a": 1}]
    assert [p.name for p in target.parent.iterdir()] == ["file.parquet"]  # no temporary left


# ---- runs whose process died ----
def _run_row(**owner):
    return {"status": "running", "started_at": None, **owner}


def test_a_running_run_whose_owner_is_gone_reads_abandoned():
    import datetime
    import socket
    import subprocess
    import sys

    from bench import liveness

    here = liveness.owner()
    assert liveness.status(_run_row(**here)) == "running"  # this very process
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert liveness.status(_run_row(**{**here, "owner_pid": gone.pid})) == "abandoned"
    rebooted = {**here, "owner_boot_id": "00000000-0000-0000-0000-000000000000"}
    assert liveness.status(_run_row(**rebooted)) == "abandoned"
    later = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    reused = {**here, "started_at": later}  # a pid that started after the run: not its owner
    assert liveness.status({**_run_row(**here), **reused}) == "abandoned"
    elsewhere = {**here, "owner_host": socket.gethostname() + "-other", "owner_pid": gone.pid}
    assert liveness.status(_run_row(**elsewhere)) == "running"  # cannot be checked from here
    assert liveness.status({"status": "complete"}) == "complete"


def test_a_live_owner_reads_running_where_proc_cannot_be_read(monkeypatch):
    """In a chroot without /proc psutil finds no process at all (NoSuchProcess, even for
    itself): a live run read there must not say abandoned; a dead owner still does."""
    import subprocess
    import sys

    import psutil

    from bench import liveness

    def no_proc(pid=None):
        raise psutil.NoSuchProcess(pid, msg="process PID not found (no /proc)")

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    monkeypatch.setattr(psutil, "Process", no_proc)
    monkeypatch.setattr(liveness, "boot_id", lambda: None)
    here = liveness.owner()
    assert here["owner_boot_id"] is None
    assert liveness.status(_run_row(**here)) == "running"
    assert liveness.status(_run_row(**{**here, "owner_pid": gone.pid})) == "abandoned"


def test_a_worker_whose_parent_is_gone_writes_nothing(tmp_path, monkeypatch):
    from bench import liveness
    from bench.store import StoreError

    run = {"run_id": "r", "fingerprint_json": "{}"}
    monkeypatch.setenv(liveness.PARENT_PID_VARIABLE, str(os.getppid() + 1))
    with pytest.raises(StoreError, match="is gone"):
        Store(str(tmp_path)).write_samples(run, "b", [{"run_id": "r", "seconds": 1.0}])
    assert not list(tmp_path.rglob("*.parquet"))
    monkeypatch.setenv(liveness.PARENT_PID_VARIABLE, str(os.getppid()))
    Store(str(tmp_path)).write_samples(run, "b", [{"run_id": "r", "seconds": 1.0}])
    assert len(list(tmp_path.rglob("*.parquet"))) == 1


def _running(processes) -> list:
    """Those still running (a zombie is dead: only its exit status waits to be collected)."""
    import psutil

    alive = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_sigkill_mid_run_leaves_an_abandoned_run_and_no_worker(tmp_path, capsys, monkeypatch):
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    import psutil

    store, scratch = tmp_path / "store", tmp_path / "tmp"
    scratch.mkdir()
    command = [sys.executable, "-m", "bench.cli", "run", "-p", "smoke", "-e", "python"]
    parent = subprocess.Popen(
        [*command, "-w", "ledger.*,loan.*", "-s", "0.02", "--store", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    try:
        deadline = time.monotonic() + 300
        workers: list = []
        while time.monotonic() < deadline and parent.poll() is None:
            workers = psutil.Process(parent.pid).children(recursive=True)
            if workers and any(store.glob("samples/**/*.parquet")):
                break  # mid-run: a worker is measuring and has written a benchmark
            time.sleep(0.1)
        assert workers and parent.poll() is None, "the run ended before it could be killed"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        killed = time.monotonic()
        while _running(workers) and time.monotonic() < killed + 1.0:
            time.sleep(0.02)
        assert not _running(workers), "a worker outlived its parent by more than a second"
    finally:
        if parent.poll() is None:
            parent.kill()
    assert cli.main(["runs", "--store", str(store)]) == 0
    assert "abandoned" in capsys.readouterr().out
    assert Store(str(store)).runs().to_pylist()[0]["status"] == "abandoned"
    # its scratch folder stays behind, named for its owner; the next run removes it
    (left,) = scratch.iterdir()
    assert left.name.startswith("bankbench-") and f"-{parent.pid}-" in left.name
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    quick = ["run", "-p", "smoke", "-w", "loan.limit", "-e", "c", "-t", "1"]
    assert cli.main([*quick, "--store", str(tmp_path / "next")]) == 0
    assert list(scratch.iterdir()) == []


def test_only_scratch_folders_of_provably_dead_runs_are_removed(tmp_path):
    """Two concurrent runs must both keep their folders: only an owner that is gone (no such
    process, or a zombie) loses it. A live number with another start time keeps it: under
    qemu-user a run's own start time (its /proc/self/stat, written by the emulator) is not
    the one other processes read, and the sweep removed live runs' folders there."""
    import subprocess
    import sys

    from bench import liveness

    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        dead.wait()
        ours = liveness.scratch_prefix()
        assert ours.count("-") == 4, "no /proc here: scratch folders are never removed"
        tag, pid, ticks = ours.split("-")[1:4]
        alive_ticks = liveness._stat(alive.pid)[1]
        folders = {
            "this": f"{ours}a1",
            "concurrent": f"bankbench-{tag}-{alive.pid}-{alive_ticks}-b2",
            "killed": f"bankbench-{tag}-{dead.pid}-{ticks}-c3",
            "other start": f"bankbench-{tag}-{alive.pid}-{int(alive_ticks) - 1}-d4",
            "other boot": f"bankbench-00000000-{dead.pid}-{ticks}-e5",
            "unnamed": "bankbench-f6g7h8i9",  # before owners were named: cannot tell
        }
        for name in folders.values():
            (tmp_path / name).mkdir()
            (tmp_path / name / "job-0.json").write_text("{}")
        (tmp_path / f"bankbench-{tag}-{dead.pid}-{ticks}-file").write_text("not a folder")
        removed = liveness.remove_abandoned_scratch(str(tmp_path))
        assert removed == [folders["killed"]]
        kept = {p.name for p in tmp_path.iterdir()}
        live = ("this", "concurrent", "other start", "other boot", "unnamed")
        assert kept == {folders[k] for k in live} | {f"bankbench-{tag}-{dead.pid}-{ticks}-file"}
    finally:
        alive.kill()
        alive.wait()


# ---- listing ----
def test_runs_lists_each_runs_measurement_mode(tmp_path, capsys):
    """`bankbench runs` had no column for how a run measured; a store written before the mode
    was recorded (no plan, or a plan without it) and an imported run read as time."""
    import json

    from bench.records import RunRecord

    store = Store(str(tmp_path))
    plans = {
        "counted": {"measure": "instructions"},
        "perf": {"measure": "counters"},
        "clock": {"measure": "time"},
        "older": {"profile": "smoke"},  # a plan from before measurement modes
        "imported": None,
    }
    for label, plan in plans.items():
        store.write_run(
            RunRecord.start(
                f"2026112{len(label)}T000000-{label}",
                label,
                {},
                profile="smoke",
                status="complete",
                plan=plan,
            )  # fmt: skip
        )
    assert cli.main(["runs", "--store", str(tmp_path)]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:6] == ["run", "label", "status", "profile", "measure", "seed"]
    measure_at = header.index("measure")
    shown = {row.split()[1]: row[measure_at:].split()[0] for row in rows}
    assert shown == {
        "counted": "instructions",
        "perf": "counters",
        "clock": "time",
        "older": "time",
        "imported": "time",
    }
    assert cli.main(["runs", "--json", "--store", str(tmp_path)]) == 0
    listed = {r["label"]: r["measure"] for r in json.loads(capsys.readouterr().out)}
    assert listed == shown


@pytest.mark.parametrize("location", ["ftp://x/y", "abfs://x/y", "nosuch+scheme://a/b"])
def test_a_store_uri_pyarrow_cannot_open_is_refused_not_made_a_folder(
    tmp_path, monkeypatch, capsys, location
):
    """An unknown scheme used to become a local folder ("./ftp:/x/y") and a run went there."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(store_files.StoreError, match="use a folder, or a file://, s3:// or gs://"):
        Store(location)
    assert cli.main(["runs", "--store", location]) == 2
    assert "cannot open the results store" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_gcs_store_retries_for_seconds_not_pyarrows_fifteen_minutes(monkeypatch):
    """Without credentials or network, pyarrow's GCS client retried for 15 minutes inside
    C++, deaf to Ctrl-C: `bankbench runs --store gs://…` hung."""
    asked = []

    def from_uri(uri):
        asked.append(uri)
        return pafs.LocalFileSystem(), "/"

    fake = types.SimpleNamespace(FileSystem=types.SimpleNamespace(from_uri=from_uri))
    monkeypatch.setattr(store_files, "pafs", fake)
    store_files.filesystem("gs://bucket/results")
    store_files.filesystem("gcs://bucket/results?endpoint_override=localhost:1")
    store_files.filesystem("gs://bucket/results?retry_limit_seconds=3")
    assert asked == [
        f"gs://bucket/results?retry_limit_seconds={store_files.GCS_RETRY_LIMIT_S}",
        "gcs://bucket/results?endpoint_override=localhost:1"
        f"&retry_limit_seconds={store_files.GCS_RETRY_LIMIT_S}",
        "gs://bucket/results?retry_limit_seconds=3",
    ]
