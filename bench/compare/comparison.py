"""What ``bankbench compare`` of times finds: one Row per benchmark in common, the
Comparison of two runs, and what their data can show (evidence, suite verdict, drift)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.text import of

ALPHA = 0.05
NOISY_CV = 0.10  # a benchmark whose samples vary more than this is noisy
# a benchmark: the same on both sides when these are (times and counts alike)
KEY = ("workload", "engine", "threads", "scale", "seed", "mode", "batch_size")
THREADS_AT = KEY.index("threads")


@dataclass
class Row:
    benchmark: str
    key: tuple
    baseline_median_s: float
    candidate_median_s: float
    ratio: float
    low: float
    high: float
    p_value: float
    baseline_samples: int = 0
    candidate_samples: int = 0
    baseline_cv: float = 0.0
    candidate_cv: float = 0.0
    p_adjusted: float = 1.0
    # the smallest adjusted p these sample counts can reach: a lone discovery's raw p floor
    # times the family size (Benjamini–Hochberg's factor for the smallest p alone)
    p_floor: float = 1.0
    noise_floor: float = 0.0  # changes smaller than this fraction are this host's noise
    calibrated: bool = False  # noise_floor comes from a calibration of this benchmark
    verdict: str = "no significant difference"
    # the threads the baseline's case ran on (summary.threads_used): fewer than asked where
    # the work splits no further; a report that said "2 threads" of a 1-thread case misled
    threads_used: int | None = None

    @property
    def threads(self) -> int | None:  # None: an imported benchmark states no thread count
        value = self.key[THREADS_AT]
        return None if value is None else int(value)

    @property
    def one_sample(self) -> bool:
        """A side has one sample: its bootstrap is one point, not an interval."""
        return min(self.baseline_samples, self.candidate_samples) < 2

    def interval(self) -> str:
        """The 95 % interval as printed: "n=1" where a side has one sample (it printed as
        1.020–1.020)."""
        if self.one_sample:
            return "n=1"
        return f"{self.low:.3f}–{self.high:.3f}"

    @property
    def can_reach_significance(self) -> bool:
        return self.p_floor < ALPHA

    @property
    def noisy(self) -> bool:
        """Its samples vary more than NOISY_CV on a side: no difference cannot be shown."""
        return max(self.baseline_cv, self.candidate_cv) > NOISY_CV

    def can_detect(self, change: float) -> bool:
        """Whether a change of this fraction could be called on these samples: their sample
        counts can reach significance and the calibrated noise (where known) is below it."""
        return self.can_reach_significance and (not self.calibrated or self.noise_floor < change)


@dataclass
class Comparison:
    baseline: dict
    candidate: dict
    differences: dict[str, tuple] = field(default_factory=dict)  # field → (baseline, candidate)
    not_allowed: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # why timing is not compared
    outputs_differ: list[str] = field(default_factory=list)  # workloads with other digests
    rows: list[Row] = field(default_factory=list)
    only_baseline: list[str] = field(default_factory=list)  # benchmarks run on one side only
    only_candidate: list[str] = field(default_factory=list)
    # benchmarks in common that are not compared, with why (contract.why_benchmark_refused)
    refused: dict[str, str] = field(default_factory=dict)
    incomplete: list[str] = field(default_factory=list)  # "the candidate (id) is abandoned"
    nothing_in_common: bool = False
    noise_source: str = "none"  # "calibration", "fixed" or "none"
    geomean: tuple[float, float, float] | None = None
    per_core: float | None = None  # geometric mean of the one-thread ratios
    per_socket: float | None = None  # ... of the rates at a socket's physical cores
    per_socket_projected: bool = False  # some per-socket rate was projected, not measured

    @property
    def comparable(self) -> bool:
        return not self.refusals and not self.not_allowed

    @property
    def one_sample_each(self) -> bool:
        """Every benchmark has a side of one sample: resampling them moves nothing."""
        return all(r.one_sample for r in self.rows)

    def geomean_interval(self, digits: int = 3) -> str:
        """The suite's geometric-mean interval as printed: "n=1" where one_sample_each (it
        printed 1.020–1.020)."""
        assert self.geomean is not None
        _, low, high = self.geomean
        if self.one_sample_each:
            return "n=1"
        return f"{low:.{digits}f}–{high:.{digits}f}"

    @property
    def calibrated(self) -> int:
        """How many compared benchmarks have a calibrated noise floor."""
        return sum(r.calibrated for r in self.rows)

    @property
    def evidence_problems(self) -> list[str]:
        """Why these data cannot support a verdict of no difference, one sentence each."""
        problems = list(self.incomplete)
        for side, run in (("baseline", self.baseline), ("candidate", self.candidate)):
            if run.get("profile") == "smoke":
                problems.append(f"the {side} is a smoke run (a few rounds, tiny inputs)")
        n = len(self.rows)
        noisy = sum(r.noisy for r in self.rows)
        if noisy * 4 > n:
            problems.append(
                f"{of(noisy, n)} {'varies' if noisy == 1 else 'vary'} by more than "
                f"{NOISY_CV * 100:.0f} % between samples (a noisy host)"
            )
        single = sum(min(r.baseline_samples, r.candidate_samples) < 2 for r in self.rows)
        if single:
            problems.append(
                f"{of(single, n)} {'has' if single == 1 else 'have'} one sample on a side"
            )
        weak = sum(not r.can_reach_significance for r in self.rows) - single
        if weak > 0:
            problems.append(
                f"{of(weak, n)} {'has' if weak == 1 else 'have'} too few samples to reach "
                f"significance (smallest attainable p ≥ {ALPHA:g})"
            )
        return problems

    @property
    def suite_verdict(self) -> str | None:
        """'faster', 'slower', 'no significant difference' or 'insufficient evidence' for the
        whole suite. The geometric mean's interval must exclude 1 *and* significant
        benchmarks must point the same way: a shift of every benchmark with none significant
        on its own is what host-wide drift between two runs looks like (one process per run
        cannot tell them apart). Weak data never say "no difference": a difference they show
        stands (with its caveats), their silence does not."""
        if not self.geomean:
            return None
        _, low, high = self.geomean
        better = sum(r.verdict == "better" for r in self.rows)
        worse = sum(r.verdict == "worse" for r in self.rows)
        if low > 1 and better > worse:
            return "faster"
        if high < 1 and worse > better:
            return "slower"
        if self.evidence_problems:
            return "insufficient evidence"
        return "no significant difference"

    @property
    def drift(self) -> bool:
        """Every benchmark moved together, none significantly: host-wide drift."""
        if not self.geomean or self.suite_verdict in ("faster", "slower"):
            return False
        if any(r.verdict in ("better", "worse") for r in self.rows):
            return False
        return not self.geomean[1] <= 1 <= self.geomean[2]
