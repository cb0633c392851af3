"""The latency-vs-offered-load sweep of one workload at one thread count (TailBench's curve).

First the closed-loop peak (requests back to back: kept as "peak throughput", never as
capacity); then a grid of offered loads that follows THAT peak, from GRID_LOW_SHARE to
GRID_HIGH_SHARE of it, so every thread count's grid straddles its own saturation; past the grid
while its highest load has not saturated (a peak that understates); then bisection between the last
point meeting the SLO and the first missing it, until the two
are within BISECTION_TOLERANCE of each other. Each finished point goes to ``on_point`` at
once, so an interrupted sweep keeps every point it finished (the caller stores them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.openloop import driver
from bench.openloop.driver import PointResult
from workloads.errors import InputError

GRID_POINTS_MIN = 8
GRID_LOW_SHARE = 0.2  # the lowest offered load, a share of the closed-loop peak (≤ 20 %)
# the highest (≥ 110 %): far enough past the peak that the queue grows through the point
# (at 120 % a smoke point's backlog stayed within a few hundred µs of p99)
GRID_HIGH_SHARE = 1.5
# a closed-loop peak can understate what the server sustains open loop (ledger.post's did on
# this VM: every grid point kept up); the sweep then goes on past the grid, each load this
# factor above the last, until the highest saturates (at most EXTENSION_STEPS_MAX more points)
EXTENSION_FACTOR = 1.25
EXTENSION_STEPS_MAX = 6
BISECTION_TOLERANCE = 0.02  # stop when the bracket is this close (relative to its low end)
BISECTION_STEPS_MAX = 12  # from the grid's spacing to 2 % takes ~4; a bound, not a target
ACHIEVED_SHARE_MIN = 0.99  # a point keeps up when achieved ≥ 99 % of offered


@dataclass(frozen=True)
class Sweep:
    workload: str
    threads: int
    slo_ns: int
    peak_per_s: float  # the closed-loop peak ("peak throughput")
    points: tuple[PointResult, ...]  # in the order measured: grid, then bisection


def meets_slo(point: PointResult, slo_ns: int) -> bool:
    """The point's p99 is within the SLO and it kept up with the schedule."""
    return kept_up_within(
        point.latency_ns["p99"], point.saturated, point.achieved_per_s, point.offered_per_s, slo_ns
    )


def kept_up_within(
    p99_ns: int, saturated: bool, achieved_per_s: float, offered_per_s: float, slo_ns: int
) -> bool:
    """meets_slo of a point's figures, also as the store keeps them (bench/openloop/summary)."""
    return (
        p99_ns <= slo_ns and not saturated and achieved_per_s >= ACHIEVED_SHARE_MIN * offered_per_s
    )


def grid_per_s(peak_per_s: float, points: int = GRID_POINTS_MIN) -> list[float]:
    """``points`` offered rates evenly spaced over [20 %, 150 %] of the peak."""
    if not (peak_per_s > 0 and np.isfinite(peak_per_s)):
        raise InputError(f"open loop: the closed-loop peak {peak_per_s!r}/s is not a rate")
    if points < GRID_POINTS_MIN:
        raise InputError(f"open loop: {points} load points; a curve needs {GRID_POINTS_MIN}+")
    shares = np.linspace(GRID_LOW_SHARE, GRID_HIGH_SHARE, points)
    return [float(share * peak_per_s) for share in shares]


def bracket(points: list[PointResult], slo_ns: int) -> tuple[float, float] | None:
    """(the highest offered rate meeting the SLO, the lowest rate above it missing it), or
    None when none meets it or none above it misses. Capacity is the highest meeting rate, so
    a noisy miss below it (a host stall at a low load) does not stop the bisection."""
    meeting = [p.offered_per_s for p in points if meets_slo(p, slo_ns)]
    if not meeting:
        return None
    low = max(meeting)
    above = [p.offered_per_s for p in points if not meets_slo(p, slo_ns) and p.offered_per_s > low]
    return (low, min(above)) if above else None


def run(
    workload: str,
    *,
    threads: int,
    slo_ns: int,
    requests: int,
    seed: int,
    scale: float,
    points: int = GRID_POINTS_MIN,
    on_point: Callable[[PointResult, float], None] | None = None,
    measure_point: Callable[..., PointResult] = driver.run_point,
    peak: Callable[..., float] = driver.closed_loop_peak_per_s,
    **service,
) -> Sweep:
    """The sweep (module docstring). ``on_point(point, peak_per_s)`` sees each point as it
    finishes; ``measure_point`` and ``peak`` are the driver's (a test passes a simulated
    queue); ``service`` is the service configuration (server_batch, client_batch, pin)."""
    if slo_ns <= 0:
        raise InputError(f"open loop: the SLO {slo_ns} ns must be positive")
    peak_per_s = peak(workload, threads=threads, seed=seed, scale=scale, **service)
    done: list[PointResult] = []

    def measure(offered_per_s: float) -> None:
        point = measure_point(
            workload,
            offered_per_s=offered_per_s,
            requests=requests,
            threads=threads,
            seed=seed,
            scale=scale,
            **service,
        )
        done.append(point)
        if on_point is not None:
            on_point(point, peak_per_s)

    for offered_per_s in grid_per_s(peak_per_s, points):
        measure(offered_per_s)
    for _ in range(EXTENSION_STEPS_MAX):
        highest = max(done, key=lambda p: p.offered_per_s)
        if highest.saturated:  # not any point: a host stall can saturate a low load
            break
        measure(highest.offered_per_s * EXTENSION_FACTOR)
    for _ in range(BISECTION_STEPS_MAX):
        edges = bracket(done, slo_ns)
        if edges is None or edges[1] - edges[0] <= BISECTION_TOLERANCE * edges[0]:
            break
        measure((edges[0] + edges[1]) / 2)
    return Sweep(workload, threads, slo_ns, peak_per_s, tuple(done))
