"""``bankbench compare`` output: a terminal table, Markdown (CI step summaries), JSON or CSV.

Labels, CPU models and benchmark names come from stores: every one goes through the seam of
its format in bench.text (terminal or markdown); JSON and CSV carry them as data."""

from __future__ import annotations

import csv
import io
import json
import sys

from bench import text
from bench.compare.comparison import ALPHA, Comparison
from bench.compare.contract import difference, refusal_lines
from bench.compare.regression import Gate
from bench.text import plural

LIST_MAX = 8  # one-side-only benchmarks named before "and N more"


def _p(value: float) -> str:
    """A p-value for people: no exponents."""
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _names(names: list[str], escape) -> str:
    shown = ", ".join(escape(n, text.CELL_WIDTH) for n in names[:LIST_MAX])
    rest = len(names) - LIST_MAX
    return shown + (f" and {rest} more" if rest > 0 else "")


def json_header(result) -> dict:
    """What every comparison's JSON opens with (of times, here; of counts, in
    bench.compare.counts_formats): the runs, whether and why not comparable, what differs."""
    return {
        "baseline": result.baseline["run_id"],
        "candidate": result.candidate["run_id"],
        "comparable": result.comparable,
        "refusals": result.refusals,
        "outputs_differ": result.outputs_differ,
        "incomplete": result.incomplete,
        "only_baseline": result.only_baseline,
        "only_candidate": result.only_candidate,
        "differences": {k: list(v) for k, v in result.differences.items()},
    }


def _json(result: Comparison, gate: Gate | None) -> str:
    return json.dumps(
        {
            **json_header(result),
            "not_allowed": result.not_allowed,
            "refused": result.refused,
            "noise_floor": {"source": result.noise_source, "calibrated": result.calibrated},
            "rows": [
                {
                    **{k: v for k, v in row.__dict__.items() if k != "key"},
                    "can_reach_significance": row.can_reach_significance,
                    **(
                        {"can_detect_threshold": row.can_detect(gate.threshold_pct / 100)}
                        if gate
                        else {}
                    ),
                }
                for row in result.rows
            ],
            "geomean": result.geomean,
            "suite_verdict": result.suite_verdict,
            "evidence_problems": result.evidence_problems,
            "per_core": result.per_core,
            "per_socket": result.per_socket,
            "per_socket_projected": result.per_socket_projected,
            "gate": None
            if gate is None
            else {
                "threshold_pct": gate.threshold_pct,
                "outcome": gate.outcome,
                "regressed": [r.benchmark for r in gate.regressed],
                "undecided": [r.benchmark for r in gate.undecided],
                "reasons": gate.reasons,
                "advice": gate.advice,
                "unfinished": gate.unfinished,
            },
        },
        indent=1,
        default=str,
    )


def _csv(result: Comparison) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["benchmark", "ratio", "ci_low", "ci_high", "p_value", "p_adjusted", "p_floor", "verdict"]
    )
    for r in result.rows:
        writer.writerow(
            [r.benchmark, r.ratio, r.low, r.high, r.p_value, r.p_adjusted, r.p_floor, r.verdict]
        )
    return out.getvalue().rstrip("\n")  # print ends the last line


