"""The verdict, page one: which machine does more work, how sure that is, whether both compute
the same results, and what a fleet costs — in words a buyer reads, from the figures of
reports.analysis (the same ones the sections after it show)."""

from __future__ import annotations

from bench import compare
from bench.compare import formats as compare_format
from bench.compare.contract import refusal_lines
from bench.text import plural
from reports import analysis, cost, fleet
from reports.document import Heading, Paragraph, Table
from reports.numbers import money, money_range, percent, server_count


def section(report: analysis.Report) -> list:
    """Page one: which machine, how sure, at what cost — in words a buyer reads."""
    blocks: list = [Heading("Verdict"), *glance(report)]
    base = report.machines[0]
    for machine, result in zip(report.machines[1:], report.comparisons, strict=True):
        blocks.append(Paragraph(_speed_verdict(base, machine, result, report), emphasis=True))
        sure = _how_sure(result)
        if sure:
            blocks.append(Paragraph(sure))
    if report.cost is not None:
        blocks.append(Paragraph(cost_verdict(report), emphasis=True))
    blocks.append(
        Paragraph(
            "How to read this: a ratio above 1 means the candidate does more work per second "
            "than the baseline; the bracketed range is where the true value lies with 95 % "
            "confidence. Figures marked (projected) were not measured: they are estimated "
            "for a larger server from how each run's speed grew with threads."
        )
    )
    return blocks


def glance(report: analysis.Report) -> list:
    """Four questions a buyer asks, answered in a line each from the same figures as the
    verdict below."""
    base = report.machines[0]
    faster, sure, same = [], [], []
    for machine, result in zip(report.machines[1:], report.comparisons, strict=True):
        column = report.machines.index(machine)
        differing = _differing(report, column)
        who = f"{machine.name}: " if len(report.machines) > 2 else ""
        if result.outputs_differ or differing:
            same.append(f"{who}NO — different results for {', '.join(differing)}: do not migrate")
            faster.append(f"{who}not compared (the results differ)")
            sure.append(f"{who}–")
            continue
        ran = sum(cells[column] == "same" for cells in report.parity.values())
        if ran:
            same.append(
                f"{who}yes, bit-identical on {ran} of {plural(len(report.parity), 'workload')}"
            )
        else:  # never "identical" on nothing compared
            same.append(f"{who}not checked: no workload ran on both")
        verdict = result.suite_verdict if result.comparable else None
        if verdict is None or not result.geomean:
            faster.append(f"{who}not compared ({'; '.join(result.refusals) or 'see below'})")
            sure.append(f"{who}–")
            continue
        g, low, high = result.geomean
        faster.append(
            who
            + {
                "faster": f"{machine.name}, {g:.2f}× the work per second of {base.name}",
                "slower": f"{base.name}: {machine.name} does {g:.2f}× its work per second",
                "insufficient evidence": "not known: these measurements cannot tell",
            }.get(verdict, f"neither: the difference ({g:.2f}×) is not significant")
        )
        problems = result.evidence_problems
        sure.append(
            who
            + (
                "not sure — " + problems[0]
                if verdict == "insufficient evidence"
                else f"95 % sure the ratio lies between {low:.2f}× and {high:.2f}×"
                + (f" (caveat: {problems[0]})" if problems else "")
            )
        )
    rows = [
        ["Which machine does more work?", "; ".join(faster)],
        ["How sure is that?", "; ".join(sure)],
        ["Do both compute the same results?", "; ".join(same)],
    ]
    if report.cost is not None:
        rows.append(["What does it cost?", _cost_answer(report)])
    return [Table(["question", "answer"], rows)]


def _projection_notes(figures: fleet.CostFigures) -> list[str]:
    """'sweep-b: projected from 2 of 128 cores', for each priced machine with a projection."""
    return [
        f"{f.machine.name}: {f.projection_note}" for f in figures.servers[:2] if f.projection_note
    ]


