"""``bankbench compare`` of runs measured by counting (``run --measure instructions`` or
``--measure counters``) instead of by the clock.

Instruction counts (callgrind) are deterministic: the same code on the same inputs executes
the same instructions, on a busy host as on a quiet one (two runs agree to well within
``AA_SPREAD_PCT``). So there is no sampling distribution to test: a benchmark's ratio is its
candidate's instructions per unit over its baseline's, and the gate (``--fail-on-regression
PCT``) fires on every benchmark whose instructions per unit grew by more than PCT percent —
no Mann–Whitney, no interval, no "cannot decide". The CI gate uses ``GATE_PCT``. Counts of two
architectures are refused: their instruction sets differ, so the same work takes other
numbers of instructions.

Hardware counters (perf) are the machine's own and vary like time does; they are shown side
by side — also across machines and architectures, to say *why* one is slower (more
instructions, lower IPC, more misses) — and never gated. Counts a run could not take
(no PMU) are shown as unknown, with the reason. Rendered by bench.compare.counts_formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import text
from bench.compare.contract import facts, group_by_key
from bench.measure.counts import CALL, per_unit_of
from bench.measure.modes import INSTRUCTIONS, TIME
from workloads.errors import InputError

GATE_PCT = 1.0  # the CI gate: instructions per unit may not grow by more than this
AA_SPREAD_PCT = 0.1  # two runs of the same code differ by less than this: the C core's counts
# Counts of scope "call" include the interpreter (python and numpy engines), whose
# instructions depend on the process's history: measured, the python engine's moved -0.47 %
# between two runs of identical code (h12), so such rows are gated at no less than this.
# Simulated cache and branch misses vary by several % and are never gated.
INTERPRETER_SPREAD_PCT = 1.0
BUILD_FIELDS = ("source_sha256", "compiler", "flags", "label")


def measure_of(samples: list[dict]) -> str:
    """How a run's samples were measured (runs before measurement modes: time)."""
    modes = {s.get("measure") or TIME for s in samples}
    return modes.pop() if len(modes) == 1 else "mixed"


def method_of(samples: list[dict]) -> str:
    """How a run's instructions were counted: its counts' source with the counting method's
    version (bench/measure/callgrind.py's COUNTING_METHOD), e.g. "callgrind/2"; a run stored
    before the version was recorded says "callgrind" alone and is "callgrind/unknown" (method
    1 or 2: the allocator in or out), never taken for either."""
    sources: set[str] = {s["counts_source"] for s in samples if s.get("counts_source")}
    methods = {source if "/" in source else f"{source}/unknown" for source in sources}
    return methods.pop() if len(methods) == 1 else " + ".join(sorted(methods)) or "unknown"


def counted(base_samples: list[dict], cand_samples: list[dict]) -> bool:
    """Whether either run was measured by counting: then this module compares them."""
    return TIME != measure_of(base_samples) or TIME != measure_of(cand_samples)


@dataclass
class CountRow:
    benchmark: str
    unit: str | None
    baseline: dict[str, float | None]  # per unit: EVENTS and "ipc"
    candidate: dict[str, float | None]
    unknown: str | None = None  # why some counts are unknown, on either side
    scope: str | None = None  # counts.CORE (the C core's calls) or counts.CALL (interpreter too)

    def ratio(self, event: str = "instructions") -> float | None:
        """candidate / baseline per unit (> 1: the candidate needs more)."""
        base, cand = self.baseline.get(event), self.candidate.get(event)
        if base is None or cand is None or base <= 0:
            return None
        return cand / base

    def change_pct(self, event: str = "instructions") -> float | None:
        ratio = self.ratio(event)
        return None if ratio is None else (ratio - 1) * 100


@dataclass
class CountComparison:
    mode: str  # INSTRUCTIONS or COUNTERS
    baseline: dict
    candidate: dict
    refusals: list[str] = field(default_factory=list)
    outputs_differ: list[str] = field(default_factory=list)
    only_baseline: list[str] = field(default_factory=list)
    only_candidate: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)  # "the candidate (id) is incomplete"
    differences: dict[str, tuple] = field(default_factory=dict)
    rows: list[CountRow] = field(default_factory=list)

    @property
    def comparable(self) -> bool:
        return not self.refusals


def count_rows(
    base_groups: dict[tuple, list[dict]], cand_groups: dict[tuple, list[dict]], keys: list[tuple]
) -> list[CountRow]:
    """Per benchmark (``keys`` of both), each side's counts per unit of work."""
    from workloads import registry

    rows = []
    for key in keys:
        first = base_groups[key][0]
        base, base_unknown = per_unit_of(base_groups[key])
        cand, cand_unknown = per_unit_of(cand_groups[key])
        workload = first.get("workload")
        unit = registry.get(workload).unit if workload in registry.names() else None
        unknown = "; ".join(dict.fromkeys(r for r in (base_unknown, cand_unknown) if r)) or None
        scope = first.get("counts_scope") or cand_groups[key][0].get("counts_scope")
        rows.append(CountRow(first["benchmark"], unit, base, cand, unknown, scope))
    return rows