def render(result: Comparison, fmt: str, gate: Gate | None = None) -> str:
    if fmt == "json":
        return _json(result, gate)
    if fmt == "csv":
        return _csv(result)
    md = fmt == "markdown"
    esc = text.markdown if md else text.terminal
    bold = "**" if md else ""

    def run(r: dict) -> str:
        return (
            f"{esc(r['run_id'])} ({esc(r['label'] or 'no label', text.LABEL_WIDTH)}, "
            f"{esc(r['cpu_model'] or 'unknown cpu', text.LABEL_WIDTH)})"
        )

    if result.nothing_in_common:  # one line: there is nothing else to say
        return (
            f"{bold}NOT COMPARABLE{bold}: {run(result.candidate)} and {run(result.baseline)} "
            f"have {result.refusals[-1]}"
        )
    lines = [
        f"{'## ' if md else ''}bankbench compare: candidate {run(result.candidate)} vs "
        f"baseline {run(result.baseline)}"
    ]
    for note in result.incomplete:
        lines.append(f"{bold}INCOMPLETE{bold}: {esc(note)}: only its finished benchmarks count")
    if result.outputs_differ:
        lines.append(
            f"{bold}OUTPUTS DIFFER{bold} — a correctness finding, so speed is not compared: "
            + ", ".join(esc(w) for w in result.outputs_differ)
        )
        return _join(lines, md)
    for reason in _not_comparable(result):
        lines.append(f"NOT COMPARABLE: {esc(reason)}")
    lines += [esc(line) for line in refusal_lines(result.refused)]
    if result.differences:
        shown = {k: difference(a, b) for k, (a, b) in result.differences.items()}
        lines.append(
            "differences: "
            + "; ".join(
                f"{k}: {esc(a, text.LABEL_WIDTH)} → {esc(b, text.LABEL_WIDTH)}"
                for k, (a, b) in shown.items()
            )
        )
    if not result.comparable:
        return _join(lines, md)
    lines.append(_noise_line(result))
    cell = text.CELL_WIDTH
    if md:
        lines += [
            "| benchmark | ratio | 95 % CI | p (BH) | verdict |",
            "|---|---:|---|---:|---|",
        ]
        lines += [
            f"| {esc(r.benchmark, cell)} | {r.ratio:.3f}× | {r.interval()} | "
            f"{_p(r.p_adjusted)} | {r.verdict} |"
            for r in result.rows
        ]
    else:
        lines.append(f"{'benchmark':<40} {'ratio':>8} {'95 % CI':>17} {'p (BH)':>8}  verdict")
        lines += [
            f"{esc(r.benchmark, cell):<40} {r.ratio:>7.3f}× {r.interval():>15}   "
            f"{_p(r.p_adjusted):>8}  {r.verdict}"
            for r in result.rows
        ]
    for side, names in (("baseline", result.only_baseline), ("candidate", result.only_candidate)):
        if names:
            lines.append(
                f"only in the {side} ({plural(len(names), 'benchmark')}, not compared): "
                + _names(names, esc)
            )
    if result.geomean:
        g = result.geomean[0]
        lines.append(
            f"suite geometric mean: {g:.3f}× [{result.geomean_interval()}] (candidate/baseline "
            f"throughput; > 1 means the candidate is faster): {bold}{result.suite_verdict}{bold}"
        )
        problems = result.evidence_problems
        if problems:
            weak = result.suite_verdict == "insufficient evidence"
            lines.append(("insufficient evidence: " if weak else "caveats: ") + "; ".join(problems))
        views = normalised_views(result, digits=3)
        if views:
            lines.append("; ".join(views))
        if result.drift:
            lines.append(
                "note: every benchmark moved together but none significantly on its own — what "
                "host-wide drift between two runs looks like; run `bankbench calibrate` or use "
                "--processes to measure it"
            )
    if gate is not None:
        lines += gate_lines(gate, md)
    return _join(lines, md)


def _not_comparable(result) -> list[str]:
    """Why the runs are not compared, one sentence each (of times or of counts)."""
    not_allowed = getattr(result, "not_allowed", [])
    if not not_allowed:
        return list(result.refusals)
    differences = getattr(result, "differences", {})
    unrecorded = [n for n in not_allowed if None in differences.get(n, ())]
    differ = [n for n in not_allowed if n not in unrecorded]
    parts = []
    if differ:
        parts.append(f"software differs in {', '.join(differ)}")
    if unrecorded:
        parts.append(
            f"not recorded on one side (an import keeps no build record): {', '.join(unrecorded)}"
        )
    said = "; ".join(parts)
    return [*result.refusals, f"{said} (allow with --allow {','.join(not_allowed)})"]


