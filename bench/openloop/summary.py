"""Open-loop sweeps read back from the store: the figures per workload and thread count
(``sweeps``: computed once) and their wording for the terminal (``print_table``), used after
``bankbench run`` and by ``show``."""

from __future__ import annotations

from dataclasses import dataclass

from bench import text
from bench.openloop import capacity as capacities
from bench.openloop.sweep import kept_up_within

MODE = "open-loop"


@dataclass(frozen=True)
class StoredPoint:
    """What capacity needs of one stored load point (a Sample row of mode "open-loop")."""

    offered_per_s: float
    achieved_per_s: float
    latency_ns: dict
    saturated: bool
    flags: tuple[str, ...]

    @classmethod
    def of(cls, row: dict) -> StoredPoint:
        return cls(
            offered_per_s=row["offered_per_s"],
            achieved_per_s=row["achieved_per_s"],
            latency_ns={
                "p50": row["latency_ns_p50"],
                "p99": row["latency_ns_p99"],
                "p999": row["latency_ns_p999"],
                "max": row["latency_ns_max"],
            },
            saturated=bool(row["saturated"]),
            flags=tuple(row["flags"] or ()),
        )


def sweeps(rows: list[dict]) -> list[dict]:
    """Per open-loop benchmark (one workload × thread count): its points in offered order,
    the capacity of each repeat, the median repeat's and the CI of their mean, the
    closed-loop peak, and the self-checks."""
    by_benchmark: dict[str, list[dict]] = {}
    for row in rows:
        if row.get("mode") == MODE:
            by_benchmark.setdefault(row["benchmark"], []).append(row)
    found = []
    for name, group in sorted(by_benchmark.items()):
        slo_ns = group[0]["slo_ns"]
        repeats: dict[int, list[dict]] = {}
        for row in group:
            repeats.setdefault(row["repeat"] or 0, []).append(row)
        per_repeat = [
            capacities.capacity([StoredPoint.of(r) for r in rs], slo_ns)
            for _, rs in sorted(repeats.items())
        ]
        measured = [c for c in per_repeat if c is not None]
        # the figure shown: the median repeat's (a measured point, at the CI's centre)
        ranked = sorted(measured, key=lambda c: c.per_s)
        best = ranked[(len(ranked) - 1) // 2] if ranked else None
        points = sorted(group, key=lambda r: r["offered_per_s"])
        found.append(
            {
                "benchmark": name,
                "workload": group[0]["workload"],
                "threads": group[0]["threads"],
                "slo_ns": slo_ns,
                "points": points,
                "repeats": len(repeats),
                "peak_per_s": max(r["peak_per_s"] for r in group),
                "capacity": best,
                "capacities_per_s": [c.per_s for c in measured],
                "capacity_interval": capacities.interval([c.per_s for c in measured]),
                "max_achieved_per_s": max(r["achieved_per_s"] for r in group),
                "saturated_points": sum(bool(r["saturated"]) for r in group),
                "driver_overhead_ns": max(r["driver_overhead_ns"] for r in group),
                "fastest_service_ns": min(r["fastest_service_ns"] for r in group),
                "not_generated_per_s": [
                    r["offered_per_s"] for r in points if "rate not generated" in (r["flags"] or ())
                ],
                "flagged_points": sum(bool(r["flags"]) for r in group),
            }
        )
    return found


def rate(per_s: float) -> str:
    return f"{per_s:,.0f}/s"


def microseconds(ns: float) -> str:
    return f"{ns / 1000:,.1f} µs"


def capacity_line(sweep: dict) -> str:
    """The capacity, measured open loop, with the closed-loop claim beside it."""
    name = f"{text.terminal(sweep['workload'])} {text.plural(sweep['threads'], 'thread')}"
    slo = f"p99 ≤ {sweep['slo_ns'] / 1e6:g} ms"
    closed = f"closed loop would claim {rate(sweep['peak_per_s'])} (peak throughput)"
    found = sweep["capacity"]
    if found is None:
        return f"capacity at {slo}, {name}: {why_none(sweep)} (measured, open loop); {closed}"
    interval = sweep["capacity_interval"]
    ci = f" [{rate(interval[0])}–{rate(interval[1])}, 95 % CI]" if interval else ""
    flagged = (
        f"; from flagged points only ({text.terminal(', '.join(found.from_flagged))})"
        if found.from_flagged
        else ""
    )
    missed = not all(_point_met(r, sweep["slo_ns"]) for r in sweep["points"])
    # a sweep cut short (Ctrl-C), or whose loads all met the SLO, bounds it from below only
    at_least = "" if missed else "at least "
    return (
        f"capacity at {slo}, {name}: {at_least}{rate(found.per_s)}{ci} measured, open loop "
        f"(offered {rate(found.offered_per_s)}: p99 {microseconds(found.latency_ns_p99)}, "
        f"achieved {rate(found.achieved_per_s)})"
        f"{flagged}; {closed}"
    )


def _point_met(point: dict, slo_ns: int) -> bool:
    return kept_up_within(
        point["latency_ns_p99"],
        bool(point["saturated"]),
        point["achieved_per_s"],
        point["offered_per_s"],
        slo_ns,
    )


def why_none(sweep: dict) -> str:
    """Why a sweep has no capacity. Loads that met the SLO above one that missed it do not
    count (capacity.py), and the line says so: "no offered load met the SLO" read as false
    beside a table where seven of eight did."""
    points = sorted(sweep["points"], key=lambda r: r["offered_per_s"])
    met = [r for r in points if _point_met(r, sweep["slo_ns"])]
    missed = [r for r in points if not _point_met(r, sweep["slo_ns"])]
    if not met or not missed:
        return "no offered load met the SLO"
    first = missed[0]
    return (
        f"none: the load of {rate(first['offered_per_s'])} missed the SLO (p99 "
        f"{microseconds(first['latency_ns_p99'])}); {len(met)} of {len(points)} loads met it, "
        "but a capacity needs every lower load to meet it too: rerun to tell a host stall "
        "from the server's limit"
    )


def print_table(found: list[dict], *, points: bool = False) -> None:
    """Each sweep's capacity line and self-checks; with ``points``, every load point."""
    for sweep in found:
        if points:
            print(f"open loop {text.terminal(sweep['benchmark'])}:")
            print(f"  {'offered':>14} {'achieved':>14} {'p50':>11} {'p99':>11} {'max':>11}  flags")
            for r in sweep["points"]:
                flags = ", ".join(r["flags"] or ())
                saturated = "saturated" if r["saturated"] else ""
                print(
                    f"  {rate(r['offered_per_s']):>14} {rate(r['achieved_per_s']):>14} "
                    f"{microseconds(r['latency_ns_p50']):>11} "
                    f"{microseconds(r['latency_ns_p99']):>11} "
                    f"{microseconds(r['latency_ns_max']):>11}  "
                    + "; ".join(filter(None, (saturated, text.terminal(flags))))
                )
        print(capacity_line(sweep))
        overhead = sweep["driver_overhead_ns"]
        share = overhead / sweep["fastest_service_ns"] if sweep["fastest_service_ns"] else None
        print(
            f"  {len(sweep['points'])} points ({sweep['saturated_points']} saturated, "
            f"{sweep['flagged_points']} flagged), {sweep['repeats']} repeat(s); "
            f"driver overhead {overhead:.1f} ns per request"
            + (f" ({share * 100:.0f} % of the fastest service time)" if share else "")
        )
        if sweep["not_generated_per_s"]:
            print(
                "  rate not generated (the driver cannot keep that schedule): "
                + ", ".join(rate(r) for r in sweep["not_generated_per_s"])
            )
