"""``bankbench export``: a run's samples as CSV or JSON, every column, every run kind; or
the run in the formats of the tools teams keep benchmark history in: pytest-benchmark JSON
(which `bankbench import` and `pytest-benchmark compare` read), Bencher Metric Format and
github-action-benchmark's custom JSON (docs/ci-recipes.md).

CSV has no lists: a list column (the latency distribution at samples.LATENCY_QUANTILES) is
written as JSON text in its one cell, ``[812, 840, …]``, which every CSV reader keeps as one
field and ``json.loads`` turns back into the list. Timestamps are ISO 8601.
"""

from __future__ import annotations

import json
import statistics
from typing import IO

import pyarrow as pa
import pyarrow.csv as pacsv


def _json_cells(column: pa.ChunkedArray) -> pa.Array:
    return pa.array(
        [None if value is None else json.dumps(value) for value in column.to_pylist()],
        type=pa.string(),
    )


def csv_table(samples: pa.Table) -> pa.Table:
    """``samples`` with every column in a type CSV can hold."""
    columns = []
    for field, column in zip(samples.schema, samples.columns, strict=True):
        nested = pa.types.is_list(field.type) or pa.types.is_large_list(field.type)
        columns.append(_json_cells(column) if nested else column)
    return pa.Table.from_arrays(columns, names=samples.column_names)


def write_csv(samples: pa.Table, stream: IO[bytes]) -> None:
    pacsv.write_csv(csv_table(samples), stream)


def write_json(run: dict, samples: pa.Table, stream: IO[str]) -> None:
    document = {
        "run": {k: (str(v) if k.endswith("_at") else v) for k, v in run.items()},
        "samples": samples.to_pylist(),
    }
    json.dump(document, stream, indent=1, default=str)
    stream.write("\n")


# --- formats of the tools teams keep benchmark history in -----------------------------------
# Each reads one run's samples; a benchmark is its id (``loan.score[c-1t-0.002]``), its value
# the median of its samples, as in `bankbench show` and `compare`.


def _by_benchmark(samples: pa.Table) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for row in samples.to_pylist():
        rows.setdefault(row["benchmark"], []).append(row)
    return dict(sorted(rows.items()))


def _timed(rows: list[dict]) -> list[float]:
    """The per-call seconds of a benchmark's timed samples (none for a counted run)."""
    return [r["seconds"] for r in rows if r.get("measure") in (None, "time", "counters")]


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, statistics.median(values), q3


def _timing_stats(seconds: list[float], iterations: int) -> dict:
    """pytest-benchmark's ``stats`` of one benchmark, from the per-round seconds (each the mean
    of ``iterations`` calls), with the same definitions as pytest-benchmark's stats.Stats."""
    q1, median, q3 = _quartiles(seconds)
    mean = statistics.fmean(seconds)
    stddev = statistics.stdev(seconds) if len(seconds) > 1 else 0.0
    iqr = q3 - q1
    inner = [s for s in seconds if q1 - 1.5 * iqr <= s <= q3 + 1.5 * iqr]
    return {
        "min": min(seconds),
        "max": max(seconds),
        "mean": mean,
        "stddev": stddev,
        "rounds": len(seconds),
        "median": median,
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": len(seconds) - len(inner),
        "stddev_outliers": sum(1 for s in seconds if abs(s - mean) > stddev),
        "outliers": f"{sum(1 for s in seconds if abs(s - mean) > stddev)};"
        f"{len(seconds) - len(inner)}",
        "ld15iqr": min(inner),
        "hd15iqr": max(inner),
        "ops": 1 / mean,
        "total": sum(seconds) * iterations,
        "data": seconds,
        "iterations": iterations,
    }


def _refuse_untimed(run: dict, what: str) -> None:
    from workloads.errors import InputError

    raise InputError(
        f"run {run['run_id']} has no timed samples (it counted instructions): {what} holds "
        "times; export it with --format bencher, which carries instructions per unit"
    )


