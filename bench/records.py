"""The records the store keeps, one typed class each; their fields are the Arrow schemas.

A field's Arrow type sits in its metadata (``column(pa.int32())``); a field holding a dict is
kept as JSON text in a ``<name>_json`` column, encoded by ``to_row`` and decoded by
``from_row`` — the one place the JSON columns are read. Readers ignore columns they do not
know and read absent ones as null, so older stores still read.

Schema history:
    1 — first version; later additions: runs.owner_host, owner_pid, owner_boot_id (the
        owner of a running run), runs.pytest_benchmark_version.
    2 — runs: seed, plan_json (the resolved Plan), placement_json (CPUs of pinned threads);
        samples: measure (how the sample was measured: "time", "instructions", "counters")
        and, in the counting modes, the call's counts (instructions, cycles, branches,
        branch_misses, l1d_misses, llc_misses: per call, null = unknown), what counted them
        (counts_source, counts_scope) and why the unknown ones are (counts_unknown).
    3 — samples: workload_version (the workload's declared version) and
        workload_source_sha256 (the hash of its own C and the shared core files it needs:
        Workload.source_sha256), the comparability key per workload; null in older stores
        and in imported files (not known).
    4 — samples of mode "open-loop" (bench/openloop: one row per load point, round = the
        point's order in its sweep): offered_per_s, achieved_per_s, latency_ns_max,
        saturated, flags (driver.FLAGS), histogram (HdrHistogram's compressed base64),
        peak_per_s (the sweep's closed-loop peak), slo_ns, repeat, driver_overhead_ns,
        fastest_service_ns, idle_lateness_ns_p99, schedule_digest. Older stores read them
        as null: they have no open-loop samples.
    5 — samples: threads_used, the threads a benchmark's parallel C calls ran on, weighted
        by their work (workloads/_native.py: threads_worth gives fewer than asked to work
        too small to split, or split into fewer cells); null in older stores and imports:
        read as the threads asked.
    6 — samples: host_compute_efficiency, the compute probe's 2-thread (or the benchmark's
        thread count) efficiency in short pairs right before and after a multi-thread C
        batch benchmark's rounds (bench/probes.py: compute_ceiling), the host's ceiling while
        it ran; null in older stores, imports and other benchmarks.
    7 — samples: serial_seconds, per call of a C batch benchmark's round, the core's clock
        around the call less its time inside the pool's parallel calls: the calling thread
        alone (Python, serial set-up in C), which more threads cannot shorten; null in older
        stores, imports and other benchmarks.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import shlex
import sys
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = 7


def column(arrow_type: pa.DataType, default: Any = None, *, as_json: bool = False) -> Any:
    return dataclasses.field(default=default, metadata={"arrow": arrow_type, "json": as_json})


def _column_name(field: dataclasses.Field) -> str:
    return f"{field.name}_json" if field.metadata["json"] else field.name


def schema_of(cls) -> pa.Schema:
    return pa.schema([(_column_name(f), f.metadata["arrow"]) for f in dataclasses.fields(cls)])


def _json_object(text: str | None) -> dict | None:
    """A JSON column's object; None where it is empty, not JSON or not an object: a store is
    the user's input, and a damaged field reads as unknown, not as a traceback."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


class Record:
    """Rows ↔ records. Subclasses are dataclasses whose fields are all ``column(...)``."""

    def to_row(self) -> dict:
        row = {}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if field.metadata["json"] and value is not None:
                value = json.dumps(value)
            row[_column_name(field)] = value
        return row

    @classmethod
    def from_row(cls, row: dict):
        values = {}
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            if _column_name(field) not in row:
                continue  # a column older stores lack: the field's default
            value = row[_column_name(field)]
            if field.metadata["json"]:
                value = _json_object(value)
            values[field.name] = value
        return cls(**values)

    @classmethod
    def schema(cls) -> pa.Schema:
        return schema_of(cls)


UTC = datetime.timezone.utc


@dataclass
class RunRecord(Record):
    """One run: written when it starts ("running"), rewritten when it ends."""

    run_id: str = column(pa.string())
    label: str | None = column(pa.string())
    status: str = column(pa.string(), "running")  # running | complete | incomplete | imported
    started_at: datetime.datetime | None = column(pa.timestamp("ms", tz="UTC"))
    finished_at: datetime.datetime | None = column(pa.timestamp("ms", tz="UTC"))
    profile: str | None = column(pa.string())
    command_line: str | None = column(pa.string())
    bankbench_version: str | None = column(pa.string())
    git_commit: str | None = column(pa.string())
    emulated: bool | None = column(pa.bool_())
    cpu_model: str | None = column(pa.string())
    fingerprint: dict | None = column(pa.string(), as_json=True)
    build: dict | None = column(pa.string(), as_json=True)
    probes: dict | None = column(pa.string(), as_json=True)
    schema_version: int = column(pa.int32(), SCHEMA_VERSION)
    # the process that owns a running run, so a reader can tell it died (bench.liveness)
    owner_host: str | None = column(pa.string())
    owner_pid: int | None = column(pa.int64())
    owner_boot_id: str | None = column(pa.string())
    pytest_benchmark_version: str | None = column(pa.string())  # an imported file's
    seed: int | None = column(pa.int64())
    plan: dict | None = column(pa.string(), as_json=True)
    placement: dict | None = column(pa.string(), as_json=True)

    @classmethod
    def start(
        cls,
        run_id: str,
        label: str,
        fingerprint: dict,
        *,
        profile: str,
        build: dict | None = None,
        status: str = "running",
        started_at: datetime.datetime | None = None,
        command_line: str | None = None,
        **fields,
    ) -> RunRecord:
        """The one constructor of run rows, for runs and imports alike."""
        from bench import __version__

        return cls(
            run_id=run_id,
            label=label,
            status=status,
            started_at=started_at or datetime.datetime.now(UTC),
            finished_at=None if status == "running" else started_at,
            profile=profile,
            command_line=command_line or shlex.join(["bankbench", *sys.argv[1:]]),
            bankbench_version=fields.pop("bankbench_version", __version__),
            emulated=bool(fingerprint.get("emulated")),
            cpu_model=fingerprint.get("cpu_model"),
            fingerprint=fingerprint,
            build=build or {},
            **fields,
        )

    @property
    def hostname(self) -> str | None:
        return (self.fingerprint or {}).get("hostname")

    @property
    def arch(self) -> str | None:
        return (self.fingerprint or {}).get("arch")

    @property
    def measure(self) -> str:
        """How the run measured (its Plan's mode: time, instructions, counters); runs stored
        before measurement modes, and imported ones, were timed."""
        return (self.plan or {}).get("measure") or "time"


