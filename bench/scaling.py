"""Thread scaling, measured and projected: the one definition of per-core, per-socket and
per-server rates that ``compare`` and the report share.

A rate at a thread count is *measured* when the run timed that many threads on at least that
many physical cores. Otherwise it is a *projection*: Amdahl's law, rate(n) = rate₁ · n /
(1 + s · (n − 1)), with the serial fraction s fitted by least squares to every sample of the
run's own sweep on real cores (threads above the host's physical cores are time-sharing and
say nothing about a bigger server), and an interval from the fit's standard error. It is never
the one-thread rate times the cores.

- per core: the one-thread rate (one thread keeps one core busy);
- per socket: the rate at as many threads as a socket has physical cores;
- per server: the rate at the server's physical cores.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from bench.intervals import ratio_of_medians_interval
from bench.summary import SPLITS_NO_FURTHER, duration, threads_used
from bench.text import plural

Z_95 = 1.959964


@dataclass(frozen=True)
class Rate:
    """Units per second at ``threads``: measured, or projected from ``measured_threads``."""

    value: float
    low: float
    high: float
    threads: int
    measured_threads: int  # the most threads on real cores behind the figure
    projected: bool
    serial_fraction: float | None = None  # the fitted s, when projected
    # the counted serial share's Amdahl bound on the speed-up at ``threads`` (bench/
    # serial_share.py), where one bounded the projection, and whether it lowered it
    ceiling: float | None = None
    capped: bool = False
    # the most parts the calls holding most of the work split into, where fewer than
    # ``threads`` (8 cells: a ledger call): what holds the bound there, more than the share
    ceiling_parts: int | None = None

    def scaled(self, k: float) -> Rate:
        return dataclasses.replace(self, value=self.value * k, low=self.low * k, high=self.high * k)


@dataclass(frozen=True)
class Fit:
    rate_one: float
    serial: float
    serial_se: float
    threads: tuple[int, ...]  # the thread counts fitted

    def rate(self, threads: int, serial: float | None = None) -> float:
        s = self.serial if serial is None else serial
        return self.rate_one * threads / (1 + s * (threads - 1))


def _amdahl(threads: np.ndarray, rate_one: float, serial: float) -> np.ndarray:
    return rate_one * threads / (1 + serial * (threads - 1))


def fit(points: list[tuple[int, float]]) -> Fit | None:
    """Amdahl's law through (threads, units/s) points, one per sample; None without two
    thread counts. The serial fraction is bounded to [0, 1]."""
    threads = np.array([t for t, _ in points], dtype=float)
    rates = np.array([r for _, r in points], dtype=float)
    counts = sorted({int(t) for t in threads})
    if len(counts) < 2:
        return None
    one = float(np.median(rates[threads == counts[0]])) * (1 if counts[0] == 1 else 1 / counts[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optimize.OptimizeWarning)
        (rate_one, serial), covariance = optimize.curve_fit(
            _amdahl,
            threads,
            rates,
            p0=(max(one, 1e-12), 0.1),
            bounds=([0.0, 0.0], [np.inf, 1.0]),
        )
    se = float(np.sqrt(covariance[1, 1])) if np.all(np.isfinite(covariance)) else math.inf
    return Fit(float(rate_one), float(serial), se, tuple(counts))


def at(points: list[tuple[int, float]], threads: int, cores: int) -> Rate | None:
    """The rate at ``threads`` from a run's (threads, units/s) sample points on a host with
    ``cores`` physical cores: measured when that count ran on real cores, else projected."""
    real = [(t, r) for t, r in points if t <= cores]
    here = [r for t, r in real if t == threads]
    if here:
        values = np.array(here)
        low, high = (float(v) for v in np.percentile(values, [2.5, 97.5]))
        return Rate(float(np.median(values)), low, high, threads, threads, False)
    fitted = fit(real)
    if fitted is None:
        return None
    s_low = max(0.0, fitted.serial - Z_95 * fitted.serial_se)
    s_high = min(1.0, fitted.serial + Z_95 * fitted.serial_se)
    return Rate(
        fitted.rate(threads),
        fitted.rate(threads, s_high),  # more serial work: the lower rate
        fitted.rate(threads, s_low),
        threads,
        max(fitted.threads),
        True,
        fitted.serial,
    )


def points(samples: list[dict]) -> list[tuple[int, float]]:
    """(threads, units/s) of every timed sample that did work."""
    return [
        (int(s["threads"]), s["units"] / s["seconds"])
        for s in samples
        if s.get("units") and s.get("threads") and s["seconds"] > 0
    ]


def along(
    points: list[tuple[int, float]],
    reference: list[tuple[int, float]],
    threads: int,
    cores: int,
) -> Rate | None:
    """The rate at ``threads`` of a benchmark measured at fewer thread counts than a fit
    needs (say capacity at one thread count), projected along the scaling fitted to the
    ``reference`` curve of the same workload: rate(t₀) · reference(threads) / reference(t₀)."""
    direct = at(points, threads, cores)
    if direct is not None:
        return direct
    real = [(t, r) for t, r in points if t <= cores]
    fitted = fit([(t, r) for t, r in reference if t <= cores])
    if not real or fitted is None:
        return None
    start = max(t for t, _ in real)
    base = float(np.median([r for t, r in real if t == start]))
    s_low = max(0.0, fitted.serial - Z_95 * fitted.serial_se)
    s_high = min(1.0, fitted.serial + Z_95 * fitted.serial_se)

    def factor(serial: float) -> float:
        return fitted.rate(threads, serial) / fitted.rate(start, serial)

    return Rate(
        base * factor(fitted.serial),
        base * min(factor(s_low), factor(s_high)),
        base * max(factor(s_low), factor(s_high)),
        threads,
        start,  # what this benchmark itself measured
        True,
        fitted.serial,
    )


# ---- strong and weak scaling of one run (``bankbench show``, the report's scaling section) ----
STRONG, WEAK = "strong", "weak"
CURVE_MODES = {"batch": STRONG, "weak": WEAK}  # the sample mode of each curve's benchmarks


@dataclass(frozen=True)
class CurvePoint:
    """One thread count of a scaling curve: the median rate and the parallel efficiency,
    rate(t) / (t × rate(1)) on both curves: 1.0 is perfect (strong: t threads did the same
    work t times as fast; weak: t times the work in the same time)."""

    threads: int
    units_per_s: float
    efficiency: float  # over the threads it ran on (threads_used), not the threads asked
    threads_used: int | None = None  # None: as asked


def efficiency_curves(summary: list[dict]) -> dict[tuple[str, str], dict[str, list[CurvePoint]]]:
    """Per (workload, engine) of a run's summary rows (bench.summary.summarize) that has a
    one-thread plain batch benchmark: its strong curve (mode "batch": the work fixed) and
    its weak curve (mode "weak": scale × threads), each from that one-thread rate, in
    thread order. Both start at the one-thread benchmark, which is one point of each."""
    single: dict[tuple[str, str], dict] = {}
    for r in summary:
        if r["mode"] == "batch" and r["batch_size"] is None and r["threads"] == 1:
            if r["units_per_s"]:
                single[(r["workload"], r["engine"])] = r
    curves: dict[tuple[str, str], dict[str, list[CurvePoint]]] = {}
    for key, one in sorted(single.items()):
        rate_one = one["units_per_s"]
        curves[key] = {STRONG: [], WEAK: [CurvePoint(1, rate_one, 1.0)]}
        for r in sorted(summary, key=lambda r: r["threads"]):
            curve = CURVE_MODES.get(r["mode"])
            if (
                curve is None
                or (r["workload"], r["engine"]) != key
                or r["batch_size"] is not None
                or not r["units_per_s"]
                or (r["threads"] or 0) < 1  # a store's damaged row: no thread count to judge
            ):
                continue
            used = threads_used(r) or r["threads"]
            efficiency = r["units_per_s"] / (used * rate_one)
            curves[key][curve].append(CurvePoint(r["threads"], r["units_per_s"], efficiency, used))
        if len(curves[key][WEAK]) == 1:
            curves[key][WEAK] = []  # no weak benchmark ran: no weak curve
    return curves


def render_curves(curves: dict[tuple[str, str], dict[str, list[CurvePoint]]]) -> list[str]:
    """The curves side by side, one line per workload and thread count (``bankbench show``);
    no lines when no workload has a weak curve or more than one thread count."""
    from bench.summary import BENCHMARK_MAX
    from bench.text import terminal

    shown = {k: c for k, c in curves.items() if c[WEAK] or len({p.threads for p in c[STRONG]}) > 1}
    if not shown:
        return []
    lines = [
        "thread scaling, efficiency = rate(t) / (t × rate(1)), t the threads a point ran on; "
        "strong: the work fixed at the run's scale; weak: the run's scale per thread (the work "
        "grows with the threads)",
        f"{'workload[engine]':<28} {'threads':>7} {'strong rate':>14} {'eff':>6} "
        f"{'weak rate':>14} {'eff':>6}",
    ]
    for (workload, engine), curve in shown.items():
        by_threads: dict[int, dict[str, CurvePoint]] = {}
        for kind in (STRONG, WEAK):
            for p in curve[kind]:
                by_threads.setdefault(p.threads, {})[kind] = p
        name = terminal(f"{workload}[{engine}]", BENCHMARK_MAX)
        for threads, points in sorted(by_threads.items()):
            cells = []
            for kind in (STRONG, WEAK):
                point = points.get(kind)
                cells.append(
                    f"{point.units_per_s:>12,.0f}/s {point.efficiency * 100:>5.0f}%"
                    if point
                    else f"{'–':>14} {'–':>6}"
                )
            notes = sorted(
                {
                    f"{kind}: ran on {p.threads_used} of {threads} threads: {SPLITS_NO_FURTHER}"
                    for kind, p in points.items()
                    if p.threads_used is not None and p.threads_used < threads
                }
            )
            note = f"  ({'; '.join(notes)})" if notes else ""
            lines.append(f"{name:<28} {threads:>7} {cells[0]} {cells[1]}{note}")
            name = ""
    return lines


# ---- 2-thread efficiency against the probe that bounds it (issue 23's Must-show) ----
EFFICIENCY_TARGET = 0.80  # a C workload of a call of 1 ms or more: 2 threads at >= 80 %
PROBE_POINTS = 0.10  # or, bound by memory, within 10 points of its bounding probe's
CALL_MIN_S = 1e-3  # shorter one-thread calls are not judged (dispatch dominates them)
EFFICIENCY_SEED = 23  # fixed: the same rounds give the same interval on every reading
# the probe that bounds each workload family when it is memory-bound: the ledger finds
# accounts and transfers by id in tables far larger than a cache line (random updates); the
# loan workloads stream their columns (the triad)
PROBES = {
    "memory_bandwidth_bytes_per_s": "triad",
    "random_updates_per_s": "random updates",
}


# every workload's 2-thread ceiling on this host: shared-nothing compute (bench/probes.py:
# compute); no code runs 2 threads better than the CPUs it is given
COMPUTE_PROBE = "compute_units_per_s"


def bounding_probe(workload: str) -> str:
    """The probe key (PROBES) whose 2-thread efficiency bounds ``workload`` if it is bound
    by memory."""
    return (
        "random_updates_per_s" if workload.startswith("ledger.") else "memory_bandwidth_bytes_per_s"
    )


def probe_efficiency(probes: dict, probe: str, threads: int = 2) -> float | None:
    """rate(t) / (t × rate(1)) of a probe the run recorded at 1 and ``threads`` threads."""
    one, more = (stored_rate(probes.get(f"{probe}_{t}t")) for t in (1, threads))
    if one is None or more is None:
        return None
    return more / (threads * one)


def host_compute(probes: dict) -> dict | None:
    """The host's compute ceiling at 2 threads the run's probe measured: the efficiency of
    its pairs' medians and the lowest and the highest pair's; None for a run without it
    (recorded before the probe, or probes skipped). A store is the user's input: a range
    that is not two efficiencies around the median is left out."""
    median = stored_efficiency(probe_efficiency(probes, COMPUTE_PROBE))
    if median is None:
        return None
    low, high = (
        stored_efficiency(probes.get(f"compute_efficiency_2t_{end}")) for end in ("low", "high")
    )
    spread = low is not None and high is not None and low <= median <= high
    return {"median": median, "low": low if spread else None, "high": high if spread else None}


def pairs_range(host: dict) -> str:
    """The lowest and the highest pair of host_compute's, as text ("55-95 %"), or ""."""
    if host["low"] is None:
        return ""
    return f"{host['low'] * 100:.0f}-{host['high'] * 100:.0f} %"


