"""The ratio of two samples' medians with its 95 % percentile-bootstrap interval: what compare
quotes per benchmark (baseline / candidate time) and what the 2-thread efficiency is
(one-thread time / two-thread time, over the threads), so both say how sure they are alike."""

from __future__ import annotations

import numpy as np
from scipy import stats

BOOTSTRAP_RESAMPLES = 2000


def ratio_of_medians(base: np.ndarray, cand: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(base, axis=axis) / np.median(cand, axis=axis)


def ratio_of_medians_interval(
    base: np.ndarray, cand: np.ndarray, rng: np.random.Generator
) -> tuple[float, float, float]:
    """(median(base) / median(cand), low, high): independent resamples of each side; the
    point itself where either side has one sample or neither varies."""
    ratio = float(ratio_of_medians(base, cand))
    if len(base) < 2 or len(cand) < 2 or not (np.ptp(base) or np.ptp(cand)):
        return ratio, ratio, ratio
    boot = stats.bootstrap(
        (base, cand),
        ratio_of_medians,
        n_resamples=BOOTSTRAP_RESAMPLES,
        vectorized=True,
        paired=False,
        method="percentile",
        random_state=rng,
    )
    return ratio, float(boot.confidence_interval.low), float(boot.confidence_interval.high)
