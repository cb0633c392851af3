"""The fleet store on a real S3 endpoint: an S3-compatible server (moto in server mode) on
loopback, three `bankbench run` processes writing into one s3:// store at once, then runs,
show, compare and report reading it back. And on an object store every Parquet object is
written whole under its final key: no temporary object, no copy, no rename."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from bench import cli
from bench.store import Store

ROUNDS = 4
BENCHMARKS = {"loan.limit[c-1t-0.002]", "loan.limit[c-2t-0.002]"}
CREDENTIALS = {  # moto accepts any; pyarrow must not go looking for real ones
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="module")
def endpoint():
    """host:port of an S3-compatible server started here, on loopback."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:
        pytest.skip(f"moto[server] is not installed ({error}); pip install -e '.[test]'")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
    except (OSError, RuntimeError) as error:
        pytest.skip(f"the S3 server (moto) cannot start on loopback: {error}")
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


@pytest.fixture
def s3_store(endpoint, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = f"bankbench-{os.getpid()}"
    pafs.S3FileSystem(
        endpoint_override=endpoint, scheme="http", region="us-east-1", allow_bucket_creation=True
    ).create_dir(bucket)
    return f"s3://{bucket}/fleet?endpoint_override={endpoint}&scheme=http&region=us-east-1"


def _single_put() -> bool:
    """Whether this pyarrow can upload a small object as one PutObject (allow_delayed_open)."""
    try:
        pafs.S3FileSystem(anonymous=True, allow_delayed_open=True)
    except TypeError:
        return False
    return True


def _objects(location: str) -> list[str]:
    store = Store(location)
    listing = store.fs.get_file_info(pafs.FileSelector(store.root, recursive=True))
    return [f.path for f in listing if f.type == pafs.FileType.File]


def test_three_concurrent_writers_into_one_s3_store(
    s3_store, tmp_path, capsys, caplog, host_emulated
):
    caplog.set_level(logging.INFO, logger="werkzeug")  # the S3 server's request log
    command = [sys.executable, "-m", "bench.cli", "run", "-p", "smoke", "-w", "loan.limit"]
    command += ["-e", "c", "-t", "1,2", "-r", str(ROUNDS), "--store", s3_store]
    writers = [
        subprocess.Popen(
            [*command, "--label", f"fleet-{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **CREDENTIALS},
        )
        for i in range(3)
    ]
    for writer in writers:
        out, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err

    store = Store(s3_store)
    runs = store.runs().to_pylist()
    assert sorted(r["label"] for r in runs) == ["fleet-0", "fleet-1", "fleet-2"]
    assert {r["status"] for r in runs} == {"complete"}
    for run in runs:  # every sample of every benchmark of every writer
        rows = store.samples([run["run_id"]]).to_pylist()
        per_benchmark = {name: 0 for name in BENCHMARKS}
        for row in rows:
            per_benchmark[row["benchmark"]] += 1
        assert per_benchmark == {name: ROUNDS for name in BENCHMARKS}, run["label"]
    assert not store.unreadable
    objects = _objects(s3_store)
    assert objects and all(p.endswith(".parquet") for p in objects)  # nothing temporary
    requests = [r.getMessage() for r in caplog.records if "HTTP/1.1" in r.getMessage()]
    puts = {m.split(" /", 1)[1].split(" HTTP/1.1")[0] for m in requests if '"PUT /' in m}
    if _single_put():
        # each object went up as one PUT under its final key: no multipart, no copy
        assert puts == set(objects)
        assert not [m for m in requests if "?uploads" in m or "uploadId=" in m]

    assert cli.main(["runs", "--store", s3_store]) == 0
    listed = capsys.readouterr().out
    assert all(f"fleet-{i}" in listed for i in range(3))
    assert cli.main(["show", "fleet-1", "--store", s3_store]) == 0
    shown = capsys.readouterr()
    assert all(name in shown.out for name in BENCHMARKS), shown
    compared_code = cli.main(["compare", "fleet-0", "fleet-2", "--store", s3_store])
    compared = capsys.readouterr()
    if host_emulated:  # the suite under qemu-user: emulated timings are refused
        assert compared_code == 4 and "emulated" in compared.out, compared
    else:
        assert compared_code == 0 and all(name in compared.out for name in BENCHMARKS), compared
    out = tmp_path / "report"
    code = cli.main(
        ["report", "fleet-0", "fleet-1", "fleet-2", "--store", s3_store, "-o", str(out)]
    )
    assert code == 0 and (out / "report.html").exists()


class _Recording(pafs.FileSystemHandler):
    """A filesystem that behaves like an object store's client and records every call."""

    def __init__(self, base: pafs.FileSystem):
        self.base, self.calls = base, []

    def _record(self, name, *args):
        self.calls.append((name, *args))

    def get_type_name(self):
        return "recording"

    def get_file_info(self, paths):
        return self.base.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.base.get_file_info(selector)

    def create_dir(self, path, recursive):
        self.base.create_dir(path, recursive=recursive)

    def delete_dir(self, path):
        self._record("delete_dir", path)
        self.base.delete_dir(path)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self._record("delete_dir_contents", path)
        self.base.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self):
        self._record("delete_root_dir_contents")

    def delete_file(self, path):
        self._record("delete_file", path)
        self.base.delete_file(path)

    def move(self, src, dest):
        self._record("move", src, dest)
        self.base.move(src, dest)

    def copy_file(self, src, dest):
        self._record("copy_file", src, dest)
        self.base.copy_file(src, dest)

    def open_input_stream(self, path):
        return self.base.open_input_stream(path)

    def open_input_file(self, path):
        return self.base.open_input_file(path)

    def open_output_stream(self, path, metadata):
        self._record("open_output_stream", path)
        return self.base.open_output_stream(path)

    def open_append_stream(self, path, metadata):
        self._record("open_append_stream", path)
        return self.base.open_append_stream(path)

    def normalize_path(self, path):
        return path


def test_on_an_object_store_each_file_is_one_write_under_its_final_key(tmp_path):
    store = Store(str(tmp_path))
    handler = _Recording(pafs.LocalFileSystem())
    store.fs, store.local = pafs.PyFileSystem(handler), False
    run = {
        "run_id": "20261129T000000-00000001",
        "label": "object",
        "status": "running",
        "fingerprint_json": '{"arch": "x86_64", "hostname": "h"}',
    }
    store.write_run(run)
    store.write_samples(run, "loan.limit[c-1t-0.002]", [{"run_id": run["run_id"], "seconds": 1.0}])
    run["status"] = "complete"
    store.write_run(run)
    writes = [call for call in handler.calls if call[0] == "open_output_stream"]
    assert [call[0] for call in handler.calls] == ["open_output_stream"] * 3  # no move, no copy
    assert [path.rsplit("/", 1)[-1] for _, path in writes] == [
        f"{run['run_id']}.parquet",
        "00-0000-loan.limit_c-1t-0.002_.parquet",
        f"{run['run_id']}.parquet",
    ]
    assert Store(str(tmp_path)).find_run("object")["status"] == "complete"
    assert isinstance(Store(str(tmp_path)).samples([run["run_id"]]), pa.Table)