def benchmark_ceiling(row: dict) -> float | None:
    """The host's compute ceiling a benchmark recorded around its rounds (schema 6), where
    it is one (stored_efficiency)."""
    return stored_efficiency(row.get("host_compute_efficiency"))


def _host_limits(efficiency: float, ceiling: float | None) -> str:
    """Where the host's compute ceiling may explain an efficiency below the target: within 10
    points of what the host's CPUs gave shared-nothing compute around the benchmark (how
    closely a workload follows that ceiling differs: docs/performance.md, stop 41)."""
    if (
        ceiling is None
        or efficiency >= EFFICIENCY_TARGET
        or abs(efficiency - ceiling) > PROBE_POINTS
    ):
        return ""
    return (
        f"; the host's compute ceiling around it was within 10 points ({ceiling * 100:.0f} %): "
        "the host may explain it"
    )


def host_busy(activity: dict | None, imported: bool = False) -> str | None:
    """Why a run's timings of 2 threads are not evidence (the host was busy or its activity
    is unknown), or None on a quiet host (bench/host_activity.py's readings)."""
    from bench import host_activity

    if imported:
        return "an imported file records nothing of the host's activity while it ran"
    if not activity or activity.get("others_cpus") is None:
        return "the host's activity during the run is unknown (a run killed before its end?)"
    reasons = []
    if activity["others_cpus"] >= host_activity.OTHERS_CPUS_APART:
        reasons.append(f"other work kept {activity['others_cpus']:.2f} CPUs busy")
    if (activity.get("steal_pct") or 0) >= host_activity.STEAL_PCT_APART:
        reasons.append(f"the hypervisor stole {activity['steal_pct']:.1f} % of the CPU time")
    return "; ".join(reasons) or None


