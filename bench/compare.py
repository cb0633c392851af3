"""``bankbench compare``: is the candidate faster than the baseline, by how much, how sure?

For every benchmark present in both runs (the same workload, engine, threads, scale, seed,
mode and batch size): the throughput ratio candidate/baseline as the ratio of median times
(> 1 = the candidate is faster), its 95 % bootstrap confidence interval, a Mann–Whitney U
p-value, Benjamini–Hochberg correction across the family, and a verdict. Then the suite's
geometric mean with its bootstrap interval.

The comparability contract comes first: outputs whose digests differ are a correctness
finding, reported before any speed and never compared; emulated runs are refused for timing;
different native sources are not comparable; other software differences (compiler, flags,
Python, kernel…) are listed and must be allowed by name (--allow).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 2000
KEY = ("workload", "engine", "threads", "scale", "seed", "mode", "batch_size")
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
    p_adjusted: float = 1.0
    noise_floor: float = 0.0  # changes smaller than this fraction are this host's noise
    verdict: str = "no significant difference"


@dataclass
class Comparison:
    baseline: dict
    candidate: dict
    differences: dict[str, tuple] = field(default_factory=dict)  # field → (baseline, candidate)
    not_allowed: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # why timing is not compared
    outputs_differ: list[str] = field(default_factory=list)  # benchmarks with other digests
    rows: list[Row] = field(default_factory=list)
    geomean: tuple[float, float, float] | None = None
    per_core: float | None = None  # geometric mean of the single-thread ratios
    per_socket: float | None = None  # ... of the most-threads ratios, scaled to one socket

    @property
    def comparable(self) -> bool:
        return not self.refusals and not self.not_allowed

    @property
    def suite_verdict(self) -> str | None:
        """'faster', 'slower' or 'no significant difference' for the whole suite. The geometric
        mean's interval must exclude 1 *and* significant benchmarks must point the same way:
        a shift of every benchmark with none significant on its own is what host-wide drift
        between two runs looks like (one process per run cannot tell them apart)."""
        if not self.geomean:
            return None
        _, low, high = self.geomean
        better = sum(r.verdict == "better" for r in self.rows)
        worse = sum(r.verdict == "worse" for r in self.rows)
        if low > 1 and better > worse:
            return "faster"
        if high < 1 and worse > better:
            return "slower"
        return "no significant difference"


def _facts(run: dict) -> dict:
    return {
        "fingerprint": json.loads(run["fingerprint_json"] or "{}"),
        "build": json.loads(run["build_json"] or "{}"),
    }


def contract(baseline: dict, candidate: dict, allow: set[str]) -> Comparison:
    result = Comparison(baseline, candidate)
    a, b = _facts(baseline), _facts(candidate)
    for name, run in (("baseline", baseline), ("candidate", candidate)):
        if run["emulated"]:
            result.refusals.append(
                f"the {name} ran emulated ({run['run_id']}): its timings are invalid"
            )
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


def _groups(samples: list[dict]) -> dict[tuple, dict]:
    groups: dict[tuple, dict] = {}
    for s in samples:
        g = groups.setdefault(
            tuple(s[k] for k in KEY), {"name": s["benchmark"], "seconds": [], "digests": set()}
        )
        g["seconds"].append(s["seconds"])
        if s["digest"]:
            g["digests"].add(s["digest"])
    return groups


def _ratio_of_medians(base: np.ndarray, cand: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(base, axis=axis) / np.median(cand, axis=axis)


def compare(
    baseline: dict,
    candidate: dict,
    base_samples: list[dict],
    cand_samples: list[dict],
    allow: set[str],
    seed: int = 20261128,
    noise_floor: dict[str, float] | float = 0.0,
) -> Comparison:
    """``noise_floor``: per benchmark (or one for all) the fractional change below which a
    difference is this host's noise, e.g. from ``bankbench calibrate``."""
    result = contract(baseline, candidate, allow)
    a, b = _groups(base_samples), _groups(cand_samples)
    shared = sorted(set(a) & set(b), key=lambda k: a[k]["name"])
    for key in shared:
        if a[key]["digests"] and b[key]["digests"] and a[key]["digests"] != b[key]["digests"]:
            result.outputs_differ.append(a[key]["name"])
    if result.outputs_differ or not result.comparable:
        return result
    rng = np.random.default_rng(seed)
    resampled = {}
    for key in shared:
        base, cand = np.array(a[key]["seconds"]), np.array(b[key]["seconds"])
        ratio = float(_ratio_of_medians(base, cand))
        if len(base) > 1 and len(cand) > 1 and (np.ptp(base) or np.ptp(cand)):
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
        else:  # one sample a side, or no variation at all: no interval, no test
            low, high, p = ratio, ratio, 1.0
        result.rows.append(
            Row(
                a[key]["name"],
                key,
                float(np.median(base)),
                float(np.median(cand)),
                ratio,
                low,
                high,
                p,
            )
        )
        resampled[key] = (base, cand)
    if result.rows:
        adjusted = stats.false_discovery_control([r.p_value for r in result.rows], method="bh")
        for row, p in zip(result.rows, adjusted, strict=True):
            row.p_adjusted = float(p)
            floor = (
                noise_floor.get(row.benchmark, 0.0)
                if isinstance(noise_floor, dict)
                else noise_floor
            )
            row.noise_floor = floor
            beyond_noise = abs(row.ratio - 1) > floor
            if p < ALPHA and row.low > 1 and beyond_noise:
                row.verdict = "better"
            elif p < ALPHA and row.high < 1 and beyond_noise:
                row.verdict = "worse"
        result.geomean = _geomean_interval(resampled, rng)
        result.per_core, result.per_socket = _per_core_and_socket(result)
    return result


def _cores_per_socket(run: dict) -> float | None:
    facts = _facts(run)["fingerprint"]
    cores, sockets = facts.get("physical_cores"), facts.get("sockets") or 1
    return cores / sockets if cores else None


def _per_core_and_socket(result: Comparison) -> tuple[float | None, float | None]:
    """Views from the fingerprints. Per core: the single-thread rows (per-core architecture
    quality). Per socket: each benchmark family at its most threads, the per-thread rate
    scaled to a socket's cores on each side (an estimate when fewer threads ran)."""
    single = [r.ratio for r in result.rows if r.key[KEY.index("threads")] == 1]
    per_core = float(stats.gmean(single)) if single else None
    base, cand = _cores_per_socket(result.baseline), _cores_per_socket(result.candidate)
    if not base or not cand:
        return per_core, None
    widest: dict[tuple, Row] = {}
    threads_at = KEY.index("threads")
    for row in result.rows:
        family = tuple(v for i, v in enumerate(row.key) if i != threads_at)
        if family not in widest or row.key[threads_at] > widest[family].key[threads_at]:
            widest[family] = row
    # the same thread count on both sides: the per-thread rates scale by cores per socket
    scaled = [r.ratio * cand / base for r in widest.values()]
    return per_core, float(stats.gmean(scaled)) if scaled else None


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


def regressions(result: Comparison, threshold_pct: float) -> list[Row]:
    """Rows significantly worse by more than threshold_pct percent."""
    limit = 1 - threshold_pct / 100
    return [r for r in result.rows if r.verdict == "worse" and r.ratio < limit]