@dataclass
class Sample(Record):
    """One timed round of one benchmark (tidy: one row per sample)."""

    run_id: str = column(pa.string())
    benchmark: str = column(pa.string())
    workload: str | None = column(pa.string())
    engine: str | None = column(pa.string())
    threads: int | None = column(pa.int32())
    scale: float | None = column(pa.float64())
    seed: int | None = column(pa.int64())
    mode: str = column(pa.string(), "batch")  # batch | online | capacity | weak (scale × threads)
    batch_size: int | None = column(pa.int32())
    process: int = column(pa.int32(), 0)
    round: int = column(pa.int32(), 0)
    units: int | None = column(pa.int64())
    seconds: float = column(pa.float64(), 0.0)  # per call: the round's time / iterations
    latency_ns_p50: int | None = column(pa.int64())
    latency_ns_p99: int | None = column(pa.int64())
    latency_ns_p999: int | None = column(pa.int64())
    digest: str | None = column(pa.string())
    peak_rss_bytes: int | None = column(pa.int64())
    source: str = column(pa.string(), "bankbench")
    io_bytes: int | None = column(pa.int64())  # input + output Arrow bytes of one call
    latency_ns_quantiles: list[int] | None = column(pa.list_(pa.int64()))  # LATENCY_QUANTILES
    inner_seconds: float | None = column(pa.float64())  # the core's own clock around the call
    iterations: int | None = column(pa.int32())  # calls per round
    measure: str | None = column(pa.string())  # how: "time" (wall clock), "instructions", …
    # counts of one call (bench/measure/counts.py): null when not counted or unknown
    instructions: int | None = column(pa.int64())
    cycles: int | None = column(pa.int64())
    branches: int | None = column(pa.int64())
    branch_misses: int | None = column(pa.int64())
    l1d_misses: int | None = column(pa.int64())
    llc_misses: int | None = column(pa.int64())
    counts_source: str | None = column(pa.string())  # "callgrind" | "perf"
    counts_scope: str | None = column(pa.string())  # "core" | "call"
    counts_unknown: str | None = column(pa.string())  # why the null counts are unknown
    workload_version: int | None = column(pa.int32())  # Workload.version
    workload_source_sha256: str | None = column(pa.string())  # Workload.source_sha256()
    # an open-loop load point (mode "open-loop"; schema 4), see bench/openloop/driver.py
    offered_per_s: float | None = column(pa.float64())
    achieved_per_s: float | None = column(pa.float64())
    latency_ns_max: int | None = column(pa.int64())
    saturated: bool | None = column(pa.bool_())
    flags: list[str] | None = column(pa.list_(pa.string()))
    histogram: str | None = column(pa.string())
    peak_per_s: float | None = column(pa.float64())  # the closed-loop peak of its sweep
    slo_ns: int | None = column(pa.int64())  # the p99 target the sweep bisected towards
    repeat: int | None = column(pa.int32())  # which repeat of the sweep (seed + repeat)
    driver_overhead_ns: float | None = column(pa.float64())
    fastest_service_ns: int | None = column(pa.int64())
    idle_lateness_ns_p99: int | None = column(pa.int64())
    schedule_digest: str | None = column(pa.string())
    threads_used: int | None = column(pa.int32())  # schema 5; null: as asked (threads)
    host_compute_efficiency: float | None = column(pa.float64())  # schema 6; compute_ceiling
    serial_seconds: float | None = column(pa.float64())  # schema 7; outside parallel calls


@dataclass
class Calibration(Record):
    """One benchmark's A/A noise on one host (bankbench calibrate)."""

    calibration_id: str = column(pa.string())
    run_a: str = column(pa.string())
    run_b: str = column(pa.string())
    benchmark: str = column(pa.string())
    workload: str | None = column(pa.string())
    engine: str | None = column(pa.string())
    threads: int | None = column(pa.int32())
    samples: int = column(pa.int32(), 0)
    cv: float = column(pa.float64(), 0.0)
    aa_ratio: float = column(pa.float64(), 1.0)
    aa_low: float = column(pa.float64(), 1.0)
    aa_high: float = column(pa.float64(), 1.0)
    detectable_change: float = column(pa.float64(), 0.0)


RUNS = RunRecord.schema()
SAMPLES = Sample.schema()
CALIBRATIONS = Calibration.schema()
