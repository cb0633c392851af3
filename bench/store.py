"""The results store: Parquet files in a folder or any pyarrow filesystem URI (s3://…).

Layout (hive-partitioned, so many hosts and CI runners can write into one store):
    runs/arch=<arch>/host=<host>/<run_id>.parquet            one row per run
    samples/arch=<arch>/host=<host>/run=<run_id>/<process>-<n>-<id>.parquet
                                                             one row per timed sample
A run's row is written when it starts (status "running") and rewritten when it ends
("complete" or "incomplete"); each benchmark's samples are written as soon as that benchmark
finishes, so an interrupted run keeps every completed benchmark; a running run records its
owner (host, pid, boot id), so one whose process died reads as "abandoned". Each file is
written whole (bench.store_files: fsynced temporary + rename on disks, one PUT on object
stores), so a reader never sees half a file, and names are unique per run and benchmark, so
concurrent writers never clobber each other. DuckDB, pandas or Spark read the same folders.

Reading never trusts what it cannot check: a file that cannot be read (truncated, corrupt,
empty, another schema) is named in a StoreWarning by every reader, and is an error for a
command that needs that run's samples; folder names are never read as data; a copied file is
counted once.

The rows are bench.records' RunRecord, Sample and Calibration, whose fields are the schemas
(their history is there); readers ignore unknown columns and read missing ones as unknown.
"""

from __future__ import annotations

import os
import re
import time
import uuid
import warnings
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from bench import liveness, records, store_files
from bench.records import Calibration, RunRecord, Sample
from bench.store_files import StoreError, Unreadable
from workloads.errors import InputError

__all__ = ["RUNS", "SAMPLES", "Store", "StoreError", "StoreWarning", "new_run_id"]

# the schemas are the fields of the record types (bench/records.py, with their history)
RUNS, SAMPLES, CALIBRATIONS = records.RUNS, records.SAMPLES, records.CALIBRATIONS
SCHEMA_VERSION = records.SCHEMA_VERSION