def methods_apart(base_samples: list[dict], cand_samples: list[dict]) -> str | None:
    """Why two runs' counts cannot be set side by side, or None: they were counted by
    different methods (compare's table and the report's why table alike)."""
    methods = method_of(base_samples), method_of(cand_samples)
    if methods[0] != methods[1]:
        return (
            f"counted by different methods ({methods[0]} vs {methods[1]}): a change in how "
            "bankbench counts is not a change in the code; measure both again with one "
            "counting method"
        )
    return None


def _counts_apart(
    baseline: dict, candidate: dict, base_samples: list[dict], cand_samples: list[dict]
) -> str | None:
    """Why two runs' instruction counts cannot be compared, or None."""
    methods = methods_apart(base_samples, cand_samples)
    if methods:
        return methods
    arch = tuple(facts(run)["fingerprint"].get("arch") for run in (baseline, candidate))
    if arch[0] != arch[1]:
        return (
            f"instruction counts are not compared across architectures ({arch[0]} vs {arch[1]}): "
            "different instruction sets execute different numbers of instructions for the same "
            "work; compare time, or hardware counters side by side (--measure counters)"
        )
    return None


def compare(
    baseline: dict, candidate: dict, base_samples: list[dict], cand_samples: list[dict]
) -> CountComparison:
    if baseline["run_id"] == candidate["run_id"]:
        raise InputError(
            f"run {text.visible(baseline['run_id'])} is compared with itself; name two runs"
        )
    base_mode, cand_mode = measure_of(base_samples), measure_of(cand_samples)
    result = CountComparison(cand_mode, baseline, candidate)
    for name, run in (("baseline", baseline), ("candidate", candidate)):
        status = run.get("status") or "complete"
        if status != "complete":
            result.incomplete.append(f"the {name} ({run['run_id']}) is {status}")
    if base_mode != cand_mode:
        result.refusals.append(
            f"the baseline was measured by {base_mode} and the candidate by {cand_mode}: "
            "compare runs of one measurement mode"
        )
        return result
    refusal = _counts_apart(baseline, candidate, base_samples, cand_samples)
    if result.mode == INSTRUCTIONS and refusal:
        result.refusals.append(refusal)
        return result
    for name in BUILD_FIELDS:
        a, b = facts(baseline)["build"].get(name), facts(candidate)["build"].get(name)
        if a != b:
            result.differences[name] = (a, b)
    for name in ("arch", "cpu_model", "python"):
        a, b = facts(baseline)["fingerprint"].get(name), facts(candidate)["fingerprint"].get(name)
        if a != b:
            result.differences[name] = (a, b)
    a, b = group_by_key(base_samples), group_by_key(cand_samples)
    result.only_baseline = sorted(a[k][0]["benchmark"] for k in set(a) - set(b))
    result.only_candidate = sorted(b[k][0]["benchmark"] for k in set(b) - set(a))
    shared = sorted(set(a) & set(b), key=lambda k: a[k][0]["benchmark"])
    if not shared:
        result.refusals.append("the two runs have no benchmark in common")
        return result
    for key in shared:
        digests = ({s.get("digest") for s in a[key]} | {s.get("digest") for s in b[key]}) - {None}
        if len(digests) > 1:
            result.outputs_differ.append(a[key][0]["benchmark"])
    if result.outputs_differ:
        return result
    result.rows = count_rows(a, b, shared)
    return result


def regressions(result: CountComparison, threshold_pct: float) -> list[CountRow]:
    """Benchmarks whose instructions per unit grew by more than threshold_pct percent."""
    if result.mode != INSTRUCTIONS:
        raise InputError(
            "--fail-on-regression gates time or instruction counts; hardware counters vary "
            "like time and are shown side by side, not gated"
        )
    if threshold_pct < AA_SPREAD_PCT:
        raise InputError(
            f"--fail-on-regression {threshold_pct} is below the {AA_SPREAD_PCT} % by which two "
            f"runs of the same code can differ (multi-thread rows); use {AA_SPREAD_PCT} or more"
        )
    return [
        r
        for r in result.rows
        if (change := r.change_pct()) is not None and change > threshold_for(r, threshold_pct)
    ]


def threshold_for(row: CountRow, threshold_pct: float) -> float:
    """The gate's threshold for one row: a count that includes the interpreter (scope call)
    repeats only within INTERPRETER_SPREAD_PCT, so it is never gated tighter than that."""
    return max(threshold_pct, INTERPRETER_SPREAD_PCT) if row.scope == CALL else threshold_pct


def verdict(row: CountRow, threshold_pct: float) -> str:
    change, threshold = row.change_pct(), threshold_for(row, threshold_pct)
    if change is None:
        return "unknown"
    if change > threshold:
        return "more work"
    if change < -threshold:
        return "less work"
    return "same work"
