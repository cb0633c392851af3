"""The results store: Parquet files in a folder or any pyarrow filesystem URI (s3://…).

Layout (hive-partitioned, so many hosts and CI runners can write into one store):
    runs/arch=<arch>/host=<host>/<run_id>.parquet            one row per run
    samples/arch=<arch>/host=<host>/run=<run_id>/<process>-<n>-<id>.parquet
                                                             one row per timed sample
A run's row is written when it starts (status "running") and rewritten when it ends
("complete" or "incomplete"); each benchmark's samples are written as soon as that benchmark
finishes, so an interrupted run keeps every completed benchmark. Files are written to a
temporary name and renamed, so a reader never sees half a file, and names are unique per run
and benchmark, so concurrent writers never clobber each other. DuckDB, pandas or Spark read
the same folders.

Schema history (readers ignore unknown columns):
    1 — first version.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from workloads.errors import BankbenchError, InputError

SCHEMA_VERSION = 1

RUNS = pa.schema(
    [
        ("run_id", pa.string()),
        ("label", pa.string()),
        ("status", pa.string()),
        ("started_at", pa.timestamp("ms", tz="UTC")),
        ("finished_at", pa.timestamp("ms", tz="UTC")),
        ("profile", pa.string()),
        ("command_line", pa.string()),
        ("bankbench_version", pa.string()),
        ("git_commit", pa.string()),
        ("emulated", pa.bool_()),
        ("cpu_model", pa.string()),
        ("fingerprint_json", pa.string()),
        ("build_json", pa.string()),
        ("probes_json", pa.string()),
        ("schema_version", pa.int32()),
    ]
)
SAMPLES = pa.schema(
    [
        ("run_id", pa.string()),
        ("benchmark", pa.string()),
        ("workload", pa.string()),
        ("engine", pa.string()),
        ("threads", pa.int32()),
        ("scale", pa.float64()),
        ("seed", pa.int64()),
        ("mode", pa.string()),
        ("batch_size", pa.int32()),
        ("process", pa.int32()),
        ("round", pa.int32()),
        ("units", pa.int64()),
        ("seconds", pa.float64()),
        ("latency_ns_p50", pa.int64()),
        ("latency_ns_p99", pa.int64()),
        ("latency_ns_p999", pa.int64()),
        ("digest", pa.string()),
        ("peak_rss_bytes", pa.int64()),
        ("source", pa.string()),
        ("io_bytes", pa.int64()),  # input + output Arrow bytes of one round (batch mode)
        ("latency_ns_quantiles", pa.list_(pa.int64())),  # at samples.LATENCY_QUANTILES
        ("inner_seconds", pa.float64()),  # the core's own clock around the timed call
        ("iterations", pa.int32()),  # calls per round: seconds is the mean per call
    ]
)


class StoreError(BankbenchError):
    """The store cannot be read or written."""


def new_run_id() -> str:
    """Sortable by time, unique across hosts: 20261128T153000-<8 hex>."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", part)[:64] or "unknown"


class Store:
    def __init__(self, location: str):
        self.location = location
        try:
            self.fs, self.root = pafs.FileSystem.from_uri(location)
        except (pa.ArrowInvalid, ValueError):
            self.fs, self.root = pafs.LocalFileSystem(), os.path.abspath(location)
        except OSError as error:
            raise StoreError(f"cannot open the results store {location}: {error}") from None
        self.local = isinstance(self.fs, pafs.LocalFileSystem)
        self.skipped: list[str] = []  # unreadable files met by the last read, reported by callers

    # ---- writing ----
    def _write(self, table: pa.Table, path: str) -> None:
        folder = path.rsplit("/", 1)[0]
        try:
            self.fs.create_dir(folder, recursive=True)
            if not self.local:  # object stores: a PUT is atomic by itself
                pq.write_table(table, path, filesystem=self.fs)
                return
            temporary = f"{folder}/.{uuid.uuid4().hex}.tmp"
            pq.write_table(table, temporary, filesystem=self.fs)
            self.fs.move(temporary, path)
        except OSError as error:
            raise StoreError(
                f"cannot write to the results store {self.location}: {error.strerror or error}; "
                "check that it exists and is writable, or pass another --store"
            ) from None

    def _partition(self, fingerprint: dict) -> str:
        arch = _safe(fingerprint.get("arch") or "unknown")
        return f"arch={arch}/host={_safe(fingerprint.get('hostname') or 'unknown')}"

    def write_run(self, run: dict) -> None:
        fingerprint = json.loads(run["fingerprint_json"])
        row = {name: [run.get(name)] for name in RUNS.names}
        row["schema_version"] = [SCHEMA_VERSION]
        self._write(
            pa.table(row, schema=RUNS),
            f"{self.root}/runs/{self._partition(fingerprint)}/{run['run_id']}.parquet",
        )

    def write_samples(self, run: dict, name: str, rows: list[dict], process: int = 0) -> None:
        """One benchmark's samples from one worker process (each worker numbers its own
        files, so the process is part of the name: the workers of one run share a folder)."""
        fingerprint = json.loads(run["fingerprint_json"])
        table = pa.Table.from_pylist(
            [{k: r.get(k) for k in SAMPLES.names} for r in rows], schema=SAMPLES
        )
        index = run.setdefault("_written", 0)
        run["_written"] = index + 1
        path = (
            f"{self.root}/samples/{self._partition(fingerprint)}/run={run['run_id']}/"
            f"{process:02d}-{index:04d}-{_safe(name)}.parquet"
        )
        self._write(table, path)

    # ---- reading ----
    def _dataset(self, kind: str, schema: pa.Schema) -> ds.Dataset | None:
        folder = f"{self.root}/{kind}"
        try:
            info = self.fs.get_file_info(folder)
        except OSError as error:
            raise StoreError(f"cannot read the results store {self.location}: {error}") from None
        if info.type == pafs.FileType.NotFound:
            return None
        files = [
            f.path
            for f in self.fs.get_file_info(pafs.FileSelector(folder, recursive=True))
            if f.type == pafs.FileType.File and f.path.endswith(".parquet")
        ]
        readable = []
        for path in sorted(files):
            try:
                pq.read_metadata(path, filesystem=self.fs)
                readable.append(path)
            except (OSError, pa.ArrowInvalid):
                self.skipped.append(path)
        if not readable:
            return None
        return ds.dataset(
            readable, schema=schema, filesystem=self.fs, format="parquet", partitioning="hive"
        )

    def runs(self) -> pa.Table:
        self.skipped = []
        data = self._dataset("runs", RUNS)
        return data.to_table() if data is not None else RUNS.empty_table()

    def samples(self, run_ids: Iterable[str] | None = None) -> pa.Table:
        self.skipped = []
        data = self._dataset("samples", SAMPLES)
        if data is None:
            return SAMPLES.empty_table()
        if run_ids is None:
            return data.to_table()
        return data.to_table(filter=ds.field("run_id").isin(list(run_ids)))

    def find_run(self, key: str) -> dict:
        """A run by id, id prefix or label (the newest with that label)."""
        runs = self.runs().to_pylist()
        matches = [r for r in runs if r["run_id"] == key or r["run_id"].startswith(key)] or sorted(
            (r for r in runs if r["label"] == key), key=lambda r: r["run_id"]
        )[-1:]
        if len(matches) != 1:
            available = ", ".join(f"{r['run_id']} ({r['label']})" for r in runs[-10:]) or "none"
            what = "is ambiguous" if matches else "is not in the store"
            raise InputError(f"run '{key}' {what} {self.location}; available: {available}")
        return matches[0]