def new_run_id() -> str:
    """Sortable by time, unique across hosts: 20261128T153000-<8 hex>."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", part)[:64] or "unknown"


RUN_REQUIRED = ("run_id", "status")
SAMPLE_REQUIRED = ("run_id", "benchmark", "seconds")
LAYOUT_KEYS = ("arch", "host", "run")  # the folders the store itself writes
URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")  # a store given as a URI


class StoreWarning(UserWarning):
    """A file of the store cannot be used as it is (the message names it); nothing it holds
    is used, and nothing in the store is changed."""


class Store:
    def __init__(self, location: str):
        self.location = location
        try:
            self.fs, self.root = store_files.filesystem(location)
        except (pa.ArrowInvalid, ValueError) as error:
            if URI_SCHEME.match(location):  # not a folder named "ftp:" (it used to become one)
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                raise StoreError(
                    f"cannot open the results store {location}: {reason}; use a folder, "
                    "or a file://, s3:// or gs:// URI"
                ) from None
            self.fs, self.root = pafs.LocalFileSystem(), os.path.abspath(location)
        except OSError as error:
            raise StoreError(f"cannot open the results store {location}: {error}") from None
        self.local = isinstance(self.fs, pafs.LocalFileSystem)
        if self.local:
            _refuse_a_file(location, self.root)
        self._written: dict[str, int] = {}  # sample files written so far, per run
        self.unreadable: dict[str, Unreadable] = {}  # every unusable file met so far
        self._warned: set[str] = set()
        self._checked = False

    # ---- writing ----
    def _write(self, table: pa.Table, path: str) -> None:
        try:
            store_files.write(self.fs, table, path)
        except OSError as error:
            raise StoreError(
                f"cannot write to the results store {self.location}: "
                f"{getattr(error, 'strerror', None) or error}; "
                "check that it exists and is writable, or pass another --store"
            ) from None

    def _partition(self, fingerprint: dict) -> str:
        arch = _safe(fingerprint.get("arch") or "unknown")
        return f"arch={arch}/host={_safe(fingerprint.get('hostname') or 'unknown')}"

    def write_run(self, run: RunRecord | dict) -> None:
        """The run's row; a running run also records its owner (host, pid, boot id), so a
        reader can tell when its process died without marking it (liveness.status)."""
        record = run if isinstance(run, RunRecord) else RunRecord.from_row(run)
        if record.status == "running" and not record.owner_pid:
            for key, value in liveness.owner().items():
                setattr(record, key, value)
        record.schema_version = SCHEMA_VERSION
        self._write(
            pa.Table.from_pylist([record.to_row()], schema=RUNS),
            f"{self.root}/runs/{self._partition(record.fingerprint or {})}/{record.run_id}.parquet",
        )

    def write_samples(
        self,
        run: RunRecord | dict,
        name: str,
        rows: list[Sample] | list[dict],
        process: int = 0,
        *,
        growing: bool = False,
    ) -> None:
        """One benchmark's samples from one worker process (each worker numbers its own
        files, so the process is part of the name: the workers of one run share a folder).
        ``growing``: every sample so far of a benchmark that writes after each step (an
        open-loop sweep, point by point), replacing its previous file, so an interrupt keeps
        each finished step and a reader never sees a step twice.
        A worker whose run's process is gone stops here: nothing writes into an abandoned run."""
        record = run if isinstance(run, RunRecord) else RunRecord.from_row(run)
        if liveness.parent_gone():
            raise StoreError(
                f"the process of run {record.run_id} is gone; this worker writes nothing more"
            )
        table = pa.Table.from_pylist(
            [(r if isinstance(r, Sample) else Sample.from_row(r)).to_row() for r in rows],
            schema=SAMPLES,
        )
        if growing:  # one file, rewritten whole (atomically) as the benchmark grows
            index_part = "growing"
        else:
            index = self._written.get(record.run_id, 0)
            self._written[record.run_id] = index + 1
            index_part = f"{index:04d}"
        path = (
            f"{self.root}/samples/{self._partition(record.fingerprint or {})}/"
            f"run={record.run_id}/{process:02d}-{index_part}-{_safe(name)}.parquet"
        )
        self._write(table, path)

    def write_calibrations(self, rows: list[Calibration], host_of: RunRecord) -> None:
        if rows:
            self._write(
                pa.Table.from_pylist([r.to_row() for r in rows], schema=CALIBRATIONS),
                f"{self.root}/calibration/{self._partition(host_of.fingerprint or {})}/"
                f"{rows[0].calibration_id}.parquet",
            )

    # ---- reading ----
    def _warn(self, message: str) -> None:
        if message not in self._warned:  # once per Store; a fresh registry per warning, so
            self._warned.add(message)  # the next Store in this process names it again
            warnings.warn_explicit(message, StoreWarning, __file__, 0, module=__name__, registry={})

    def _bad_file(self, problem: Unreadable) -> None:
        self.unreadable[problem.path] = problem
        self._warn(f"{problem}; left as it is and not used")

    def _files(self, kind: str) -> list[str]:
        folder = f"{self.root}/{kind}"
        try:
            if self.fs.get_file_info(folder).type == pafs.FileType.NotFound:
                return []
            listing = self.fs.get_file_info(pafs.FileSelector(folder, recursive=True))
        except OSError as error:
            raise StoreError(f"cannot read the results store {self.location}: {error}") from None
        return sorted(
            f.path
            for f in listing
            if f.type == pafs.FileType.File
            and f.path.endswith(".parquet")
            and not f.base_name.startswith(".")
        )

    def _check_folders(self, kind: str, path: str, schema: pa.Schema) -> None:
        for folder, key, value in store_files.hive_parts(path[len(f"{self.root}/{kind}/") :]):
            if key in schema.names and not store_files.parses_as(value, schema.field(key).type):
                self._warn(
                    f"{self.root}/{kind}/{folder}: '{value}' is not a valid {key}; folder "
                    "names are not read as data (each file's own columns are)"
                )
            elif key not in schema.names and key not in LAYOUT_KEYS:
                self._warn(
                    f"{self.root}/{kind}/{folder}: '{key}' is not part of the store's layout; "
                    "folder names are not read as data (each file's own columns are)"
                )

    def _check_stored(self, kind: str, path: str, table: pa.Table) -> None:
        """A folder that names a stored column with another value than the file's."""
        for folder, key, value in store_files.hive_parts(path[len(f"{self.root}/{kind}/") :]):
            column = "run_id" if key == "run" else key
            if column not in table.column_names or table.num_rows == 0:
                continue
            if not store_files.parses_as(value, table.schema.field(column).type):
                continue  # named already by _check_folders
            stored = {str(v) for v in table.column(column).to_pylist()}
            if stored != {value}:
                self._warn(
                    f"{self.root}/{kind}/{folder} says {key}={value}, but {path} stores "
                    f"{column}={', '.join(sorted(stored))}; the stored value is used"
                )

    def check(self) -> None:
        """Once per Store: every file's footer and folder names, so that every command that
        reads the store names each unusable file (a warning), not only the files it needs."""
        if self._checked:
            return
        self._checked = True
        for kind, schema, required in (
            ("runs", RUNS, RUN_REQUIRED),
            ("samples", SAMPLES, SAMPLE_REQUIRED),
        ):
            for path in self._files(kind):
                self._check_folders(kind, path, schema)
                found = store_files.read_schema(self.fs, path)
                if isinstance(found, Unreadable):
                    self._bad_file(found)
                elif problem := store_files.schema_problem(found, schema, required):
                    self._bad_file(Unreadable(path, problem))

    def _read(
        self, kind: str, schema: pa.Schema, required: tuple[str, ...], paths: list[str]
    ) -> list[tuple[str, pa.Table]]:
        """Each readable file whole, conformed to ``schema``; the others are reported."""
        tables = []
        for path in paths:
            table = store_files.read(self.fs, path)
            if not isinstance(table, Unreadable):
                problem = store_files.schema_problem(table.schema, schema, required)
                table = Unreadable(path, problem) if problem else table
            if isinstance(table, Unreadable):
                self._bad_file(table)
                continue
            self._check_stored(kind, path, table)
            try:
                tables.append((path, store_files.conform(table, schema)))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:  # e.g. 2**40 in int32
                self._bad_file(Unreadable(path, f"a value does not fit its column: {error}"))
        return tables

    def runs(self) -> pa.Table:
        """Every run, once, with its status as a reader should see it (a running run whose
        process died reads ``abandoned``; the stored row is not changed)."""
        self.check()
        copies: dict[str, list[tuple[str, dict]]] = {}
        for path, table in self._read("runs", RUNS, RUN_REQUIRED, self._files("runs")):
            for row in table.to_pylist():
                copies.setdefault(row["run_id"], []).append((path, row))
        rows = []
        for run_id, found in copies.items():
            # the run's own file is named after it; a copy under another name loses
            found.sort(key=lambda pair: not pair[0].endswith(f"/{run_id}.parquet"))
            if len(found) > 1:
                self._warn(
                    f"run {run_id} is stored {len(found)} times "
                    f"({', '.join(path for path, _ in found)}); {found[0][0]} is used"
                )
            row = found[0][1]
            row["status"] = liveness.status(row)
            rows.append(row)
        return pa.Table.from_pylist(rows, schema=RUNS)

    def samples(self, run_ids: Iterable[str] | None = None) -> pa.Table:
        """The samples of these runs (of all runs without ``run_ids``). A file of one of
        these runs that cannot be read is an error that names it: a run is never shown,
        compared or reported with benchmarks silently missing."""
        self.check()
        wanted = None if run_ids is None else set(run_ids)
        paths = [
            path
            for path in self._files("samples")
            if wanted is None or _run_folder(path) in wanted or _run_folder(path) is None
        ]
        tables = self._read("samples", SAMPLES, SAMPLE_REQUIRED, paths)
        lost = [
            self.unreadable[p]
            for p in paths
            if p in self.unreadable and (wanted is None or _run_folder(p) in wanted)
        ]
        if lost and wanted is not None:
            raise StoreError(
                f"cannot read {lost[0]}"
                + (f" (and {len(lost) - 1} more files)" if len(lost) > 1 else "")
                + "; that run's benchmarks would be missing: restore the file or move it out "
                "of the store"
            )
        kept: dict[tuple, str] = {}
        chosen = []
        for path, table in tables:
            if wanted is not None:
                table = table.filter(pc.is_in(table.column("run_id"), pa.array(sorted(wanted))))
            keys = set(
                zip(
                    table.column("run_id").to_pylist(),
                    table.column("process").to_pylist(),
                    table.column("benchmark").to_pylist(),
                    strict=True,
                )
            )
            copies = [kept[key] for key in keys if key in kept]
            if copies:
                self._warn(
                    f"{path} holds samples already read from {copies[0]} (a copied file?); "
                    "they are counted once"
                )
                continue
            kept.update(dict.fromkeys(keys, path))
            chosen.append(table)
        return pa.concat_tables(chosen) if chosen else SAMPLES.empty_table()

    def _dataset(self, kind: str, schema: pa.Schema) -> ds.Dataset | None:
        """Every readable file of another kind (calibration) as one in-memory dataset."""
        tables = [t for _, t in self._read(kind, schema, (), self._files(kind))]
        return ds.dataset(pa.concat_tables(tables)) if tables else None

    def calibrations(self) -> list[Calibration]:
        data = self._dataset("calibration", CALIBRATIONS)
        if data is None:
            return []
        return [Calibration.from_row(r) for r in data.to_table().to_pylist()]

    def run_records(self) -> list[RunRecord]:
        """Every run, typed, oldest first."""
        rows = sorted(self.runs().to_pylist(), key=lambda r: r["run_id"])
        return [RunRecord.from_row(r) for r in rows]

    def find_run(self, key: str) -> dict:
        """A run by id, id prefix or label. Several runs with that label: the newest, and a
        warning naming it and the others; an id prefix of several runs is refused."""
        runs = self.runs().to_pylist()
        matches = [r for r in runs if r["run_id"] == key] or [
            r for r in runs if r["run_id"].startswith(key)
        ]
        if len(matches) > 1:
            ids = ", ".join(sorted(r["run_id"] for r in matches)[:10])
            raise InputError(
                f"run '{key}' is ambiguous: it begins {len(matches)} run ids in "
                f"{self.location} ({ids}); give more of the id"
            )
        if not matches:
            labelled = sorted((r for r in runs if r["label"] == key), key=lambda r: r["run_id"])
            if len(labelled) > 1:
                import warnings

                others = ", ".join(r["run_id"] for r in labelled[:-1][-10:])
                warnings.warn(
                    f"{len(labelled)} runs are labelled '{key}': using the newest, "
                    f"{labelled[-1]['run_id']} (the others: {others}; give a run id to choose)",
                    stacklevel=2,
                )
            matches = labelled[-1:]
        if not matches:
            available = ", ".join(f"{r['run_id']} ({r['label']})" for r in runs[-10:]) or "none"
            unreadable = [p for p in self.unreadable if "/runs/" in p]
            hint = (
                f" ({len(unreadable)} run file(s) cannot be read, e.g. {unreadable[0]})"
                if unreadable
                else ""
            )
            raise InputError(
                f"run '{key}' is not in the store {self.location}{hint}; available: {available}"
            )
        return matches[0]


def _run_folder(path: str) -> str | None:
    """The run id of a samples file's ``run=<id>`` folder (None outside the store's layout)."""
    for part in path.split("/")[:-1]:
        if part.startswith("run="):
            return part[4:]
    return None


def _refuse_a_file(location: str, root: str) -> None:
    """A store is a folder: a path that is, or lies under, a regular file is refused before
    anything runs (not after probing, and never read as an empty store)."""
    path = root
    while path and not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent
    if os.path.exists(path) and not os.path.isdir(path):
        raise StoreError(
            f"the results store {location} is not a folder ({path} is a file); "
            "pass a folder or a pyarrow filesystem URI with --store"
        )
