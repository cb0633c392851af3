"""The regression gate of ``bankbench compare`` of times (``--fail-on-regression PCT``): which
benchmarks regressed, which cannot show a change of PCT at all, and what would let them; and
calibrate's warning for a host too noisy to show a change."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.compare.comparison import ALPHA, Comparison, Row
from bench.compare.times import samples_needed, smallest_p
from bench.records import Calibration
from bench.text import of, plural, visible

NOISY_HOST_CHANGE = 0.10  # calibrate flags a host that cannot detect a change this large


@dataclass
class Gate:
    """``--fail-on-regression PCT`` on a comparison: which benchmarks regressed beyond PCT,
    which cannot show a change of PCT at all, and what would let them."""

    threshold_pct: float
    regressed: list[Row]
    undecided: list[Row]  # rows whose samples cannot detect the threshold
    reasons: list[str]  # why they cannot, one sentence each
    advice: str  # how many samples (rounds × processes) would
    unfinished: str | None = None  # why it cannot pass: a run did not finish (unfinished_gate)

    @property
    def outcome(self) -> str:
        """'regression', 'incomplete', 'cannot decide' or 'pass'. A regression among the
        finished benchmarks is one; with none, an unfinished run still fails the gate."""
        if self.regressed:
            return "regression"
        if self.unfinished:
            return "incomplete"
        return "cannot decide" if self.undecided else "pass"


def unfinished_gate(incomplete: list[str], threshold_pct: float) -> str | None:
    """Why ``--fail-on-regression`` cannot pass on these runs (one sentence), or None: a run
    that did not finish (incomplete, abandoned, still running) lacks benchmarks that may have
    regressed, so comparing what it finished never passes the gate (exit 4, not comparable).
    Of times and of counts alike."""
    if not incomplete:
        return None
    return (
        f"the {threshold_pct:g} % regression gate cannot pass: {'; '.join(incomplete)}, and "
        "the benchmarks it did not finish may have regressed; gate on runs that completed"
    )


def _refused_gate(refused: dict[str, str], threshold_pct: float) -> str | None:
    """Why the gate cannot pass when some benchmarks were refused (their workload's source or
    version changed): they were not compared, so they may have regressed (exit 4)."""
    if not refused:
        return None
    return (
        f"the {threshold_pct:g} % regression gate cannot pass: "
        f"{plural(len(refused), 'benchmark')} not comparable (their workloads' sources or "
        "versions changed) may have regressed; gate on runs of the same sources"
    )


def regressions(result: Comparison, threshold_pct: float) -> list[Row]:
    """Rows significantly worse by more than threshold_pct percent."""
    limit = 1 - threshold_pct / 100
    return [r for r in result.rows if r.verdict == "worse" and r.ratio < limit]


def gate(result: Comparison, threshold_pct: float) -> Gate:
    change = threshold_pct / 100
    regressed = regressions(result, threshold_pct)
    undecided = [r for r in result.rows if not r.can_detect(change)]
    reasons, advice = [], ""
    few = [r for r in undecided if not r.can_reach_significance]
    if few:
        counts = sorted({(r.baseline_samples, r.candidate_samples) for r in few})
        n, m = counts[0]
        family = len(result.rows)
        reasons.append(
            f"{of(len(few), family)} {'has' if len(few) == 1 else 'have'} too few samples: "
            f"{n} against "
            f"{m} give a smallest Mann–Whitney p of {smallest_p(n, m):.2g}, times "
            f"{family} benchmarks (Benjamini–Hochberg) = {min(1.0, smallest_p(n, m) * family):.2g}"
            f", not below {ALPHA:g}"
        )
        needed = samples_needed(family)
        rounds = max(1, min(min(r.baseline_samples, r.candidate_samples) for r in few))
        if needed:
            advice = (
                f"{needed} samples a side would (--rounds {needed}, or --processes "
                f"{math.ceil(needed / rounds)} at {plural(rounds, 'round')})"
            )
    noisy = [r for r in undecided if r.can_reach_significance]
    if noisy:
        worst = max(r.noise_floor for r in noisy)
        reasons.append(
            f"{plural(len(noisy), 'benchmark')} have a calibrated noise floor above "
            f"{threshold_pct:g} % (up to {worst * 100:.1f} %) on this host"
        )
        factor = math.ceil((worst / change) ** 2)
        advice = (advice + "; " if advice else "") + (
            f"a quieter host, or about {factor}× the samples (the noise floor shrinks with "
            "the square root of the samples), would"
        )
    if not result.rows:
        reasons.append("no benchmark was compared")
    unfinished = unfinished_gate(result.incomplete, threshold_pct) or _refused_gate(
        result.refused, threshold_pct
    )
    return Gate(threshold_pct, regressed, undecided, reasons, advice, unfinished)


def noisy_calibration(rows: list[Calibration], change: float = NOISY_HOST_CHANGE) -> str | None:
    """For ``bankbench calibrate``: the warning when this host cannot detect a change of
    ``change`` (a fraction) in some benchmarks, else None."""
    noisy = [r for r in rows if r.detectable_change >= change]
    if not noisy:
        return None
    worst = max(noisy, key=lambda r: r.detectable_change)
    return (
        f"TOO NOISY: this host cannot detect a {change * 100:.0f} % change in "
        f"{of(len(noisy), len(rows))} (worst {visible(worst.benchmark)}: "
        f"{worst.detectable_change * 100:.0f} %); use more rounds or --processes, a quieter "
        "host, or --measure instructions where available"
    )
