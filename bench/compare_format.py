"""``bankbench compare`` output: a terminal table, Markdown (CI step summaries), JSON or CSV."""

from __future__ import annotations

import csv
import io
import json

from bench.compare import Comparison


def _run(run: dict) -> str:
    return f"{run['run_id']} ({run['label']}, {run['cpu_model'] or 'unknown cpu'})"


def render(result: Comparison, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            {
                "baseline": result.baseline["run_id"],
                "candidate": result.candidate["run_id"],
                "comparable": result.comparable,
                "refusals": result.refusals,
                "not_allowed": result.not_allowed,
                "outputs_differ": result.outputs_differ,
                "differences": {k: list(v) for k, v in result.differences.items()},
                "rows": [
                    {k: v for k, v in row.__dict__.items() if k != "key"} for row in result.rows
                ],
                "geomean": result.geomean,
                "suite_verdict": result.suite_verdict,
                "per_core": result.per_core,
                "per_socket": result.per_socket,
            },
            indent=1,
            default=str,
        )
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["benchmark", "ratio", "ci_low", "ci_high", "p_value", "p_adjusted", "verdict"]
        )
        for r in result.rows:
            writer.writerow(
                [r.benchmark, r.ratio, r.low, r.high, r.p_value, r.p_adjusted, r.verdict]
            )
        return out.getvalue()
    md = fmt == "markdown"
    lines = []
    head = "## " if md else ""
    lines.append(
        f"{head}bankbench compare: candidate {_run(result.candidate)} vs baseline "
        f"{_run(result.baseline)}"
    )
    if result.outputs_differ:
        lines.append(
            f"{'**' if md else ''}OUTPUTS DIFFER{'**' if md else ''} — a correctness finding, "
            "so speed is not compared: " + ", ".join(result.outputs_differ)
        )
        return "\n".join(lines)
    for reason in result.refusals:
        lines.append(f"NOT COMPARABLE: {reason}")
    if result.not_allowed:
        lines.append(
            "NOT COMPARABLE: software differs in "
            + ", ".join(result.not_allowed)
            + " (allow with --allow "
            + ",".join(result.not_allowed)
            + ")"
        )
    if result.differences:
        lines.append(
            "differences: "
            + "; ".join(f"{k}: {a} → {b}" for k, (a, b) in result.differences.items())
        )
    if not result.comparable:
        return "\n".join(lines)
    if md:
        lines += [
            "",
            "| benchmark | ratio | 95 % CI | p (BH) | verdict |",
            "|---|---:|---|---:|---|",
        ]
        lines += [
            f"| `{r.benchmark}` | {r.ratio:.3f}× | {r.low:.3f}–{r.high:.3f} | {r.p_adjusted:.3g} | "
            f"{r.verdict} |"
            for r in result.rows
        ]
    else:
        lines.append(f"{'benchmark':<40} {'ratio':>8} {'95 % CI':>17} {'p (BH)':>8}  verdict")
        lines += [
            f"{r.benchmark:<40} {r.ratio:>7.3f}× {r.low:>7.3f}–{r.high:<7.3f} "
            f"{r.p_adjusted:>8.3g}  {r.verdict}"
            for r in result.rows
        ]
    if result.geomean:
        g, low, high = result.geomean
        lines.append(
            f"{'' if not md else chr(10)}suite geometric mean: {g:.3f}× [{low:.3f}–{high:.3f}] "
            f"(candidate/baseline throughput; > 1 means the candidate is faster): "
            f"{result.suite_verdict}"
        )
        if result.per_core is not None:
            lines.append(
                f"per core (single-thread benchmarks): {result.per_core:.3f}×"
                + (
                    f"; per socket (most threads, scaled to each socket's cores): "
                    f"{result.per_socket:.3f}×"
                    if result.per_socket is not None
                    else ""
                )
            )
        if result.suite_verdict == "no significant difference" and not low <= 1 <= high:
            lines.append(
                "note: every benchmark moved together but none significantly on its own — what "
                "host-wide drift between two runs looks like; run `bankbench calibrate` or use "
                "--processes to measure it"
            )
    return "\n".join(lines)