def round_seconds(samples) -> dict[str, np.ndarray]:
    """Each timed benchmark's rounds, in seconds, by name (a run's samples table)."""
    by_name: dict[str, list[float]] = {}
    for name, seconds in zip(
        samples.column("benchmark").to_pylist(), samples.column("seconds").to_pylist(), strict=True
    ):
        if seconds is not None:
            by_name.setdefault(name, []).append(seconds)
    return {name: np.asarray(values, dtype=float) for name, values in by_name.items()}


def efficiency_interval(
    one_s: np.ndarray, two_s: np.ndarray, threads: int
) -> tuple[float, float] | None:
    """The 95 % bootstrap interval of the efficiency median(one) / (threads x median(two))
    over the rounds of the two benchmarks; None with fewer than two rounds on a side."""
    if len(one_s) < 2 or len(two_s) < 2:
        return None
    rng = np.random.default_rng(EFFICIENCY_SEED)
    _, low, high = ratio_of_medians_interval(one_s, two_s, rng)
    return low / threads, high / threads


def _cannot_tell(interval: tuple[float, float] | None, passing: float) -> str:
    """Where the efficiency's interval holds the efficiency that passes: this run cannot tell
    whether the workload passes."""
    if interval is None or not interval[0] <= passing <= interval[1]:
        return ""
    low, high = interval
    return (
        f"; this run cannot tell: its 95 % interval, {low * 100:.0f}-{high * 100:.0f} %, holds "
        f"the {passing * 100:.0f} % that passes"
    )