def _cost_answer(report: analysis.Report) -> str:
    figures, model = report.cost, report.model
    assert figures is not None and model is not None
    if figures.withheld == "projection":
        return "no cost verdict: the priced servers are larger than the runs measured"
    if figures.withheld == "capacity" or figures.saving is None:
        return "no cost verdict: no fleet capacity was measured"
    years = cost.TCO_YEARS[-1]
    cheaper = figures.cheaper
    fleet = figures.fleet_tco[years]
    cur = model.site.currency
    measured = [
        r.measured_threads
        for f in figures.servers[:2]
        for r in (f.decisions, f.postings, f.capacity)
        if r is not None and r.projected
    ]
    mark = f" (projected from runs on {plural(min(measured), 'core')})" if measured else ""
    if cheaper is None:
        return f"the same{mark}"
    first = 1 if figures.saving.value > 0 else 0
    ours, theirs = fleet[first], fleet[1 - first]
    return (
        f"{cheaper.name}'s fleet is {percent(abs(figures.saving.value))} cheaper over "
        f"{years} years{mark}: {money(ours.value if ours else None, cur)} against "
        f"{money(theirs.value if theirs else None, cur)}"
        + (
            "; NOT SETTLED: within the projection's range either fleet may be cheaper"
            if figures.saving.low < 0 < figures.saving.high
            else ""
        )
    )


def _differing(report: analysis.Report, column: int) -> list[str]:
    bad = ("DIFFERS", "inconsistent")
    return [w for w, cells in report.parity.items() if cells[column] in bad or cells[0] in bad]


def _speed_verdict(
    base: analysis.Machine,
    machine: analysis.Machine,
    result: compare.Comparison,
    report: analysis.Report,
) -> str:
    who = f"{machine.name} (candidate) against {base.name} (baseline)"
    column = report.machines.index(machine)
    differing = _differing(report, column)
    if result.outputs_differ or differing:
        names = ", ".join(sorted(set(differing) or set(result.outputs_differ)))
        return (
            f"{who}: NOT SAFE TO MIGRATE — the machines compute different outputs for {names}. "
            "This is a correctness finding; speed is not compared."
        )
    if not result.comparable:
        reasons = result.refusals + (
            [f"software differs in {', '.join(result.not_allowed)} (not allowed)"]
            if result.not_allowed
            else []
        )
        return f"{who}: outputs identical; NO SPEED VERDICT — " + "; ".join(reasons) + "."
    if not result.geomean:
        return f"{who}: outputs identical; no benchmark was run on both, so no speed verdict."
    g, low, high = result.geomean
    n = len(result.rows)
    interval = f"95 % confidence {low:.2f}–{high:.2f}, geometric mean over {plural(n, 'benchmark')}"
    verdict = result.suite_verdict
    if verdict == "faster":
        headline = (
            f"FASTER: {machine.name} does {g:.2f}× the baseline's work per second ({interval})"
        )
    elif verdict == "slower":
        headline = (
            f"SLOWER: {machine.name} does {g:.2f}× the baseline's work per second ({interval})"
        )
    elif verdict == "insufficient evidence":
        headline = (
            f"INSUFFICIENT EVIDENCE to call either machine faster: measured {g:.2f}× the "
            f"baseline's work per second ({interval}), but these data cannot support a verdict"
        )
    else:
        headline = f"NO SIGNIFICANT DIFFERENCE in speed: {g:.2f}× ({interval})"
    same = sum(cells[column] == "same" for cells in report.parity.values())
    views = "; ".join(compare_format.normalised_views(result, digits=2))
    return (
        f"{who}: {headline}. "
        + "".join(
            f"INCOMPLETE: {note}; only its finished benchmarks count. "
            for note in result.incomplete
        )
        + (f"{views[:1].upper()}{views[1:]}. " if views else "")
        + f"Outputs bit-identical on {same} of {plural(len(report.parity), 'workload')}."
    )