def why_not_compared(result) -> str | None:
    """One line: why a comparison (of times or of counts) compared nothing, or None."""
    if result.outputs_differ:
        return "OUTPUTS DIFFER — a correctness finding, so nothing is compared: " + ", ".join(
            result.outputs_differ
        )
    reasons = _not_comparable(result)
    return "NOT COMPARABLE: " + "; ".join(reasons) if reasons else None


def print_csv_note(fmt: str, result, unfinished: str | None) -> None:
    """What CSV rows cannot carry, in one line on stderr so stdout stays CSV: why nothing was
    compared, else why the gate did not pass (``unfinished``). The other formats say it
    themselves (JSON in its fields)."""
    line = why_not_compared(result) or unfinished
    if fmt == "csv" and line:
        print(f"bankbench: {text.terminal(line)}", file=sys.stderr)
    for refused in refusal_lines(getattr(result, "refused", {})) if fmt == "csv" else []:
        print(f"bankbench: {text.terminal(refused)}", file=sys.stderr)


def normalised_views(result: Comparison, digits: int) -> list[str]:
    """The suite's ratio per core and per socket, where the runs allow them: the words the
    terminal, Markdown and the report all use."""
    views = []
    if result.per_core is not None:
        views.append(f"per core (one thread): {result.per_core:.{digits}f}×")
    if result.per_socket is not None:
        projected = " (PROJECTED from the measured scaling)" if result.per_socket_projected else ""
        views.append(
            f"per socket (at each socket's physical cores): {result.per_socket:.{digits}f}×"
            + projected
        )
    return views


def _join(lines: list[str], md: bool) -> str:
    """Lines for a terminal; Markdown paragraphs (a blank line after each, tables kept
    together)."""
    if not md:
        return "\n".join(lines)
    out: list[str] = []
    for line in lines:
        if out and out[-1] and not (line.startswith("|") and out[-1].startswith("|")):
            out.append("")
        out.append(line)
    return "\n".join(out)


def _noise_line(result: Comparison) -> str:
    compared = len(result.rows)
    if result.noise_source == "fixed":
        floor = result.rows[0].noise_floor * 100 if result.rows else 0.0
        return f"noise floor: {floor:g} % for all {plural(compared, 'benchmark')} (--noise-floor)"
    if result.noise_source == "calibration" and result.calibrated:
        return (
            f"noise floor: {result.calibrated} of {plural(compared, 'compared benchmark')} "
            "calibrated on the baseline's host (its latest `bankbench calibrate`); the others "
            "have none"
        )
    return (
        f"noise floor: none of the {plural(compared, 'compared benchmark')} is calibrated on "
        "the baseline's host (`bankbench calibrate` measures it)"
    )


def gate_lines(gate: Gate, md: bool = False) -> list[str]:
    """What ``--fail-on-regression`` decided, and why."""
    esc = text.markdown if md else text.terminal
    bold = "**" if md else ""
    t = f"{gate.threshold_pct:g} %"
    if gate.outcome == "incomplete":
        return [f"{bold}GATE NOT PASSED{bold} (exit 4): {esc(gate.unfinished)}"]
    if gate.outcome == "regression":
        return [
            f"{bold}REGRESSION{bold} beyond {t} in {plural(len(gate.regressed), 'benchmark')}: "
            + "; ".join(
                f"{esc(r.benchmark, text.CELL_WIDTH)} {r.ratio:.3f}× [{r.interval()}]"
                for r in gate.regressed
            )
        ]
    if gate.outcome == "cannot decide":
        return [
            f"{bold}CANNOT DECIDE{bold} whether anything regressed beyond {t}: "
            f"{plural(len(gate.undecided), 'benchmark')} cannot detect a {t} change ("
            + "; ".join(gate.reasons)
            + (f"); {gate.advice}" if gate.advice else ")")
        ]
    return [f"no regression beyond {t} (every benchmark could have shown one at p < {ALPHA:g})"]