def _slower(interval: tuple[float, float] | None, parity: float, same_code: bool) -> str:
    """A 2-thread median below the 1-thread one: slower, unless the efficiency's interval
    reaches ``parity`` (the efficiency of a speed-up of 1): two benchmarks of one speed,
    within this run's noise, are not evidence that threads cost time. ``same_code``: the
    2-thread case ran on one thread, so what moved between them is the host, and it says so."""
    if interval is not None and interval[1] >= parity:
        return (
            "; slower at 2 threads than at 1 by the medians only: its 95 % interval reaches "
            "the speed of 1 thread"
        )
    if same_code:
        return (
            "; SLOWER at 2 threads than at 1, where both ran the same 1-thread code: the "
            "host's speed moved between the two benchmarks"
        )
    return "; SLOWER at 2 threads than at 1"


def serial_share(row: dict) -> float | None:
    """The share of a benchmark's call the calling thread ran alone, outside the pool's
    parallel calls (schema 7: Python, serial set-up in C), by the medians; None unknown."""
    serial, call = row.get("serial_s"), row.get("median_s")
    if serial is None or not call or not 0 <= serial <= call:
        return None
    return serial / call


def amdahl_efficiency(serial: float, threads: int) -> float:
    """The efficiency a call whose share ``serial`` runs alone can reach on ``threads``."""
    return 1 / (threads * serial + (1 - serial))


