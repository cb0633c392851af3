"""The report's cost section, in words: the cost file's machines and site, cost per million
units, the fleet for the target load and its total cost of ownership. Every figure comes from
reports/fleet.py (computed once); this module only words them."""

from __future__ import annotations

from bench.scaling import Rate
from reports import analysis, charts, cost, fleet
from reports.document import Figure, Heading, Paragraph, Table
from reports.numbers import (
    money,
    money_range,
    percent,
    projected,
    rate,
    rate_figure,
    server_count,
    server_rate_figure,
    small_money,
)


def section(report: analysis.Report) -> list:
    model, figures = report.model, report.cost
    if model is None or figures is None:
        return [
            Heading("Cost"),
            Paragraph("No cost file was given (bankbench report --cost FILE): no cost section."),
        ]
    cur = model.site.currency
    servers = figures.servers
    header = ["", *[f"{f.machine.name} ({f.server.machine.name})" for f in servers]]

    def row(label, fn):
        return [label, *[fn(f) for f in servers]]

    def per(f: fleet.ServerFigures, figure: Rate | None, divisor: float) -> str:
        return rate_figure(figure, 1 / divisor) if figure else "–"

    def per_million(figure: fleet.PerMillion | None) -> str:
        if figure is None:
            return "–"
        return projected(
            small_money(figure.value),
            figure.projected,
            small_money(figure.low),
            small_money(figure.high),
        )

    rows = [
        row("physical cores, sockets", lambda f: f"{f.server.cores}, {f.server.sockets}"),
        row("price", lambda f: money(f.server.machine.price, cur)),
        row("power at load", lambda f: f"{f.server.machine.power_w:g} W"),
        row("decisions/s per core (1 thread, measured)", lambda f: rate(f.decisions_per_core)),
        row("decisions/s per server", lambda f: server_rate_figure(f, "decisions")),
        row("decisions/s per watt", lambda f: per(f, f.decisions, f.server.machine.power_w)),
        row(
            f"decisions/s per 1,000 {cur}",
            lambda f: per(f, f.decisions, f.server.machine.price / 1000),
        ),
        row("postings/s per core (1 thread, measured)", lambda f: rate(f.postings_per_core)),
        row("postings/s per server", lambda f: server_rate_figure(f, "postings")),
        row(
            f"cost per million decisions ({cur})",
            lambda f: per_million(f.cost_per_million_decisions),
        ),
        row(
            f"cost per million postings ({cur})", lambda f: per_million(f.cost_per_million_postings)
        ),
        *[
            row(f"annual {k}", lambda f, k=k: money(f.annual_cost[k], cur))
            for k in ("capex", "energy", "space", "licences", "maintenance")
        ],
        *[
            row(
                f"{y}-year cost per server",
                lambda f, y=y: money(f.tco[y], cur),
            )
            for y in cost.TCO_YEARS
        ],
        row(
            f"capacity per server at p99 ≤ {model.target.p99_ms:g} ms",
            lambda f: server_rate_figure(f, "capacity"),
        ),
        [
            f"servers for {model.target.decisions_per_s:,.0f} decisions/s",
            *[server_count(n, f.projected) for n, f in zip(figures.needed, servers, strict=True)],
        ],
        *[
            [
                f"{y}-year fleet cost",
                *[
                    money_range(r, f.projected, cur)
                    for r, f in zip(figures.fleet_tco[y], servers, strict=True)
                ],
            ]
            for y in cost.TCO_YEARS
        ],
    ]
    withheld = [
        f"{f.machine.name}, {what} per server: {why}."
        for f in servers
        for what, why in f.withheld.items()
    ]
    blocks: list = [
        Heading("Cost"),
        Paragraph(
            f"Cost model {model.source}: electricity {model.site.electricity_per_kwh:g} {cur}/kWh, "
            f"PUE {model.site.pue:g}, {cost.HOURS_PER_YEAR:,} h a year. Per core: the "
            "one-thread rate, as in the detail tables. Rates per server are measured at the "
            "server's physical cores when a run used that many; otherwise they are projected "
            "from the run's own thread scaling (Amdahl's law, with its 95 % range in brackets), "
            "marked (projected), never below the best rate measured, and withheld when more "
            "threads were slower than fewer or the range spans more than "
            f"{fleet.MAX_PROJECTION_SPREAD:g}×. A projection is never above the Amdahl bound "
            "of the workload's serial share, counted in instructions, with each parallel "
            "call held to the most parts it splits into (bankbench scaling-bound), at the "
            "server's cores: one above it is capped there. "
            "Cost per million units assumes full "
            "utilisation. Fleet cost = servers needed × (purchase + running costs)."
        ),
        Table(header, rows),
    ]
    if withheld:
        blocks.append(Paragraph("Not given: " + " ".join(withheld)))
    bounded = [
        f"{f.machine.name}, {what} per server: projection, {words}."
        for f in servers
        for what, words in f.bounds.items()
    ]
    if bounded:
        blocks.append(Paragraph("Projection bounds: " + " ".join(bounded)))
    if figures.sensitivity and figures.saving is not None:
        years = cost.TCO_YEARS[-1]
        title = f"sensitivity of the {years}-year fleet saving" + (
            " (projected)" if figures.projected else ""
        )
        blocks.append(
            Figure(
                "tornado",
                charts.tornado(figures.sensitivity, figures.saving.value, title),
                f"Each input −20 % and +20 % in turn: the candidate's {years}-year fleet saving "
                "over the baseline (negative: the baseline is cheaper); the dashed line is "
                "break-even." + (" Built on projected capacities." if figures.projected else ""),
            )
        )
        blocks.append(
            Table(
                ["input", "saving at −20 %", "saving at +20 %"],
                [
                    [
                        r["input"],
                        projected(percent(r["low"]), figures.projected),
                        projected(percent(r["high"]), figures.projected),
                    ]
                    for r in figures.sensitivity
                ],
            )
        )
    return blocks