def _how_sure(result: compare.Comparison) -> str:
    """The evidence behind a speed verdict, in words."""
    if not result.rows:
        return ""
    better = sum(r.verdict == "better" for r in result.rows)
    worse = sum(r.verdict == "worse" for r in result.rows)
    weak = sum(r.verdict == "insufficient evidence" for r in result.rows)
    neutral = len(result.rows) - better - worse - weak
    counts = [
        f"{plural(better, 'benchmark')} significantly faster",
        f"{worse} slower",
        f"{neutral} without a significant difference",
    ] + ([f"{weak} with too few samples to tell"] if weak else [])
    text = (
        "How sure: "
        + ", ".join(counts)
        + " (Mann–Whitney U test, Benjamini–Hochberg correction at 5 %)."
    )
    problems = result.evidence_problems
    if problems:
        text += " Weak evidence: " + "; ".join(problems) + "."
    for side, names in (("baseline", result.only_baseline), ("candidate", result.only_candidate)):
        if names:
            text += f" {plural(len(names), 'benchmark')} ran on the {side} only (not compared)."
    for line in refusal_lines(result.refused):  # their workload's source or version changed
        text += f" {line[:1].upper()}{line[1:]}."
    if result.drift:
        text += (
            " Every benchmark moved together but none significantly on its own: that is what "
            "host-wide drift between two runs looks like, not evidence."
        )
    return text


def cost_verdict(report: analysis.Report) -> str:
    """The cost sentence, worded from report.cost: the same figures as the cost table."""
    model, figures = report.model, report.cost
    assert model is not None and figures is not None
    years = cost.TCO_YEARS[-1]
    cur = model.site.currency
    base, cand = figures.servers[:2]
    target = f"{model.target.decisions_per_s:,.0f} decisions/s at p99 ≤ {model.target.p99_ms:g} ms"
    if figures.withheld == "projection":
        cores = ", ".join(
            f"{f.machine.name} {plural(f.server.cores, 'core')}" for f in (base, cand)
        )
        measured = max(m.cores for m in report.machines[:2])
        return (
            f"Cost: NO COST VERDICT. The machine classes priced ({cores}) are larger than the "
            f"runs measured (at most {plural(measured, 'core')}), and projections are turned "
            "off (--no-projection). Run the suite on the servers themselves for a measured "
            "cost verdict, or allow a projection."
        )
    if figures.withheld == "capacity":
        missing = [
            f.machine.name
            for f, n in zip(figures.servers, figures.needed, strict=True)
            if n is None
        ]
        return (
            f"Cost: no fleet verdict for {target}: no measured loan.decide capacity "
            f"configuration of {', '.join(missing)} met the SLO (include loan.decide in the "
            "runs: its capacity benchmarks size the fleet)."
        )
    saving = figures.saving
    assert saving is not None
    notes = _projection_notes(figures)
    head = "Cost" + (f", PROJECTED ({'; '.join(notes)})" if notes else "")
    is_projected = figures.projected
    fleet = figures.fleet_tco[years]
    sentence = (
        f"{head}: for {target}, {cand.machine.name} ({cand.server.machine.name}) needs "
        f"{server_count(figures.needed[1], cand.projected)} and {base.machine.name} "
        f"({base.server.machine.name}) {server_count(figures.needed[0], base.projected)}; the "
        f"{years}-year fleet cost is {money_range(fleet[1], cand.projected, cur)} against "
        f"{money_range(fleet[0], base.projected, cur)}: "
    )
    cheaper = figures.cheaper
    if cheaper is None:
        sentence += "both fleets cost the same."
    else:
        sentence += f"{cheaper.name} is cheaper by {percent(abs(saving.value))}"
        low, high = percent(saving.low), percent(saving.high)
        if is_projected and low == high:
            sentence += " (projected)"
        elif is_projected:
            sentence += (
                f" (projected; over the projection's uncertainty the candidate saves between "
                f"{low} and {high}"
                + (
                    ", so which fleet is cheaper is NOT SETTLED"
                    if saving.low < 0 < saving.high
                    else ""
                )
                + ")"
            )
        sentence += "."
    sentence += (
        " This holds for ±20 % in every cost input."
        if not figures.flips
        else " The choice FLIPS at ±20 % of: " + ", ".join(figures.flips) + "."
    )
    return sentence
