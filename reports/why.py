"""The report's "why" section: when the baseline and a candidate both carry counts (runs
with ``--measure counters`` or ``--measure instructions``), per workload the instructions,
cycles, IPC and misses per unit of work side by side, and one plain sentence per row saying
which of them explains the difference: more instructions (the compiler or instruction set),
lower IPC with more misses (memory-bound), lower IPC without (the core itself), or neither
(clock speed).

The figures come from bench.compare.counts (computed once, as compare shows them);
this module only words them. Rows: each workload's C engine, batch mode, one thread — the
per-core view, where the machines differ by design and not by scaling.
"""

from __future__ import annotations

from bench.compare import counts
from bench.compare.contract import group_by_key
from bench.compare.counts import CountRow
from reports.document import Heading, Paragraph, Table
from reports.numbers import fixed

SAME = 0.05  # a difference within ±5 % is "the same" in a sentence
MEMORY_BOUND_MISSES = 1.5  # this many times the misses per unit, with a lower IPC


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or a <= 0 else b / a


def sentence(row: CountRow, same_arch: bool) -> str:
    """Which count explains the candidate's difference, in one sentence."""
    base, cand = row.baseline, row.candidate
    unit = (row.unit or "unit").rstrip("s") or "unit"
    instructions = _ratio(base["instructions"], cand["instructions"])
    if instructions is None:
        return f"unknown: {row.unknown or 'no counts on one side'}"
    ipc_base, ipc_cand = base.get("ipc"), cand.get("ipc")
    misses = [
        r
        for r in (
            _ratio(base["llc_misses"], cand["llc_misses"]),
            _ratio(base["l1d_misses"], cand["l1d_misses"]),
        )
        if r is not None
    ]
    most_misses = max(misses) if misses else None
    why_instructions = (
        "the code does more work" if same_arch else "the compiler or instruction set differs"
    )
    if ipc_base and ipc_cand:
        if ipc_cand < ipc_base * (1 - SAME) and most_misses and most_misses >= MEMORY_BOUND_MISSES:
            return (
                f"IPC {ipc_cand:.2f} against {ipc_base:.2f} with {most_misses:.1f}× the cache "
                "misses: memory-bound on the candidate"
            )
        if ipc_base < ipc_cand * (1 - SAME) and misses and min(misses) <= 1 / MEMORY_BOUND_MISSES:
            return (
                f"IPC {ipc_cand:.2f} against {ipc_base:.2f} with {1 / min(misses):.1f}× fewer "
                "cache misses: memory-bound on the baseline"
            )
    if abs(instructions - 1) > SAME:
        more = "more" if instructions > 1 else "fewer"
        return (
            f"the candidate executes {instructions:.2f}× the instructions per {unit} "
            f"({more}): {why_instructions}"
        )
    if ipc_base and ipc_cand and abs(ipc_cand / ipc_base - 1) > SAME:
        branches = _ratio(base["branch_misses"], cand["branch_misses"])
        detail = f", {branches:.1f}× the branch mispredictions" if branches else ""
        return (
            f"the same instructions at IPC {ipc_cand:.2f} against {ipc_base:.2f} with similar "
            f"cache misses{detail}: the core itself (width, prediction, latencies)"
        )
    if ipc_base and ipc_cand:
        return "the same instructions at the same IPC: a difference in time is clock speed"
    if most_misses and abs(most_misses - 1) > SAME:
        return (
            f"the same instructions, {most_misses:.2f}× the simulated cache misses per {unit}: "
            "the data layout or access order changed"
        )
    return f"the same instructions per {unit} ({instructions:.3f}×): the same work"


def _pair(row: CountRow, key: str, digits: int = 1) -> str:
    return f"{fixed(row.baseline.get(key), digits)} / {fixed(row.candidate.get(key), digits)}"


def per_core_rows(base_samples: list[dict], cand_samples: list[dict]) -> list[CountRow]:
    """Each workload's C engine, batch mode, 1 thread, where both runs counted it."""

    def per_core(samples: list[dict]) -> list[dict]:
        return [
            s
            for s in samples
            if s.get("engine") == "c"
            and s.get("threads") == 1
            and s.get("mode") == "batch"
            and s.get("batch_size") is None
            and s.get("counts_source")
        ]

    a = group_by_key(per_core(base_samples))
    b = group_by_key(per_core(cand_samples))
    shared = sorted(set(a) & set(b), key=lambda k: a[k][0]["benchmark"])
    return counts.count_rows(a, b, shared)


def section(report) -> list:
    """The why tables, one per candidate whose run and the baseline's both carry counts."""
    base = report.machines[0]
    blocks: list = []
    for machine in report.machines[1:]:
        rows = per_core_rows(base.samples, machine.samples)
        if not rows:
            continue
        if not blocks:
            blocks.append(Heading("Why: instructions, cycles and misses per unit of work"))
        refusal = counts.methods_apart(base.samples, machine.samples)
        if refusal:  # as compare refuses them: not set side by side
            blocks.append(
                Paragraph(f"{machine.name} against {base.name}: not compared: {refusal}.")
            )
            continue
        same_arch = base.fingerprint.get("arch") == machine.fingerprint.get("arch")
        sources = {s.get("counts_source") for s in (*base.samples, *machine.samples)} - {None}
        blocks.append(
            Paragraph(
                f"{machine.name} against {base.name}, per unit of work, one thread, C engine "
                f"(baseline / candidate), counted by {', '.join(sorted(sources))}"
                + (
                    ""
                    if "perf" in sources
                    else " (Valgrind: instructions and a model cache's misses; no cycles)"
                )
                + "."
            )
        )
        blocks.append(
            Table(
                [
                    "workload",
                    "instructions",
                    "cycles",
                    "IPC",
                    "L1D misses",
                    "LL misses",
                    "branch misses",
                    "why",
                ],
                [
                    [
                        row.benchmark.split("[", 1)[0],
                        _pair(row, "instructions"),
                        _pair(row, "cycles"),
                        _pair(row, "ipc", 2),
                        _pair(row, "l1d_misses", 2),
                        _pair(row, "llc_misses", 2),
                        _pair(row, "branch_misses", 2),
                        sentence(row, same_arch),
                    ]
                    for row in rows
                ],
                caption="per unit of work; – where a count is unknown (e.g. no PMU)",
            )
        )
        unknown = sorted({row.unknown for row in rows if row.unknown})
        for reason in unknown:
            blocks.append(Paragraph(f"Unknown counts: {reason}"))
    return blocks
