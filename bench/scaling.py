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

    def scaled(self, k: float) -> Rate:
        return Rate(
            self.value * k,
            self.low * k,
            self.high * k,
            self.threads,
            self.measured_threads,
            self.projected,
            self.serial_fraction,
        )


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
