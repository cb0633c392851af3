"""``bankbench compare``: is the candidate faster than the baseline, by how much, how sure?

For every benchmark present in both runs (the same workload, engine, threads, scale, seed,
mode and batch size): the throughput ratio candidate/baseline as the ratio of median times
(> 1 = the candidate is faster), its 95 % bootstrap confidence interval, a Mann–Whitney U
p-value, Benjamini–Hochberg correction across the family, and a verdict. Then the suite's
geometric mean with its bootstrap interval. Benchmarks on one side only are listed; two runs
with nothing in common are not comparable; a run is never compared with itself.

Every row knows what its samples can show: the smallest p its sample counts can reach (a
Mann–Whitney test of n against m samples cannot go below a floor, and Benjamini–Hochberg
multiplies a lone discovery by the family size), and the host's calibrated noise floor. Data
that cannot show a change is "insufficient evidence", never "no significant difference", and
a regression gate on it says "cannot decide" (see ``gate``).

The comparability contract comes first: outputs whose digests differ are a correctness
finding, reported before any speed and never compared; emulated runs are refused for timing;
different native sources are not comparable; other software differences (compiler, flags,
Python, kernel…) are listed and must be allowed by name (--allow).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from bench import scaling, summary
from bench.commands._exit import EXIT_NOT_COMPARABLE
from bench.fingerprint import emulation
from bench.measure.modes import INSTRUCTIONS
from bench.records import Calibration, RunRecord
from bench.text import of, plural, visible
from workloads.errors import BankbenchError, InputError

ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 2000
KEY = ("workload", "engine", "threads", "scale", "seed", "mode", "batch_size")
THREADS_AT = KEY.index("threads")
NOISY_CV = 0.10  # a benchmark whose samples vary more than this is noisy
NOISY_HOST_CHANGE = 0.10  # calibrate flags a host that cannot detect a change this large
SOFTWARE_FIELDS = {  # what may differ between the runs only when named in --allow
    "compiler": ("build", "compiler"),
    "flags": ("build", "flags"),
    "build_label": ("build", "label"),
    "python": ("fingerprint", "python"),
    "kernel": ("fingerprint", "kernel"),
    "os": ("fingerprint", "os"),
    "libc": ("fingerprint", "libc"),
    "cffi": ("build", "cffi_version"),
}
HARDWARE_FIELDS = (
    "arch",
    "cpu_model",
    "midr_implementer",
    "midr_part",
    "sockets",
    "physical_cores",
    "logical_cpus",
    "threads_per_core",
    "memory_bytes",
    "page_size_bytes",
    "transparent_hugepages",
    "cpufreq_governor",
)


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

    @property
    def threads(self) -> int | None:  # None: an imported benchmark states no thread count
        value = self.key[THREADS_AT]
        return None if value is None else int(value)

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


def difference(before: object, after: object) -> tuple[str, str]:
    """Two values of a field as the part that differs: for space-separated words (compiler
    flags) the words removed and added, so a long common prefix does not hide the change."""
    if isinstance(before, str) and isinstance(after, str) and " " in before + after:
        old, new = before.split(), after.split()
        removed = [w for w in old if w not in new]
        added = [w for w in new if w not in old]
        if removed or added:
            return " ".join(removed) or "(none)", " ".join(added) or "(none)"
    return str(before), str(after)


def _facts(run: dict) -> dict:
    record = RunRecord.from_row(run)  # the one place the JSON columns are decoded
    return {"fingerprint": record.fingerprint or {}, "build": record.build or {}}


def ran_emulated(run: dict) -> bool:
    """Whether a run was timed under emulation: its runs-table column, or the fingerprint in the
    same row (its flag or its facts), says so; one edited field does not make it comparable."""
    recorded = _facts(run)["fingerprint"]
    facts = recorded.get("emulation_facts") or {}
    return bool(run.get("emulated") or recorded.get("emulated") or emulation(facts))


def contract(baseline: dict, candidate: dict, allow: set[str]) -> Comparison:
    if baseline["run_id"] == candidate["run_id"]:
        raise InputError(
            f"run {visible(baseline['run_id'])} is compared with itself; name two runs "
            "(for this host's noise floor, run `bankbench calibrate`)"
        )
    result = Comparison(baseline, candidate)
    a, b = _facts(baseline), _facts(candidate)
    for name, run in (("baseline", baseline), ("candidate", candidate)):
        if ran_emulated(run):
            result.refusals.append(
                f"the {name} ran emulated ({run['run_id']}): its timings are invalid"
            )
        status = run.get("status") or "complete"
        if status not in ("complete", "imported"):  # an imported run is first-class
            result.incomplete.append(f"the {name} ({run['run_id']}) is {status}")
    if a["build"].get("source_sha256") != b["build"].get("source_sha256"):
        result.refusals.append(
            "the C core's sources differ (source_sha256): these are different programs"
        )
    for name, (part, key) in SOFTWARE_FIELDS.items():
        if a[part].get(key) != b[part].get(key):
            result.differences[name] = (a[part].get(key), b[part].get(key))
            if name not in allow:
                result.not_allowed.append(name)
    for key in HARDWARE_FIELDS:
        if a["fingerprint"].get(key) != b["fingerprint"].get(key):
            result.differences[key] = (a["fingerprint"].get(key), b["fingerprint"].get(key))
    return result


def _groups(samples: list[dict], run: dict) -> dict[tuple, dict]:
    groups: dict[tuple, dict] = {}
    for s in samples:
        seconds = s["seconds"]
        if seconds is None or not math.isfinite(seconds) or seconds <= 0:
            raise InputError(
                f"run {visible(run['run_id'])}: benchmark {visible(s['benchmark'])} has a "
                f"timing of {seconds!r} s (not a positive number); rerun or re-import it"
            )
        g = groups.setdefault(tuple(s[k] for k in KEY), {"name": s["benchmark"], "samples": []})
        g["samples"].append(s)
    for g in groups.values():
        g["seconds"] = np.array([s["seconds"] for s in g["samples"]], dtype=float)
    return groups


def output_parity(
    base_samples: list[dict], cand_samples: list[dict], every_output: bool = False
) -> dict[tuple, str]:
    """The one definition of "outputs differ", used by compare, summary and the report: per
    output (a workload at one scale, seed and batch size, whatever the engine and thread
    count; summary.output_key), 'same', 'DIFFERS' (the digests on the two sides differ) or
    'inconsistent' (one side's own engines or thread counts disagree). Outputs run on one
    side only are absent, unless ``every_output`` (the cross-architecture digest gate, where
    an output missing on one side, or run there without a digest, proves nothing and so
    fails): then they are 'not run on the baseline' (or candidate) or 'no digest on …'."""
    a, b = summary.digest_sets(base_samples), summary.digest_sets(cand_samples)
    verdicts = {}
    for key in sorted(set(a) & set(b), key=repr):
        if len(a[key]) > 1 or len(b[key]) > 1:
            verdicts[key] = "inconsistent"
        else:
            verdicts[key] = "same" if a[key] == b[key] else "DIFFERS"
    if every_output:
        ran = {"baseline": _outputs(base_samples), "candidate": _outputs(cand_samples)}
        digested = {"baseline": a, "candidate": b}
        for side, other in (("baseline", "candidate"), ("candidate", "baseline")):
            for key in ran[other] - ran[side]:
                verdicts[key] = f"not run on the {side}"
            for key in ran[side] - digested[side].keys():
                verdicts.setdefault(key, f"no digest on the {side}")
    return verdicts


def _outputs(samples: list[dict]) -> set[tuple]:
    return {summary.output_key(s) for s in samples}


def _output_finding(key: tuple, verdict: str) -> str:
    """One output that is not the same on both sides, as compare prints it."""
    output = f"{key[0]} (scale {key[1]:g}, seed {key[2]})"
    return output if verdict in ("DIFFERS", "inconsistent") else f"{output}: {verdict}"


class NotComparableError(BankbenchError):
    """Two runs whose timings cannot be compared at all (the report refuses them as compare
    does, with compare's exit status)."""

    exit_code = EXIT_NOT_COMPARABLE


def _why_nothing_in_common(a: dict[tuple, dict], b: dict[tuple, dict]) -> str:
    """The cause when the same selection was run with another seed or scale (a benchmark's
    key holds both), else the generic advice."""
    causes, fixes = [], []
    for field_name, option in (("seed", "--seed"), ("scale", "--scale")):
        index = KEY.index(field_name)
        ours, theirs = {k[index] for k in a}, {k[index] for k in b}
        if ours.isdisjoint(theirs):
            causes.append(f"{field_name} ({_listed(ours)} vs {_listed(theirs)})")
            fixes.append(option)
    if not causes:
        return "run the same selection on both"
    options = " and ".join(fixes)
    return f"the runs differ in {' and '.join(causes)}: rerun one with the other's {options}"


def _listed(values: set) -> str:
    return ", ".join(sorted(("none" if v is None else f"{v:g}") for v in values))


def _ratio_of_medians(base: np.ndarray, cand: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(base, axis=axis) / np.median(cand, axis=axis)


def _cv(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / values.mean()) if len(values) > 1 else 0.0


def smallest_p(n_base: int, n_cand: int) -> float:
    """The smallest two-sided Mann–Whitney U p-value that n_base against n_cand samples can
    give: that of two fully separated samples, computed by the same test compare runs."""
    if n_base < 2 or n_cand < 2:
        return 1.0
    low, high = np.arange(n_base, dtype=float), np.arange(n_cand, dtype=float) + n_base
    return float(stats.mannwhitneyu(low, high, alternative="two-sided").pvalue)


def samples_needed(family: int, most: int = 1000) -> int | None:
    """The fewest samples a side (rounds × processes) with which a lone change among
    ``family`` benchmarks can reach Benjamini–Hochberg significance."""
    for n in range(2, most):
        if smallest_p(n, n) * family < ALPHA:
            return n
    return None


def timed_under_valgrind(samples: list[dict]) -> bool:
    """Whether any of a run's samples was timed under Valgrind (``run --measure
    instructions``): its times are Valgrind's, so it gives no speed, rate, capacity or cost."""
    return any(s.get("measure") == INSTRUCTIONS for s in samples)


def compare(
    baseline: dict,
    candidate: dict,
    base_samples: list[dict],
    cand_samples: list[dict],
    allow: set[str],
    seed: int = 20261128,
    noise_floor: dict[str, float] | float | None = None,
    every_output: bool = False,
) -> Comparison:
    """``noise_floor``: per benchmark (from ``bankbench calibrate``: a benchmark absent from
    it has no known floor) or one fraction for all; None: no floor. ``every_output``: the
    digest gate (output_parity); one with no output at all to compare fails too."""
    result = contract(baseline, candidate, allow)
    for name, run, samples in (
        ("baseline", baseline, base_samples),
        ("candidate", candidate, cand_samples),
    ):
        if timed_under_valgrind(samples):  # as an emulated run: no speed from its clock
            result.refusals.append(
                f"the {name} ({run['run_id']}) was measured by counting instructions under "
                "Valgrind: its timings are not the machine's"
            )
    a, b = _groups(base_samples, baseline), _groups(cand_samples, candidate)
    shared = sorted(set(a) & set(b), key=lambda k: a[k]["name"])
    result.only_baseline = sorted(a[k]["name"] for k in set(a) - set(b))
    result.only_candidate = sorted(b[k]["name"] for k in set(b) - set(a))
    if not shared:
        result.nothing_in_common = True
        result.refusals.append(
            f"no benchmark in common (baseline {plural(len(a), 'benchmark')}, candidate "
            f"{len(b):,}): {_why_nothing_in_common(a, b)}"
        )
    parity = output_parity(base_samples, cand_samples, every_output)
    result.outputs_differ = sorted(
        {_output_finding(k, v) for k, v in parity.items() if v != "same"}
    )
    if every_output and not parity:
        result.outputs_differ = ["no output digest on either side: nothing was compared"]
    if result.outputs_differ or not result.comparable:
        return result
    if isinstance(noise_floor, dict):
        result.noise_source = "calibration"
    elif noise_floor is not None:
        result.noise_source = "fixed"
    rng = np.random.default_rng(seed)
    resampled = {}
    for key in shared:
        base, cand = a[key]["seconds"], b[key]["seconds"]
        result.rows.append(_row(a[key]["name"], key, base, cand, rng))
        resampled[key] = (base, cand)
    adjusted = stats.false_discovery_control([r.p_value for r in result.rows], method="bh")
    for row, p in zip(result.rows, adjusted, strict=True):
        row.p_adjusted = float(p)
        row.p_floor = min(
            1.0, smallest_p(row.baseline_samples, row.candidate_samples) * len(shared)
        )
        if isinstance(noise_floor, dict):
            row.calibrated = row.benchmark in noise_floor
            row.noise_floor = noise_floor.get(row.benchmark, 0.0)
        elif noise_floor is not None:
            row.calibrated, row.noise_floor = True, noise_floor
        beyond_noise = abs(row.ratio - 1) > row.noise_floor
        if p < ALPHA and row.low > 1 and beyond_noise:
            row.verdict = "better"
        elif p < ALPHA and row.high < 1 and beyond_noise:
            row.verdict = "worse"
        elif not row.can_reach_significance or row.noisy:  # cannot show there is none
            row.verdict = "insufficient evidence"
    result.geomean = _geomean_interval(resampled, rng)
    _per_core_and_socket(result, a, b)
    return result


def _row(name: str, key: tuple, base: np.ndarray, cand: np.ndarray, rng) -> Row:
    ratio = float(_ratio_of_medians(base, cand))
    low = high = ratio
    p = 1.0
    if len(base) > 1 and len(cand) > 1 and np.ptp(np.concatenate([base, cand])) > 0:
        if np.ptp(base) or np.ptp(cand):
            boot = stats.bootstrap(
                (base, cand),
                _ratio_of_medians,
                n_resamples=BOOTSTRAP_RESAMPLES,
                vectorized=True,
                paired=False,
                method="percentile",
                random_state=rng,
            )
            low, high = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
        p = float(stats.mannwhitneyu(base, cand, alternative="two-sided").pvalue)
    return Row(
        name,
        key,
        float(np.median(base)),
        float(np.median(cand)),
        ratio,
        low,
        high,
        p,
        baseline_samples=len(base),
        candidate_samples=len(cand),
        baseline_cv=_cv(base),
        candidate_cv=_cv(cand),
    )


def cores_per_socket(fingerprint: dict) -> int | None:
    """Physical cores per socket: the one definition of a socket's size."""
    cores, sockets = fingerprint.get("physical_cores"), fingerprint.get("sockets") or 1
    return max(1, cores // sockets) if cores else None


def family_of(key: tuple) -> tuple:
    """A benchmark's key without its thread count: one scaling curve."""
    return key[:THREADS_AT] + key[THREADS_AT + 1 :]


def family_points(groups: dict[tuple, dict]) -> dict[tuple, list[tuple[int, float]]]:
    """Per scaling curve (batch benchmarks), its (threads, units/s) sample points."""
    curves: dict[tuple, list[tuple[int, float]]] = {}
    for key, g in groups.items():
        if key[KEY.index("mode")] == "batch":
            curves.setdefault(family_of(key), []).extend(scaling.points(g["samples"]))
    return {k: v for k, v in curves.items() if v}


def per_socket_rate(points: list[tuple[int, float]], fingerprint: dict) -> scaling.Rate | None:
    """The rate at a socket's physical cores, measured or projected."""
    per_socket = cores_per_socket(fingerprint)
    cores = fingerprint.get("physical_cores")
    if not per_socket or not cores:
        return None
    return scaling.at(points, per_socket, cores)


def _per_core_and_socket(result: Comparison, a: dict, b: dict) -> None:
    """Per core: the geometric mean of the one-thread ratios. Per socket: of the ratios of
    each curve's rate at a socket's physical cores on each side (scaling.Rate: measured, or
    projected from the curve's own sweep)."""
    single = [r.ratio for r in result.rows if r.threads == 1]
    result.per_core = float(stats.gmean(single)) if single else None
    facts_a, facts_b = (
        _facts(result.baseline)["fingerprint"],
        _facts(result.candidate)["fingerprint"],
    )
    curves_a, curves_b = family_points(a), family_points(b)
    ratios, projected = [], False
    for family in set(curves_a) & set(curves_b):
        base = per_socket_rate(curves_a[family], facts_a)
        cand = per_socket_rate(curves_b[family], facts_b)
        if base and cand:
            ratios.append(cand.value / base.value)
            projected |= base.projected or cand.projected
    if ratios:
        result.per_socket, result.per_socket_projected = float(stats.gmean(ratios)), projected


def _geomean_interval(resampled: dict, rng: np.random.Generator) -> tuple[float, float, float]:
    """The suite's geometric mean of ratios, with a percentile interval from resampling every
    benchmark's samples together."""
    logs = np.zeros(BOOTSTRAP_RESAMPLES)
    point = []
    for base, cand in resampled.values():
        point.append(np.log(_ratio_of_medians(base, cand)))
        b = rng.choice(base, size=(BOOTSTRAP_RESAMPLES, len(base)))
        c = rng.choice(cand, size=(BOOTSTRAP_RESAMPLES, len(cand)))
        logs += np.log(_ratio_of_medians(b, c, axis=1))
    logs /= len(resampled)
    low, high = np.percentile(logs, [2.5, 97.5])
    return float(np.exp(np.mean(point))), float(np.exp(low)), float(np.exp(high))


# ---- the regression gate ----
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
    unfinished = unfinished_gate(result.incomplete, threshold_pct)
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
