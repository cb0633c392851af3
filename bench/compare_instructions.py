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
(no PMU) are shown as unknown, with the reason.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from dataclasses import dataclass, field

from bench import compare_format, text
from bench.compare import unfinished_gate
from bench.measure.counts import CALL, EVENTS, per_unit_of
from bench.measure.modes import INSTRUCTIONS, TIME
from bench.text import plural
from workloads.errors import InputError

GATE_PCT = 1.0  # the CI gate: instructions per unit may not grow by more than this
AA_SPREAD_PCT = 0.1  # two runs of the same code differ by less than this: the C core's counts
# Counts of scope "call" include the interpreter (python and numpy engines), whose
# instructions depend on the process's history: measured, the python engine's moved -0.47 %
# between two runs of identical code (h12), so such rows are gated at no less than this.
# Simulated cache and branch misses vary by several % and are never gated.
INTERPRETER_SPREAD_PCT = 1.0
KEY = ("workload", "engine", "threads", "scale", "seed", "mode", "batch_size")
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


def _facts(run: dict, part: str) -> dict:
    value = run.get(part)
    if isinstance(value, dict):
        return value
    return json.loads(run.get(f"{part}_json") or "{}")


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


def groups(samples: list[dict]) -> dict[tuple, list[dict]]:
    """Samples by benchmark (the KEY fields)."""
    grouped: dict[tuple, list[dict]] = {}
    for s in samples:
        grouped.setdefault(tuple(s.get(k) for k in KEY), []).append(s)
    return grouped


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
    arch = tuple(_facts(run, "fingerprint").get("arch") for run in (baseline, candidate))
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
        a, b = _facts(baseline, "build").get(name), _facts(candidate, "build").get(name)
        if a != b:
            result.differences[name] = (a, b)
    for name in ("arch", "cpu_model", "python"):
        a, b = _facts(baseline, "fingerprint").get(name), _facts(candidate, "fingerprint").get(name)
        if a != b:
            result.differences[name] = (a, b)
    a, b = groups(base_samples), groups(cand_samples)
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


LABELS = {
    "instructions": "instr",
    "cycles": "cycles",
    "ipc": "IPC",
    "branch_misses": "br miss",
    "l1d_misses": "L1D miss",
    "llc_misses": "LL miss",
}


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "unknown"
    return f"{value:,.{digits}f}" if abs(value) < 1e6 else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "unknown" if value is None else f"{value:+.2f} %"


