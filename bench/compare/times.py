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
a regression gate on it says "cannot decide" (see bench.compare.regression).

The comparability contract (bench.compare.contract) comes first.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from bench import scaling, summary
from bench.compare.comparison import ALPHA, KEY, THREADS_AT, Comparison, Row
from bench.compare.contract import (
    contract,
    facts,
    group_by_key,
    output_finding,
    output_parity,
    refused_benchmarks,
    sources_per_workload,
)
from bench.importer import MODE as IMPORTED
from bench.intervals import BOOTSTRAP_RESAMPLES, ratio_of_medians, ratio_of_medians_interval
from bench.measure.modes import INSTRUCTIONS
from bench.text import plural, visible
from workloads.errors import InputError


def _groups(samples: list[dict], run: dict) -> dict[tuple, dict]:
    """A run's benchmarks (group_by_key): their name, samples and times."""
    for s in samples:
        seconds = s["seconds"]
        if seconds is None or not math.isfinite(seconds) or seconds <= 0:
            raise InputError(
                f"run {visible(run['run_id'])}: benchmark {visible(s['benchmark'])} has a "
                f"timing of {seconds!r} s (not a positive number); rerun or re-import it"
            )
    return {
        key: {
            "name": group[0]["benchmark"],
            "samples": group,
            "seconds": np.array([s["seconds"] for s in group], dtype=float),
        }
        for key, group in group_by_key(samples).items()
    }


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
        mode = KEY.index("mode")
        imported = [{k[mode] == IMPORTED for k in side} == {True} for side in (a, b)]
        if any(imported) and not all(imported):  # same names, but one side's keys hold less
            return (
                "an imported file's benchmarks keep their names but not bankbench's engine, "
                "threads and mode, so they pair only with another imported file's: import "
                "the other run's export too (bankbench export … --format pytest-benchmark)"
            )
        return "run the same selection on both"
    options = " and ".join(fixes)
    return f"the runs differ in {' and '.join(causes)}: rerun one with the other's {options}"


def _listed(values: set) -> str:
    return ", ".join(sorted(("none" if v is None else f"{v:g}") for v in values))


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
    digest gate (output_parity); one with no output at all to compare fails too. Where both
    runs' samples record each workload's source hash (contract.sources_per_workload), the
    benchmarks whose workload changed are refused by name (``Comparison.refused``) and the
    rest compare."""
    per_workload = sources_per_workload(base_samples) and sources_per_workload(cand_samples)
    result = contract(baseline, candidate, allow, per_workload)
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
    if per_workload:  # each benchmark judged by its workload's own source and version
        result.refused = refused_benchmarks([(a[k]["samples"], b[k]["samples"]) for k in shared])
        refused_keys = {k for k in shared if a[k]["name"] in result.refused}
        shared = [k for k in shared if k not in refused_keys]
        # nor do they count in the per-socket view, which reads the groups
        a = {k: g for k, g in a.items() if k not in refused_keys}
        b = {k: g for k, g in b.items() if k not in refused_keys}
        if result.refused and not shared:
            result.refusals.append(
                f"every benchmark in common is not comparable ({len(result.refused):,}: "
                "their workloads' sources or versions changed)"
            )
    parity = output_parity(base_samples, cand_samples, every_output)
    result.outputs_differ = sorted({output_finding(k, v) for k, v in parity.items() if v != "same"})
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
        row = _row(a[key]["name"], key, base, cand, rng)
        row.threads_used = summary.threads_used(a[key]["samples"][0])
        result.rows.append(row)
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
    ratio, low, high = ratio_of_medians_interval(base, cand, rng)
    p = 1.0
    if len(base) > 1 and len(cand) > 1 and np.ptp(np.concatenate([base, cand])) > 0:
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
        facts(result.baseline)["fingerprint"],
        facts(result.candidate)["fingerprint"],
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
        point.append(np.log(ratio_of_medians(base, cand)))
        b = rng.choice(base, size=(BOOTSTRAP_RESAMPLES, len(base)))
        c = rng.choice(cand, size=(BOOTSTRAP_RESAMPLES, len(cand)))
        logs += np.log(ratio_of_medians(b, c, axis=1))
    logs /= len(resampled)
    low, high = np.percentile(logs, [2.5, 97.5])
    return float(np.exp(np.mean(point))), float(np.exp(low)), float(np.exp(high))
