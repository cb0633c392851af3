"""The report's open-loop section: latency vs offered load per workload (every machine and
thread count), capacity measured open loop beside the closed-loop claim, fleet sizing from
the measured capacity, and why procurement should not use the closed-loop number."""

from __future__ import annotations

import math

from bench.openloop import summary as open_loop
from bench.text import plural
from reports import charts
from reports.document import Figure, Heading, Paragraph, Table

DECISIONS = "loan.decide"  # the cost model's target load is decisions per second

WHY_NOT_CLOSED_LOOP = (
    "Why the closed-loop number is not used for sizing. A closed-loop benchmark sends the "
    "next request only when the last one has returned, so when the server slows down it also "
    "slows its own arrivals: it never sees the queue that builds when customers keep arriving "
    "on their own schedule, and its latency near saturation is optimistic by construction "
    "(coordinated omission). The capacity below is measured open loop: requests arrive on a "
    "fixed schedule (the same on every machine), each request's latency runs from when it "
    "should have arrived to when it was answered, so waiting in the queue counts, and the "
    "capacity is the highest offered rate whose p99 meets the target while the server keeps "
    "up. The closed-loop peak is shown beside it only to show how much it would overstate; "
    "a fleet bought on it is too small."
)


def sweeps_of(machine) -> list[dict]:
    return [] if machine.timed_under_valgrind else open_loop.sweeps(machine.open_loop_points)


def _curves(machines, workload: str) -> list[charts.LoadCurve]:
    curves = []
    for m in machines:
        for s in sweeps_of(m):
            if s["workload"] != workload:
                continue
            points = [
                (r["offered_per_s"], r["latency_ns_p99"], bool(r["saturated"])) for r in s["points"]
            ]
            capacity = s["capacity"].per_s if s["capacity"] else None
            curves.append((m.name, s["threads"], points, capacity))
    return curves


def _capacity_cell(s: dict) -> str:
    found = s["capacity"]
    if found is None:
        return open_loop.why_none(s)
    ci = s["capacity_interval"]
    cell = f"{open_loop.rate(found.per_s)}"
    cell += f" [{open_loop.rate(ci[0])}–{open_loop.rate(ci[1])}]" if ci else ""
    cell += f" (p99 {open_loop.microseconds(found.latency_ns_p99)})"
    return cell + (f"; flagged: {', '.join(found.from_flagged)}" if found.from_flagged else "")


def _fleet_rows(machines, target_per_s: float) -> list[list[str]]:
    """Servers for the target at each machine's measured open-loop capacity, at the thread
    count measured; a server with more cores than the run used is not extrapolated here."""
    rows = []
    for m in machines:
        for s in sweeps_of(m):
            if s["capacity"] is None or s["workload"] != DECISIONS:
                continue
            per_s = s["capacity"].per_s
            rows.append(
                [
                    m.name,
                    s["workload"],
                    f"{plural(s['threads'], 'thread')} (measured)",
                    open_loop.rate(per_s),
                    f"{math.ceil(target_per_s / per_s):,}",
                ]
            )
    return rows


def section(report) -> list:
    machines = report.machines
    workloads = sorted({s["workload"] for m in machines for s in sweeps_of(m)})
    blocks: list = [Heading("Capacity under open-loop load")]
    if not workloads:
        return blocks + [Paragraph("No open-loop sweep was measured in these runs.")]
    blocks.append(Paragraph(WHY_NOT_CLOSED_LOOP))
    slo_ns = next(s["slo_ns"] for m in machines for s in sweeps_of(m))
    for workload in workloads:
        blocks.append(
            Figure(
                f"latency-vs-load-{workload}",
                charts.latency_vs_load(workload, _curves(machines, workload), slo_ns),
                f"{workload}: p99 latency from the intended arrival against the offered load, "
                "each machine and thread count; the horizontal line is the SLO, each dotted "
                "line that curve's measured capacity.",
            )
        )
    rows = [
        [
            m.name,
            s["workload"],
            plural(s["threads"], "thread"),
            _capacity_cell(s),
            f"{open_loop.rate(s['peak_per_s'])} (not capacity)",
            f"{len(s['points'])}",
        ]
        for m in machines
        for s in sweeps_of(m)
    ]
    blocks += [
        Heading(f"Capacity at p99 ≤ {slo_ns / 1e6:g} ms, measured open loop", 3),
        Table(
            ["machine", "workload", "threads", "capacity, measured", "closed-loop claim", "points"],
            rows,
        ),
    ]
    target = report.model.target.decisions_per_s if report.model else None
    if target:
        blocks += [
            Heading(f"Fleet for {open_loop.rate(target)} at p99 ≤ {slo_ns / 1e6:g} ms", 3),
            Paragraph(
                "Servers needed at each machine's measured open-loop capacity, at the thread "
                "count the run measured. Nothing here is projected: a server with more cores "
                "than the run used needs a run at that thread count (the cost section's "
                "figures mark their projections)."
            ),
            Table(
                ["machine", "workload", "at", "capacity", "servers"], _fleet_rows(machines, target)
            ),
        ]
    return blocks
