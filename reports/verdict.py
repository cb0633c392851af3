"""The verdict, page one: which machine does more work, how sure that is, whether both compute
the same results, and what a fleet costs — in words a buyer reads, from the figures of
reports.analysis (the same ones the sections after it show)."""

from __future__ import annotations

from bench import compare
from bench.compare import formats as compare_format
from bench.compare.contract import refusal_lines
from bench.text import plural
from reports import analysis, charts, cost, fleet
from reports.document import Bullets, Figure, Heading, Paragraph, Tile, Tiles
from reports.numbers import (
    money,
    money_range,
    percent,
    server_count,
    server_rate_figure,
    small_money,
)


def page_one(report: analysis.Report) -> list:
    """Procurement's page: which machine, by how much, how sure, the cost per million
    decisions and postings, the servers for the target load, the risks, and one chart of
    per-workload ratios — big numbers, one sentence each, from the figures the detail shows."""
    blocks: list = [Heading("At a glance"), Tiles(speed_tiles(report) + cost_tiles(report))]
    blocks += [Heading("Risks", 3), Bullets(risks(report))]
    base = report.machines[0]
    for machine, result in zip(report.machines[1:], report.comparisons, strict=True):
        rows = headline_rows(report, machine, result)
        if not rows:
            continue
        blocks.append(
            Figure(
                f"headline-{report.machines.index(machine)}",
                charts.forest(
                    [(label, r.ratio, r.low, r.high, r.verdict) for label, r in rows],
                    f"{machine.name} against {base.name}: C engine, per workload",
                ),
                f"Work per second, {machine.name} / {base.name}, per workload (C engine, batch, "
                "at the most threads both runs used on real cores), with 95 % confidence "
                "intervals; right of 1: the candidate is faster. Every engine, thread count and "
                "batch size is in the detail.",
            )
        )
    return blocks


def section(report: analysis.Report) -> list:
    """The verdict in full sentences, first of the detail for engineers."""
    blocks: list = [
        Heading("For engineers", new_page=True),
        Paragraph(
            "The detail behind page one: the verdict in full, the machines, every benchmark's "
            "ratio, latency, scaling, the cost model and how it was all measured."
        ),
        Heading("Verdict"),
    ]
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


def headline_rows(
    report: analysis.Report, machine: analysis.Machine, result: compare.Comparison
) -> list[tuple[str, compare.Row]]:
    """One compared row per workload: the C engine's plain batch benchmark at the most
    threads both runs used on real cores (else the fewest threads run)."""
    cores = min(report.machines[0].cores, machine.cores)
    chosen: dict[str, compare.Row] = {}
    for row in result.rows:
        key = dict(zip(compare.KEY, row.key, strict=True))
        if key["engine"] != "c" or key["mode"] != "batch" or key["batch_size"] is not None:
            continue
        threads = row.threads or 1
        held = chosen.get(key["workload"])
        if held is None or _better_threads(threads, held.threads or 1, cores):
            chosen[key["workload"]] = row
    return [(_headline_label(w, r), r) for w, r in sorted(chosen.items())]


def _headline_label(workload: str, row: compare.Row) -> str:
    """'loan decisions (2 threads)', and ', ran on 1' where the case ran on fewer."""
    threads, used = row.threads or 1, row.threads_used
    ran_on = f", ran on {used}" if used and used < threads else ""
    return f"{analysis.workload_words(workload)} ({plural(threads, 'thread')}{ran_on})"


def _better_threads(threads: int, held: int, cores: int) -> bool:
    """Whether ``threads`` is a better headline than ``held``: the most on real cores."""
    if (threads <= cores) != (held <= cores):
        return threads <= cores
    return threads > held if threads <= cores else threads < held


