"""Sample rows for the store, from a pytest-benchmark result of ours or of another project."""

from __future__ import annotations

import re

import numpy as np

# the latency distribution kept per online/capacity benchmark: percentiles 0…100 and the tail
LATENCY_QUANTILES = (*range(0, 100), 99.5, 99.9, 99.99, 100)


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


def _peak_rss_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            return int(f.read().split("VmHWM:")[1].split()[0]) * 1024
    except (OSError, IndexError, ValueError):
        return None


def rows_of(
    run_id: str,
    name: str,
    timings: list[float],
    info: dict,
    process: int = 0,
    source: str = "bankbench",
) -> list[dict]:
    """One row per timed round. ``info`` is pytest-benchmark's extra_info (ours carries the
    workload, engine, threads, units and digest; a foreign benchmark's may carry nothing)."""
    peak = _peak_rss_bytes() if source == "bankbench" else None
    return [
        {
            "run_id": run_id,
            "benchmark": name,
            "workload": info.get("workload") or _workload_of(name),
            "engine": info.get("engine"),
            "threads": info.get("threads"),
            "scale": info.get("scale"),
            "seed": info.get("seed"),
            "mode": info.get("mode", "batch"),
            "batch_size": info.get("batch_size"),
            "process": process,
            "round": i,
            "units": info.get("units"),
            "seconds": seconds,
            "latency_ns_p50": info.get("latency_ns_p50"),
            "latency_ns_p99": info.get("latency_ns_p99"),
            "latency_ns_p999": info.get("latency_ns_p999"),
            "digest": info.get("digest"),
            "peak_rss_bytes": peak,
            "source": source,
            "io_bytes": info.get("io_bytes"),
            "latency_ns_quantiles": info.get("latency_ns_quantiles"),
            "inner_seconds": (info.get("inner_seconds") or [None] * len(timings))[i],
            "iterations": info.get("iterations"),
        }
        for i, seconds in enumerate(timings)
    ]


def _workload_of(name: str) -> str:
    return re.sub(r"\[.*$", "", name)