def render(
    result: CountComparison,
    fmt: str,
    threshold_pct: float | None,
    regressed: list[CountRow] | None = None,
    unfinished: str | None = None,
) -> str:
    """The comparison as a terminal table, Markdown (escaped, for CI summaries), JSON or CSV;
    ``regressed``: the benchmarks the gate failed; ``unfinished``: why it cannot pass."""
    threshold = GATE_PCT if threshold_pct is None else threshold_pct
    if fmt == "json":
        return json.dumps(
            {
                "mode": result.mode,
                **compare_format.json_header(result),
                "threshold_pct": threshold,
                "regressed": [r.benchmark for r in regressed or []],
                "unfinished": unfinished,
                "rows": [
                    {
                        **dataclasses.asdict(r),
                        "change_pct": r.change_pct(),
                        "threshold_pct": threshold_for(r, threshold),
                        "verdict": verdict(r, threshold),
                    }
                    for r in result.rows
                ],
            },
            indent=1,
        )
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        events = [*EVENTS, "ipc"]
        writer.writerow(
            ["benchmark", "unit"]
            + [f"baseline_{e}_per_unit" for e in events]
            + [f"candidate_{e}_per_unit" for e in events]
            + ["instructions_change_pct", "verdict"]
        )
        for r in result.rows:
            writer.writerow(
                [r.benchmark, r.unit]
                + [r.baseline.get(e) for e in events]
                + [r.candidate.get(e) for e in events]
                + [r.change_pct(), verdict(r, threshold)]
            )
        return out.getvalue().rstrip("\n")  # print ends the last line
    md = fmt == "markdown"
    esc = text.markdown if md else text.terminal

    def run(r: dict) -> str:
        arch = _facts(r, "fingerprint").get("arch") or "unknown arch"
        label = esc(r.get("label") or "no label", text.LABEL_WIDTH)
        return f"{esc(r['run_id'])} ({label}, {esc(arch)})"

    what = (
        "instruction counts (Valgrind callgrind)"
        if result.mode == INSTRUCTIONS
        else ("hardware counters (perf_event_open)")
    )
    lines = [
        f"{'## ' if md else ''}bankbench compare, {what}: candidate {run(result.candidate)} vs "
        f"baseline {run(result.baseline)}"
    ]
    if result.refusals:  # one line each, nothing else to say
        return "\n".join("not comparable: " + esc(r) for r in result.refusals)
    if result.outputs_differ:
        lines.append(
            f"{'**' if md else ''}OUTPUTS DIFFER{'**' if md else ''} — a correctness finding, "
            "so the counts are not compared: " + ", ".join(esc(b) for b in result.outputs_differ)
        )
        return "\n".join(lines)
    if result.differences:
        lines.append(
            "differences: "
            + "; ".join(
                f"{esc(k)}: {esc(a, text.LABEL_WIDTH)} → {esc(b, text.LABEL_WIDTH)}"
                for k, (a, b) in result.differences.items()
            )
        )
    for note in result.incomplete:
        lines.append(
            f"{'**' if md else ''}{esc(note)}{'**' if md else ''}: its missing "
            "benchmarks are listed below"
        )
    for side, names in (("baseline", result.only_baseline), ("candidate", result.only_candidate)):
        if names:
            lines.append(f"only in the {side}: " + ", ".join(esc(n) for n in names))
    if result.mode == INSTRUCTIONS:
        header = ["benchmark", "instr/unit baseline", "instr/unit candidate", "change"]
        header += [
            f"{LABELS[e]}/unit change" for e in ("l1d_misses", "llc_misses", "branch_misses")
        ]
        header.append("verdict")
        body = [
            [
                esc(r.benchmark),
                _number(r.baseline["instructions"]),
                _number(r.candidate["instructions"]),
                _pct(r.change_pct()),
                *(_pct(r.change_pct(e)) for e in ("l1d_misses", "llc_misses", "branch_misses")),
                verdict(r, threshold),
            ]
            for r in result.rows
        ]
    else:
        shown = ("instructions", "cycles", "ipc", "l1d_misses", "llc_misses", "branch_misses")
        header = ["benchmark"] + [
            f"{LABELS[e]}{'' if e == 'ipc' else '/unit'} baseline → candidate" for e in shown
        ]
        body = [
            [esc(r.benchmark)]
            + [f"{_number(r.baseline.get(e), 2)} → {_number(r.candidate.get(e), 2)}" for e in shown]
            for r in result.rows
        ]
    lines += _table(header, body, md)
    unknown = sorted({r.unknown for r in result.rows if r.unknown})
    for reason in unknown:
        lines.append(f"unknown: {esc(reason)}")
    if result.mode == INSTRUCTIONS:
        interpreted = [r for r in result.rows if threshold_for(r, threshold) != threshold]
        lines.append(
            f"gate: a benchmark regresses when its instructions per unit grow by more than "
            f"{threshold:g} %"
            + (
                f" ({plural(len(interpreted), 'benchmark')} counted with the interpreter, scope "
                f"call: by more than {threshold_for(interpreted[0], threshold):g} %)"
                if interpreted
                else ""
            )
            + f"; the C core's instruction counts (scope core) repeat within {AA_SPREAD_PCT} % "
            "run after run, so no statistical test is needed or made; counts with the "
            f"interpreter (scope call) repeat only within about {INTERPRETER_SPREAD_PCT:g} % "
            "and simulated cache and branch misses vary by several %: misses are shown, not "
            "gated"
        )
    else:
        lines.append(
            "counters are this machine's own and vary from run to run like time: shown "
            "side by side to explain a difference, never gated"
        )
    if unfinished and not regressed:
        bold = "**" if md else ""
        lines.append(f"{bold}GATE NOT PASSED{bold} (exit 4): {esc(unfinished)}")
    if regressed:
        lines.append(
            f"{'**' if md else ''}REGRESSION{'**' if md else ''} (exit 3): instructions per "
            f"unit grew by more than {threshold:g} % in "
            + ", ".join(f"{esc(r.benchmark)} ({_pct(r.change_pct())})" for r in regressed)
        )
    return "\n".join(lines)


def _table(header: list[str], body: list[list[str]], md: bool) -> list[str]:
    if md:
        return [
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(row) + " |" for row in body),
            "",
        ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *body, strict=True)]
    return [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *body)
    ]


def main(args, baseline: dict, candidate: dict, base_samples: list, cand_samples: list) -> int:
    """``bankbench compare`` when either run was measured by counting; its exit status."""
    from bench.commands._exit import (
        EXIT_NOT_COMPARABLE,
        EXIT_OK,
        EXIT_OUTPUTS_DIFFER,
        EXIT_REGRESSION,
    )

    result = compare(baseline, candidate, base_samples, cand_samples)
    gate = args.fail_on_regression
    gated = gate is not None and result.comparable
    regressed = regressions(result, gate) if gated else []
    unfinished = unfinished_gate(result.incomplete, gate) if gated and not regressed else None
    print(render(result, args.format, gate, regressed, unfinished))
    compare_format.print_csv_note(args.format, result, unfinished)
    if result.outputs_differ:
        return EXIT_OUTPUTS_DIFFER
    if not result.comparable:
        return EXIT_NOT_COMPARABLE
    if regressed:
        return EXIT_REGRESSION
    return EXIT_NOT_COMPARABLE if unfinished else EXIT_OK