def pytest_benchmark_document(run: dict, samples: pa.Table) -> dict:
    """The run as a pytest-benchmark JSON file (format 3 and later, with its raw data): what
    `bankbench import` and `pytest-benchmark compare` read. Each benchmark keeps its id as
    ``name`` and ``fullname``, its workload as ``group``, and its engine, threads, scale, seed,
    mode and batch size as ``params``; units per call and the output digest go in ``extra_info``."""
    from importlib import metadata

    from bench.records import RunRecord

    record = RunRecord.from_row(run)
    fingerprint = record.fingerprint or {}
    benchmarks = []
    for name, rows in _by_benchmark(samples).items():
        seconds = _timed(rows)
        if not seconds:
            continue
        first = rows[0]
        keys = ("engine", "threads", "scale", "seed", "mode", "batch_size")
        params = {k: first.get(k) for k in keys}
        benchmarks.append(
            {
                "group": first.get("workload"),
                "name": name,
                "fullname": name,
                "params": params,
                "param": None,
                "extra_info": {"units": first.get("units"), "digest": first.get("digest")},
                "options": {"timer": "perf_counter", "disable_gc": False, "warmup": True},
                "stats": _timing_stats(seconds, first.get("iterations") or 1),
            }
        )
    if not benchmarks:
        _refuse_untimed(run, "a pytest-benchmark file")
    started = record.started_at
    return {
        "machine_info": {
            "node": fingerprint.get("hostname"),
            "processor": fingerprint.get("arch"),
            "machine": fingerprint.get("arch"),
            "python_implementation": "CPython",
            "python_version": fingerprint.get("python"),
            "release": fingerprint.get("kernel"),
            "system": "Linux",
            "cpu": {"brand_raw": record.cpu_model, "count": fingerprint.get("logical_cpus")},
        },
        "commit_info": {"id": record.git_commit, "project": "bankbench"},
        "benchmarks": benchmarks,
        "datetime": started.isoformat() if started else None,
        "version": metadata.version("pytest-benchmark"),
    }


# Bencher's measures, by slug: the two built in (latency in ns, throughput in operations per
# second) and three of ours, which Bencher creates on first use (give them these units there).
BENCHER_MEASURES = {
    "latency": "nanoseconds per call (median; lower/upper: the fastest and slowest round)",
    "throughput": "business units per second (applications, transfers, …) at the median",
    "instructions-per-unit": "instructions per business unit (a --measure instructions run)",
    "latency-p99": "nanoseconds, 99th percentile of one online call or micro-batch",
    "capacity": "business units per second served by a capacity benchmark",
}


def _metric(values: list[float]) -> dict:
    return {
        "value": statistics.median(values),
        "lower_value": min(values),
        "upper_value": max(values),
    }


def bencher_document(run: dict, samples: pa.Table) -> dict:
    """The run in Bencher Metric Format: {benchmark: {measure slug: {value, lower_value,
    upper_value}}}, with the measures of BENCHER_MEASURES that the benchmark has."""
    document: dict[str, dict] = {}
    for name, rows in _by_benchmark(samples).items():
        measures: dict[str, dict] = {}
        seconds = _timed(rows)
        if seconds:
            measures["latency"] = _metric([s * 1e9 for s in seconds])
            per_second = [r["units"] / r["seconds"] for r in rows if r.get("units")]
            capacity = rows[0].get("mode") == "capacity"
            if per_second:
                measures["capacity" if capacity else "throughput"] = _metric(per_second)
        counted = [r["instructions"] / r["units"] for r in rows if _counted(r)]
        if counted:
            measures["instructions-per-unit"] = _metric(counted)
        p99 = [r["latency_ns_p99"] for r in rows if r.get("latency_ns_p99") is not None]
        if p99:
            measures["latency-p99"] = _metric([float(v) for v in p99])
        if measures:
            document[name] = measures
    return document


def _counted(row: dict) -> bool:
    return (
        row.get("measure") == "instructions"
        and bool(row.get("instructions"))
        and bool(row.get("units"))
    )


def github_action_benchmark_document(run: dict, samples: pa.Table) -> list[dict]:
    """The run as github-action-benchmark's custom JSON for ``tool: customSmallerIsBetter``: a
    list of {name, unit, value, range, extra}. A timed run gives nanoseconds per call (range:
    the interquartile range's half), and the p99 latency of online and capacity benchmarks; a
    counted run gives instructions per unit (no range: the core's counts repeat)."""
    entries = []
    for name, rows in _by_benchmark(samples).items():
        counted = [r["instructions"] / r["units"] for r in rows if _counted(r)]
        if counted:
            entries.append(
                {"name": name, "unit": "instructions/unit", "value": statistics.median(counted)}
            )
        seconds = _timed(rows)
        if seconds:
            q1, median, q3 = _quartiles([s * 1e9 for s in seconds])
            units = rows[0].get("units")
            entries.append(
                {
                    "name": name,
                    "unit": "ns/call",
                    "value": median,
                    "range": f"± {(q3 - q1) / 2:.6g}",
                    "extra": f"{len(seconds)} rounds; {units} units per call; "
                    f"digest {rows[0].get('digest')}",
                }
            )
        p99 = [r["latency_ns_p99"] for r in rows if r.get("latency_ns_p99") is not None]
        if p99:
            entries.append(
                {"name": f"{name} p99", "unit": "ns", "value": float(statistics.median(p99))}
            )
    return entries


FORMATS = {
    "pytest-benchmark": pytest_benchmark_document,
    "bencher": bencher_document,
    "github-action-benchmark": github_action_benchmark_document,
}


def write_document(fmt: str, run: dict, samples: pa.Table, stream: IO[str]) -> None:
    json.dump(FORMATS[fmt](run, samples), stream, indent=1)
    stream.write("\n")
