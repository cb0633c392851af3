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
    efficiency: float


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
            ):
                continue
            efficiency = r["units_per_s"] / (r["threads"] * rate_one)
            curves[key][curve].append(CurvePoint(r["threads"], r["units_per_s"], efficiency))
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
        "thread scaling, efficiency = rate(t) / (t × rate(1)); strong: the work fixed at the "
        "run's scale; weak: the run's scale per thread (the work grows with the threads)",
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
            lines.append(f"{name:<28} {threads:>7} {cells[0]} {cells[1]}")
            name = ""
    return lines