def _serial_caps(serial: float | None, efficiency: float) -> str:
    """Where the calling thread's own time alone keeps 2 threads below the target."""
    if serial is None or efficiency >= EFFICIENCY_TARGET:
        return ""
    cap = amdahl_efficiency(serial, 2)
    if cap >= EFFICIENCY_TARGET + PROBE_POINTS / 2:
        return ""
    return (
        f"; {serial * 100:.1f} % of its 1-thread call ran outside the parallel calls (Python, "
        f"serial C), which alone holds 2 threads to {cap * 100:.0f} %"
    )


def two_thread_evidence(
    summary: list[dict], probes: dict, round_seconds: dict[str, np.ndarray] | None = None
) -> list[dict]:
    """Per C workload with plain batch medians at 1 and 2 threads: the one-thread call, the
    2-thread efficiency, the bounding probe's 2-thread efficiency (same run) and the verdict
    against the target (>= 80 %, or at most 10 points below the probe). With each
    benchmark's rounds (``round_seconds``, by benchmark name), the efficiency's 95 % interval
    too, and a verdict it does not settle says so."""
    rows = []
    round_seconds = round_seconds or {}
    host = host_compute(probes)
    for (workload, engine), curve in efficiency_curves(summary).items():
        two = next((p for p in curve[STRONG] if p.threads == 2), None)
        if engine != "c" or two is None:
            continue
        one_rate = next(p.units_per_s for p in curve[STRONG] if p.threads == 1)
        one, two_row = (
            next(
                r
                for r in summary
                if (r["workload"], r["engine"], r["mode"], r["threads"])
                == (workload, "c", "batch", threads)
                and r["batch_size"] is None
            )
            for threads in (1, 2)
        )
        one_s = one["median_s"]
        used = two.threads_used or two.threads  # the threads the 2-thread case ran on
        interval = (
            efficiency_interval(
                round_seconds[one["benchmark"]],
                round_seconds[two_row["benchmark"]],
                used,  # as the efficiency: over the threads it ran on
            )
            if one.get("benchmark") in round_seconds and two_row.get("benchmark") in round_seconds
            else None
        )
        probe = bounding_probe(workload)
        bound = probe_efficiency(probes, probe)
        # the host's ceiling around this benchmark, else the run's probe (minutes earlier)
        ceiling = benchmark_ceiling(two_row)
        if ceiling is None and host is not None:
            ceiling = host["median"]
        # passing: at the target, or where the probe bounds it within 10 points of it
        passing = (
            EFFICIENCY_TARGET if bound is None else min(EFFICIENCY_TARGET, bound - PROBE_POINTS)
        )
        if used < 2:  # first: whatever its size, its efficiency is not of 2 threads
            verdict = f"not judged: ran on 1 thread: {SPLITS_NO_FURTHER}"
        elif one_s < CALL_MIN_S:
            verdict = "not judged: a call under 1 ms"
        elif two.efficiency >= EFFICIENCY_TARGET:
            verdict = "meets 80 %" + _cannot_tell(interval, passing)
        elif bound is not None and two.efficiency >= bound - PROBE_POINTS:
            verdict = f"at most 10 points below the {PROBES[probe]} (if bound by memory)"
            verdict += _cannot_tell(interval, passing)
        else:
            verdict = "BELOW 80 %" + (
                f", and more than 10 points below the {PROBES[probe]}" if bound is not None else ""
            )
            verdict += _cannot_tell(interval, passing) + _host_limits(two.efficiency, ceiling)
            verdict += _serial_caps(serial_share(one), two.efficiency)
        if two.units_per_s < one_rate:
            verdict += _slower(interval, 1 / used, same_code=used < 2)
        rows.append(
            {
                "workload": workload,
                "call_s_1t": one_s,
                "efficiency_2t": two.efficiency,
                "efficiency_2t_interval": interval,
                "probe": PROBES[probe],
                "probe_efficiency_2t": bound,
                "host_efficiency_2t": ceiling,
                "serial_share_1t": serial_share(one),
                "verdict": verdict,
            }
        )
    return rows


