"""Per-benchmark summary rows of a run, read back from the store."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from bench import text
from bench.measure.modes import OPEN_LOOP


def output_key(row: dict) -> tuple:
    """What must give one digest: a workload's output at one scale, seed and batch size,
    whatever the engine and thread count; except loan.decide's capacity on several shards,
    each with its own fraud state, whose answer is one per thread count."""
    threads = row.get("threads") or 1
    shards = threads if row.get("mode") == "capacity" and threads > 1 else None
    return (row["workload"], row["scale"], row["seed"], row["batch_size"], shards)


def threads_used(row: dict) -> int | None:
    """The threads a benchmark ran on: what its sample recorded, else (an older store, an
    import, or a count no run can record: below 1 or above the threads asked) the threads
    asked."""
    used, asked = row.get("threads_used"), row.get("threads")
    if used is None or asked is None or not 1 <= used <= asked:
        return asked
    return used


# why a benchmark ran on fewer threads than asked: too little work for more parts, or fewer
# parts to split into (ledger.post's 8 cells, loan.fraud's 4 rule families)
SPLITS_NO_FURTHER = "the work splits no further"


def threads_note(row: dict) -> str:
    """Why a benchmark ran on fewer threads than asked, or nothing when it did not."""
    used, asked = threads_used(row), row.get("threads")
    if used is None or asked is None or used >= asked:
        return ""
    return f"ran on {used} of {asked} threads: {SPLITS_NO_FURTHER}"


def digest_sets(rows: list[dict]) -> dict[tuple, set[str]]:
    """The digests seen per output_key."""
    digests: dict[tuple, set[str]] = {}
    for row in rows:
        if row["digest"]:
            digests.setdefault(output_key(row), set()).add(row["digest"])
    return digests


def _finite(values) -> list[float]:
    """The values that are finite non-negative numbers (a store is the user's input)."""
    return [float(v) for v in values if isinstance(v, float) and np.isfinite(v) and v >= 0]


def _ceiling(group: list[dict]) -> float | None:
    """The host's compute ceiling around a benchmark (schema 6): the median over its
    processes' (each sample of a process holds the same), of the values that are finite
    numbers; None where none is (older stores, imports, other benchmarks)."""
    finite = _finite(r.get("host_compute_efficiency") for r in group)
    return float(np.median(finite)) if finite else None


def summarize(samples: pa.Table) -> list[dict]:
    """Median time, coefficient of variation, throughput, and whether every engine and thread
    count of a workload (at one batch size) produced the same digest. Open-loop load points
    are curves, not timed rounds: bench/openloop/summary.py reads them."""
    rows = [r for r in samples.to_pylist() if r.get("mode") != OPEN_LOOP]
    by_benchmark: dict[str, list[dict]] = {}
    for row in rows:
        by_benchmark.setdefault(row["benchmark"], []).append(row)
    digests = digest_sets(rows)
    summary = []
    for name, group in by_benchmark.items():
        seconds = np.array([r["seconds"] for r in group], dtype=float)
        median = float(np.median(seconds))
        inner: list[float] = [r["inner_seconds"] for r in group if r.get("inner_seconds")]
        serial = _finite(r.get("serial_seconds") for r in group)
        first = group[0]
        agree = None if not first["digest"] else len(digests.get(output_key(first), ())) == 1
        summary.append(
            {
                "benchmark": name,
                "workload": first["workload"],
                "engine": first["engine"],
                "threads": first["threads"],
                "threads_used": threads_used(first),
                "host_compute_efficiency": _ceiling(group),
                "mode": first["mode"],
                "batch_size": first["batch_size"],
                "samples": len(group),
                "median_s": median,
                # None for one sample: its spread is unknown, not 0 %
                "cv": float(seconds.std(ddof=1) / seconds.mean())
                if len(seconds) > 1 and seconds.mean()
                else None,
                "units_per_s": first["units"] / median if first["units"] and median else None,
                "latency_us_p99": first["latency_ns_p99"] / 1000
                if first["latency_ns_p99"]
                else None,
                # what the harness adds over the core's own clock around the timed call
                "harness_overhead": median / float(np.median(inner)) - 1 if inner else None,
                # the calling thread alone, per call (schema 7): what threads cannot shorten
                "serial_s": float(np.median(serial)) if serial else None,
                "digest": (first["digest"] or "")[:16],
                "digest_ok": agree,
            }
        )
    return sorted(summary, key=lambda r: r["benchmark"])


def efficiency(summary: list[dict]) -> list[tuple[str, int, float, int]]:
    """(workload[engine], threads, rate(t) / (u × rate(1)), u) of every batch benchmark run
    at more than one thread, u the threads it ran on (threads_used): a benchmark asked for 16
    that ran on 2 is judged as 2 threads, not 16."""
    single = {
        (r["workload"], r["engine"]): r["units_per_s"]
        for r in summary
        if r["mode"] == "batch" and r["batch_size"] is None and r["threads"] == 1
    }
    return [
        (
            f"{r['workload']}[{r['engine']}]",
            r["threads"],
            r["units_per_s"] / ((used := threads_used(r) or r["threads"]) * one),
            used,
        )
        for r in summary
        if r["mode"] == "batch"
        and r["batch_size"] is None
        and r["threads"] > 1
        and r["units_per_s"]
        and (one := single.get((r["workload"], r["engine"])))
    ]


def capacity(summary: list[dict], slo_ms: float) -> dict | None:
    """Capacity at a latency target: the highest loan.decide throughput over micro-batch sizes
    and thread counts whose p99 latency stays within the SLO."""
    within = [
        r
        for r in summary
        if r["mode"] == "capacity"
        and r["units_per_s"]
        and r["latency_us_p99"] is not None
        and r["latency_us_p99"] <= slo_ms * 1000
    ]
    if not within:
        return None
    best = max(within, key=lambda r: r["units_per_s"])
    return {
        "units_per_s": best["units_per_s"],
        "threads": best["threads"],
        "batch_size": best["batch_size"],
        "p99_us": best["latency_us_p99"],
    }


def duration(seconds: float) -> str:
    """A time in the unit that shows it with three or more significant digits where it can
    (ns, µs, ms or s), so a sub-microsecond median is never shown as 0.00ms."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.2f}{unit}"
    return f"{seconds / 1e-9:.2f}ns" if seconds else "0s"


BENCHMARK_WIDTH = 40  # the benchmark column's width; ours fit, an imported name may not
BENCHMARK_MAX = 60  # characters of a benchmark name before the ellipsis


def spread(cv: float | None) -> str:
    """A CV as printed: "n=1" where one sample cannot show one."""
    return "n=1" if cv is None else f"{cv * 100:.1f}%"


OK_MEANS = (  # output_key in words: a new user read differing digests marked "yes" as a bug
    "ok: the digest is the one every engine and thread count gave for the same workload, "
    "scale, seed and batch size (a batch size of its own is a different answer, as is "
    "capacity on another number of shards, each with its own fraud state)"
)


def print_table(summary: list[dict], slo_ms: float = 1.0) -> None:
    print(
        f"{'benchmark':<{BENCHMARK_WIDTH}} {'median':>11} {'CV':>6} {'throughput':>18}  "
        f"{'digest':<16} ok"
    )
    for r in summary:
        throughput = f"{r['units_per_s']:>12,.0f} /s" if r["units_per_s"] else f"{'':>14}"
        latency = f"  p99 {r['latency_us_p99']:.1f} µs" if r["latency_us_p99"] else ""
        ok = {True: "yes", False: "DIFFER", None: "-"}[r["digest_ok"]]
        note = f"  ({why})" if (why := threads_note(r)) else ""
        print(
            f"{text.terminal(r['benchmark'], BENCHMARK_MAX):<{BENCHMARK_WIDTH}} "
            f"{duration(r['median_s']):>11} {spread(r['cv']):>6} "
            f"{throughput:>18}  {text.terminal(r['digest'], 16):<16} {ok}{latency}{note}"
        )
    if any(r["digest_ok"] is not None for r in summary):
        print(OK_MEANS)
    scaling = efficiency(summary)
    if scaling:
        print(
            "parallel efficiency, rate(t) / (t × rate(1)), t the threads it ran on: "
            + "; ".join(
                f"{text.terminal(name, BENCHMARK_MAX)} {t}t"
                + (f" (ran on {used})" if used < t else "")
                + f" {e * 100:.0f} %"
                for name, t, e, used in scaling
            )
        )
    if any(r["mode"] == "capacity" for r in summary):
        best = capacity(summary, slo_ms)
        print(
            # what the closed loop claims: the open-loop sweep's line (bench/openloop/summary.py)
            # is the measured capacity
            f"closed loop (arrivals not modelled: a claim, not capacity), "
            f"capacity at p99 ≤ {slo_ms:g} ms: "
            + (
                f"{best['units_per_s']:,.0f} decisions/s "
                f"({text.plural(best['threads'], 'thread')}, "
                f"micro-batches of {best['batch_size']}, p99 {best['p99_us']:.0f} µs)"
                if best
                else "no configuration met the SLO"
            )
        )
    overheads = [r["harness_overhead"] for r in summary if r["harness_overhead"] is not None]
    if overheads:
        print(
            f"harness overhead (pytest-benchmark's time over the core's clock around the call), "
            f"{len(overheads)} batch benchmarks: median {np.median(overheads) * 100:.2f} %, "
            f"max {max(overheads) * 100:.2f} %"
        )