def speed_tiles(report: analysis.Report) -> list[Tile]:
    """Which machine, how sure, same results — for each candidate against the baseline."""
    base = report.machines[0]
    tiles: list[Tile] = []
    for machine, result in zip(report.machines[1:], report.comparisons, strict=True):
        column = report.machines.index(machine)
        differing = _differing(report, column)
        who = f" ({machine.name})" if len(report.machines) > 2 else ""
        ran = sum(cells[column] == "same" for cells in report.parity.values())
        if result.outputs_differ or differing:
            names = ", ".join(sorted(set(differing) or set(result.outputs_differ)))
            tiles += [
                Tile("Which machine" + who, "DO NOT MIGRATE", f"Different results for {names}."),
                Tile("How sure" + who, "–", "Speed is not compared where the results differ."),
                Tile("Same results?" + who, "NO", f"Outputs differ for {names}."),
            ]
            continue
        workloads = plural(len(report.parity), "workload")
        same = (
            Tile(
                "Same results?" + who,
                # YES only where every workload was checked on both: a partial check is a
                # partial answer, and page one says so in the big word too
                "YES" if ran == len(report.parity) else f"{ran} OF {len(report.parity)}",
                f"Bit-identical outputs on {ran} of {workloads} (SHA-256 of every output)"
                + ("." if ran == len(report.parity) else "; the others did not run on both."),
            )
            if ran
            else Tile("Same results?" + who, "not checked", "No workload ran on both.")
        )
        verdict = result.suite_verdict if result.comparable else None
        if verdict is None or not result.geomean:
            reasons = "; ".join(_refusals(result)) or "no benchmark in common"
            tiles += [
                Tile("Which machine" + who, "not compared", f"No speed verdict: {reasons}."),
                Tile("How sure" + who, "–", "Nothing was compared."),
                same,
            ]
            continue
        g, low, high = result.geomean
        n = plural(len(result.rows), "benchmark")
        value, sentence = {
            "faster": (machine.name, f"Does {g:.2f}× the work per second of {base.name} ({n})."),
            "slower": (base.name, f"{machine.name} does {g:.2f}× its work per second ({n})."),
            "insufficient evidence": (
                "not known",
                f"Measured {g:.2f}×, but these measurements cannot tell ({n}).",
            ),
        }.get(verdict, ("neither", f"The difference ({g:.2f}×, {n}) is not significant."))
        better = sum(r.verdict == "better" for r in result.rows)
        worse = sum(r.verdict == "worse" for r in result.rows)
        problems = result.evidence_problems
        tiles += [
            Tile("Which machine" + who, value, sentence),
            Tile(
                "How sure" + who,
                "n=1" if result.one_sample_each else f"{low:.2f}×–{high:.2f}×",
                f"95 % confidence interval; {plural(better, 'benchmark')} significantly "
                f"faster, {worse} slower" + (f". Caveat: {problems[0]}." if problems else "."),
            ),
            same,
        ]
    return tiles


def cost_tiles(report: analysis.Report) -> list[Tile]:
    """Cost per million decisions and postings, servers for the target load, fleet cost —
    the cost table's figures (reports.fleet), one value per machine."""
    figures, model = report.cost, report.model
    if figures is None or model is None:
        return [Tile("Cost", "no cost file", "bankbench report --cost FILE prices a fleet.")]
    cur = model.site.currency
    servers = figures.servers
    names = " vs ".join(f.machine.name for f in servers)
    tiles = []
    for unit, attribute, what in (
        ("decisions", "cost_per_million_decisions", "decisions"),
        ("postings", "cost_per_million_postings", "postings"),
    ):
        values = [getattr(f, attribute) for f in servers]
        if all(v is None for v in values):
            reasons = [
                f"{f.machine.name}: {f.withheld[what]}" for f in servers if what in f.withheld
            ]
            tiles.append(
                Tile(
                    f"{cur} per million {unit}",
                    "withheld" if reasons else "not measured",
                    (reasons[0] + ".") if reasons else f"No {unit} rate was measured.",
                )
            )
            continue
        tiles.append(
            Tile(
                f"{cur} per million {unit}",
                " vs ".join(small_money(v.value if v else None) for v in values),
                f"{names} at full utilisation, at "
                + " vs ".join(server_rate_figure(f, what) for f in servers)
                + f" {unit}/s per server.",
            )
        )
    target = f"{model.target.decisions_per_s:,.0f} decisions/s"
    if figures.withheld:
        reason = figures.withheld
        tiles.append(
            Tile(f"Servers for {target}", "withheld", reason[:1].upper() + reason[1:] + ".")
        )
    else:
        tiles.append(
            Tile(
                f"Servers for {target}",
                " vs ".join(str(int(n.value)) if n else "–" for n in figures.needed),
                f"{names}, at "
                + " vs ".join(server_rate_figure(f, "capacity") for f in servers)
                + f" decisions/s per server within p99 ≤ {model.target.p99_ms:g} ms.",
            )
        )
    years = cost.TCO_YEARS[-1]
    cheaper = figures.cheaper
    if figures.saving is None:
        tiles.append(
            Tile(f"{years}-year fleet", "no verdict", "Without servers needed, no fleet cost.")
        )
    else:
        fleet_cost = figures.fleet_tco[years]
        tiles.append(
            Tile(
                f"{years}-year fleet",
                "the same"
                if cheaper is None
                else f"{cheaper.name} −{percent(abs(figures.saving.value))}",
                " vs ".join(money(r.value if r else None, cur) for r in fleet_cost)
                + f" ({names})"
                + (
                    "; NOT SETTLED within the projection's range."
                    if figures.saving.low < 0 < figures.saving.high
                    else "."
                ),
            )
        )
    return tiles


