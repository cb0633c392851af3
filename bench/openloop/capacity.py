"""Capacity from open-loop points: the highest offered rate whose p99 meets the SLO and whose
achieved rate kept up (≥ 99 % of offered), as must every lower load of the sweep (but those
the driver flags host jitter). Flagged points (driver.FLAGS: the driver could not trust its
measurement) are left out; only when no unflagged point qualifies is capacity taken
from flagged ones, and it then says so. Repeated sweeps give a bootstrap confidence interval
(scipy), within one machine and for the ratio between two."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from bench.intervals import BOOTSTRAP_RESAMPLES
from bench.openloop.sweep import meets_slo

CONFIDENCE = 0.95
HOST_JITTER = "host jitter"  # driver.FLAGS: a late start of a request that found no queue
BOOTSTRAP_SEED = 24  # fixed: the same points give the same interval on every reading


@dataclass(frozen=True)
class Capacity:
    offered_per_s: float  # the highest qualifying offered rate
    achieved_per_s: float  # what the server completed there (≥ 99 % of offered)
    latency_ns_p99: int
    from_flagged: tuple[str, ...]  # the flags of the point it came from, when flagged

    @property
    def per_s(self) -> float:
        """The capacity figure: the rate the server was offered and kept up with there, never
        above what it completed (offered can exceed achieved by the 1 % allowance)."""
        return min(self.offered_per_s, self.achieved_per_s)


def capacity(points, slo_ns: int) -> Capacity | None:
    """The capacity of one sweep's points (PointResult-like: offered_per_s, achieved_per_s,
    latency_ns, saturated, flags), or None when no point meets the SLO."""
    best = _highest_before_a_miss([p for p in points if not p.flags], slo_ns)
    best = best or _highest_before_a_miss(points, slo_ns)
    if best is None:
        return None
    return Capacity(
        offered_per_s=best.offered_per_s,
        achieved_per_s=best.achieved_per_s,
        latency_ns_p99=best.latency_ns["p99"],
        from_flagged=tuple(best.flags),
    )


def _highest_before_a_miss(points, slo_ns: int):
    """The highest offered load meeting the SLO below the lowest that missed it: a load that
    meets it above a miss is one lucky point (a host stall spared it), not a capacity the
    server has, and a fleet sized on it is too small. A miss flagged host jitter (a stall
    of the host, seen by the driver) does not end the sweep's capacity."""
    best = None
    for point in sorted(points, key=lambda p: p.offered_per_s):
        if meets_slo(point, slo_ns):
            best = point
        elif HOST_JITTER not in point.flags:  # a miss the driver blames on the host says
            break  # nothing of the server's capacity; any other miss ends it
    return best


def max_achieved_per_s(points) -> float:
    return max((p.achieved_per_s for p in points), default=0.0)


def _interval(samples: tuple, statistic) -> tuple[float, float]:
    """A percentile-bootstrap interval; a sample without spread has the point as interval."""
    if all(len(set(s)) == 1 for s in samples):
        value = float(statistic(*samples))
        return value, value
    result = stats.bootstrap(
        samples,
        statistic,
        confidence_level=CONFIDENCE,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        vectorized=False,
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def interval(capacities_per_s: list[float]) -> tuple[float, float] | None:
    """The CI of the mean capacity over repeated sweeps; None below two repeats."""
    if len(capacities_per_s) < 2:
        return None
    return _interval((np.asarray(capacities_per_s, dtype=float),), np.mean)


def ratio_interval(
    candidate_per_s: list[float], baseline_per_s: list[float]
) -> tuple[float, tuple[float, float] | None]:
    """Mean capacity of the candidate over the baseline's, with its CI (independent
    resamples of each machine's repeats); no CI when either has fewer than two."""
    a = np.asarray(candidate_per_s, dtype=float)
    b = np.asarray(baseline_per_s, dtype=float)
    ratio = float(a.mean() / b.mean())
    if len(a) < 2 or len(b) < 2:
        return ratio, None
    return ratio, _interval((a, b), lambda x, y: np.mean(x) / np.mean(y))