def render_two_thread(
    rows: list[dict], activity: dict | None, host: dict | None = None, imported: bool = False
) -> list[str]:
    """The table ``bankbench show`` prints, with the host's compute ceiling (host_compute)
    and load beside it; a busy host makes the measurement invalid, and the lines say so."""
    from bench.summary import BENCHMARK_MAX
    from bench.text import terminal

    if not rows:
        return []
    busy = host_busy(activity, imported)
    before, after = ((activity or {}).get(f"load_average_{w}") for w in ("before", "after"))
    lines = [
        "2-thread efficiency of each C workload, median and 95 % interval over this run's "
        "rounds (another run can land outside it: bankbench calibrate); target >= 80 % for a "
        "call of 1 ms or more, or at most 10 points below its bounding probe (same run)",
        f"{'workload':<18} {'1t call':>10} {'2t eff':>7} {'95 % interval':>13} "
        f"{'bounding probe':>15} {'probe 2t eff':>12} {'host 2t':>7} {'serial':>6} "
        f"{'its cap':>7}  verdict",
    ]
    for r in rows:
        probe, ceiling = r["probe_efficiency_2t"], r.get("host_efficiency_2t")
        interval = r.get("efficiency_2t_interval")
        shown = "–" if interval is None else f"{interval[0] * 100:.0f}-{interval[1] * 100:.0f}%"
        serial = r.get("serial_share_1t")
        serial_text, cap_text = (
            ("–", "–")
            if serial is None
            else (f"{serial * 100:.1f}%", f"{amdahl_efficiency(serial, 2) * 100:.0f}%")
        )
        lines.append(
            f"{terminal(r['workload'], BENCHMARK_MAX):<18} {duration(r['call_s_1t']):>10} "
            f"{r['efficiency_2t'] * 100:>6.0f}% {shown:>13} {r['probe']:>15} "
            f"{'–' if probe is None else f'{probe * 100:.0f}%':>12} "
            f"{'–' if ceiling is None else f'{ceiling * 100:.0f}%':>7} {serial_text:>6} "
            f"{cap_text:>7}  {r['verdict']}"
        )
    if any(r.get("serial_share_1t") is not None for r in rows):
        lines.append(
            "serial: the share of the 1-thread call (medians) the calling thread ran alone, "
            "outside the core pool's parallel calls (Python glue, serial set-up in C; serial "
            "steps inside a parallel call are not in it: bankbench scaling-bound counts those); "
            "its cap: the 2-thread efficiency that share alone allows, 1 / (1 + serial)"
        )
    if host is not None or any(r.get("host_efficiency_2t") is not None for r in rows):
        probe_text = ""
        if host is not None:
            swing = pairs_range(host)
            probe_text = f"; the run's own probe gave {host['median'] * 100:.0f} %" + (
                f", its pairs ranging {swing}" if swing else ""
            )
        lines.append(
            "host 2t: the CPUs' own ceiling, shared-nothing integer work in alternating pairs "
            "of 1- and 2-thread calls right before and after each benchmark (the run's probe "
            "where a benchmark has none): about 100 % on a core per thread; below where a "
            "neighbour takes a CPU or the caller's CPU is the faster of two unequal ones, above "
            f"where it is the slower, and short pairs add noise either way{probe_text}"
        )
    where = (
        "load average (1, 5, 15 min) "
        + ", ".join(
            f"{when} {' / '.join(f'{v:g}' for v in load)}"
            for when, load in (("before the run", before), ("after", after))
            if load
        )
        if before or after
        else "load average unknown"
    )
    lines.append(
        f"host: {where}; "
        + (
            f"INVALID as evidence: {busy}; measure on a quiet host"
            if busy
            else "quiet during the run (no other work kept half a CPU busy)"
        )
    )
    return lines