def risks(report: analysis.Report) -> list[str]:
    """What could make page one wrong: outputs, emulation, projections, the evidence."""
    lines = []
    for machine, result in zip(report.machines[1:], report.comparisons, strict=True):
        column = report.machines.index(machine)
        bad = _differing(report, column) or result.outputs_differ
        lines.append(
            f"Outputs identical ({machine.name}): "
            + (f"NO — {', '.join(sorted(set(bad)))}: do not migrate." if bad else "yes.")
        )
    emulated = [m.name for m in report.machines if compare.ran_emulated(m.run)]
    counted = [m.name for m in report.machines if m.timed_under_valgrind]
    lines.append(
        "Emulated: "
        + (f"YES — {', '.join(emulated)}: timings invalid, not compared." if emulated else "no.")
        + (f" Timed under Valgrind (not compared): {', '.join(counted)}." if counted else "")
    )
    if report.cost is not None:
        notes = _projection_notes(report.cost)
        withheld = [
            f"{f.machine.name} ({', '.join(f.withheld)})" for f in report.cost.servers if f.withheld
        ]
        lines.append(
            "Projected: "
            + (
                "yes — " + "; ".join(notes) + "."
                if notes
                else "none given."
                if withheld
                else "no: every rate priced was measured."
            )
            + (
                f" Per-server rates withheld (reasons in the cost section): {'; '.join(withheld)}."
                if withheld
                else ""
            )
        )
    problems = sorted({p for r in report.comparisons for p in r.evidence_problems})
    if problems:
        lines.append("Evidence: " + "; ".join(problems) + ".")
    return lines


def _projection_notes(figures: fleet.CostFigures) -> list[str]:
    """'sweep-b: projected from 2 of 128 cores', for each priced machine with a projection."""
    return [
        f"{f.machine.name}: {f.projection_note}" for f in figures.servers[:2] if f.projection_note
    ]


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
        return f"{who}: outputs identical; NO SPEED VERDICT — " + "; ".join(_refusals(result)) + "."
    if not result.geomean:
        return f"{who}: outputs identical; no benchmark was run on both, so no speed verdict."
    g = result.geomean[0]
    n = len(result.rows)
    interval = (
        f"95 % confidence {result.geomean_interval(2)}, geometric mean over "
        f"{plural(n, 'benchmark')}"
    )
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
    if figures.withheld:
        return f"Cost: NO COST VERDICT for {target}: {figures.withheld}."
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


def _refusals(result) -> list[str]:
    """Why a comparison gives no speed verdict, in words: its refusals, then the software
    differences not allowed (each named, as --allow takes them)."""
    return result.refusals + (
        [f"software differs in {', '.join(result.not_allowed)} (not allowed)"]
        if result.not_allowed
        else []
    )
