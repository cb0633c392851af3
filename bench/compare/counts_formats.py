"""``bankbench compare`` of counts as a terminal table, Markdown (escaped, for CI summaries),
JSON or CSV; the figures come from bench.compare.counts."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

from bench import text
from bench.compare import formats
from bench.compare.contract import facts
from bench.compare.counts import (
    AA_SPREAD_PCT,
    GATE_PCT,
    INTERPRETER_SPREAD_PCT,
    CountComparison,
    CountRow,
    threshold_for,
    verdict,
)
from bench.measure.counts import EVENTS
from bench.measure.modes import INSTRUCTIONS
from bench.text import plural

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
                **formats.json_header(result),
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
        arch = facts(r)["fingerprint"].get("arch") or "unknown arch"
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