def dispatch_line(probes: dict) -> str | None:
    """The cost of an empty parallel call at each thread count the run's probe measured,
    beside the efficiency line it limits (a call shorter than a few times this cannot scale);
    None for a run without it (probes skipped, or recorded before the core's pool)."""
    costs = per_thread(probes, "parallel_call_ns_")
    if not costs:
        return None
    line = "empty parallel call (the core's pool, this run's probe): " + ", ".join(
        f"{threads}t {duration(ns * 1e-9)}" for threads, ns in costs
    )
    floors = [(t, ns) for t, ns in per_thread(probes, "dispatch_floor_ns_") if t in dict(costs)]
    round_trip = stored_ns(probes.get("handover_round_trip_ns"))
    cpus = probes.get("dispatch_cpus")
    if floors and round_trip and isinstance(cpus, int) and not isinstance(cpus, bool) and cpus > 0:
        line += (
            f"; floor where threads outnumber the {plural(cpus, 'CPU')} (a model: each worker "
            f"handed a CPU once, half of a {duration(round_trip * 1e-9)} round trip): "
            + ", ".join(f"{threads}t {duration(ns * 1e-9)}" for threads, ns in floors)
        )
    busy = stored_ns(probes.get("parallel_call_after_busy_ns_2t"))
    woken = stored_ns(probes.get("parallel_call_woken_ns_2t"))
    if busy and woken:
        line += (
            f"; 2t after 1 ms of Python (workers still yielding) {duration(busy * 1e-9)}, "
            f"after the workers slept (waking idle CPUs) {duration(woken * 1e-9)}"
        )
    return line


def stored_rate(value: object) -> float | None:
    """A stored probe rate, where it is one: a finite, positive number (a store is the user's
    input: text, booleans, NaN or an integer too large for a float are not rates)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        rate = float(value)
    except OverflowError:
        return None
    return rate if 0 < rate < math.inf else None


def stored_efficiency(value: object) -> float | None:
    """A stored efficiency, where it is one: a finite number above 0 and under 10 (1000 %)."""
    efficiency = stored_rate(value)
    return efficiency if efficiency is not None and efficiency < 10 else None


def stored_ns(value: object) -> float | None:
    """A stored probe time, where it is one: a finite, positive number under an hour (a store
    is the user's input: text, NaN or 1e300 there are not shown as times)."""
    ns = stored_rate(value)
    return ns if ns is not None and ns < 3.6e12 else None


def per_thread(probes: dict, prefix: str, read=stored_ns) -> list[tuple[int, float]]:
    """(threads, value) of the probe keys ``<prefix><threads>t``, in thread order, each value
    as ``read`` takes it (stored_ns, stored_rate); keys of another shape and values ``read``
    refuses are left out."""
    found = []
    for key, value in probes.items():
        middle = key[len(prefix) : -1] if key.startswith(prefix) and key.endswith("t") else ""
        taken = read(value)
        if middle.isdecimal() and middle.isascii() and taken is not None:
            found.append((int(middle), taken))
    return sorted(found)
