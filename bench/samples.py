"""Samples from pytest-benchmark's JSON format (its documented output, one entry per
benchmark), for our own runs and for files imported from any other project."""

from __future__ import annotations

import re

import numpy as np

from bench.measure import modes
from bench.records import Sample

# the latency distribution kept per online/capacity benchmark: percentiles 0…100 and the tail
LATENCY_QUANTILES = (*range(0, 100), 99.5, 99.9, 99.99, 100)

# the Sample fields a benchmark may measure and report in its extra_info
MEASURED = (
    "units",
    "digest",
    "io_bytes",
    "iterations",
    "threads_used",
    "host_compute_efficiency",
    "latency_ns_p50",
    "latency_ns_p99",
    "latency_ns_p999",
    "latency_ns_quantiles",
)


def latency_info(latencies_ns: np.ndarray) -> dict:
    """extra_info fields describing a latency distribution."""
    q = np.percentile(latencies_ns, LATENCY_QUANTILES, method="higher").astype(int).tolist()
    p50, p99, p999 = np.percentile(latencies_ns, [50, 99, 99.9], method="higher").astype(int)
    return {
        "latency_ns_p50": int(p50),
        "latency_ns_p99": int(p99),
        "latency_ns_p999": int(p999),
        "latency_ns_quantiles": q,
    }


def peak_rss_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            return int(f.read().split("VmHWM:")[1].split()[0]) * 1024
    except (OSError, IndexError, ValueError):
        return None


def from_pytest_benchmark(
    run_id: str, entry: dict, *, known: dict | None = None, process: int = 0, **fields
) -> list[Sample]:
    """One Sample per timed round of one entry of pytest-benchmark's JSON ``benchmarks``
    list. ``known`` gives what the caller knows of the benchmark (workload, engine,
    threads, scale, seed, mode, batch_size: from the Plan for our runs); the entry's
    extra_info adds what the benchmark measured; a foreign benchmark may carry nothing, and
    its workload is then its name. ``fields`` go to every sample (source, peak_rss_bytes…)."""
    stats = entry.get("stats") or {}
    timings = stats.get("data") or [stats.get("median")]  # raw data only with --benchmark-save-data
    timings = [t for t in timings if isinstance(t, (int, float))]
    info = entry.get("extra_info") or {}
    name = entry.get("name") or ""
    known = dict(known or {})
    for key in ("workload", "engine", "threads", "scale", "seed", "mode", "batch_size"):
        if key not in known and info.get(key) is not None:
            known[key] = info[key]
    known.setdefault("workload", entry.get("group") or re.sub(r"\[.*$", "", name) or name)
    measured = {key: info[key] for key in MEASURED if info.get(key) is not None}
    inner = info.get("inner_seconds") or [None] * len(timings)
    serial = info.get("serial_seconds") or [None] * len(timings)
    counts = info.get("counts") or []  # per round, in a counting mode (bench/measure/modes.py)
    return [
        Sample(
            run_id=run_id,
            benchmark=name,
            process=process,
            round=i,
            seconds=seconds,
            inner_seconds=inner[i] if i < len(inner) else None,
            serial_seconds=serial[i] if i < len(serial) else None,
            **modes.sample_fields(counts[i] if i < len(counts) else None),
            **known,
            **measured,
            **fields,
        )
        for i, seconds in enumerate(timings)
    ]


def from_open_loop_point(
    run_id: str, point, *, index: int, peak_per_s: float, slo_ns: int, repeat: int, **fields
) -> Sample:
    """One open-loop load point (bench/openloop/driver.py: PointResult) as a Sample of mode
    "open-loop": ``round`` is its order in the sweep, ``seconds`` the time it took to serve
    its requests (requests / achieved rate). ``fields`` (what the plan says of the case)
    are checked against the point's own."""
    assert fields.get("workload", point.workload) == point.workload
    assert fields.get("threads", point.threads) == point.threads
    values = dict(
        run_id=run_id,
        round=index,
        mode="open-loop",
        workload=point.workload,
        threads=point.threads,
        units=point.requests,
        seconds=point.requests / point.achieved_per_s if point.achieved_per_s else 0.0,
        offered_per_s=point.offered_per_s,
        achieved_per_s=point.achieved_per_s,
        latency_ns_p50=point.latency_ns["p50"],
        latency_ns_p99=point.latency_ns["p99"],
        latency_ns_p999=point.latency_ns["p999"],
        latency_ns_max=point.latency_ns["max"],
        saturated=point.saturated,
        flags=list(point.flags),
        histogram=point.histogram,
        peak_per_s=peak_per_s,
        slo_ns=slo_ns,
        repeat=repeat,
        driver_overhead_ns=point.driver_overhead_ns,
        fastest_service_ns=point.fastest_service_ns,
        idle_lateness_ns_p99=point.idle_lateness_p99_ns,
        schedule_digest=point.schedule_digest,
        measure="time",
    )
    return Sample(**{**fields, **values})
