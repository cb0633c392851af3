"""Open-loop capacity between two machines: per workload and thread count both runs swept,
the ratio of mean measured capacities (candidate / baseline) with its bootstrap CI over the
repeats (bench/openloop/capacity.py). Flagged capacities are carried, never hidden."""

from __future__ import annotations

from bench import text
from bench.openloop import capacity as capacities
from bench.openloop import summary as open_loop


def split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(the open-loop load points, every other sample)."""
    points = [r for r in rows if r.get("mode") == open_loop.MODE]
    return points, [r for r in rows if r.get("mode") != open_loop.MODE]


def ratios(base_points: list[dict], cand_points: list[dict]) -> list[dict]:
    """One row per (workload, threads) measured on both machines with a capacity on both."""
    base = {(s["workload"], s["threads"]): s for s in open_loop.sweeps(base_points)}
    cand = {(s["workload"], s["threads"]): s for s in open_loop.sweeps(cand_points)}
    found = []
    for key in sorted(base.keys() & cand.keys()):
        a, b = base[key], cand[key]
        if not a["capacities_per_s"] or not b["capacities_per_s"]:
            continue
        ratio, interval = capacities.ratio_interval(b["capacities_per_s"], a["capacities_per_s"])
        found.append(
            {
                "workload": key[0],
                "threads": key[1],
                "ratio": ratio,
                "interval": interval,
                "baseline_per_s": a["capacity"].per_s,
                "candidate_per_s": b["capacity"].per_s,
                "repeats": (len(a["capacities_per_s"]), len(b["capacities_per_s"])),
                "flagged": bool(a["capacity"].from_flagged or b["capacity"].from_flagged),
            }
        )
    return found


def lines(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    out = ["open-loop capacity (measured; candidate / baseline, 95 % CI over repeats):"]
    for r in rows:
        ci = (
            f" [{r['interval'][0]:.2f}–{r['interval'][1]:.2f}]"
            if r["interval"]
            else f" (no CI: {r['repeats'][0]} and {r['repeats'][1]} repeat(s); standard runs 3)"
        )
        out.append(
            f"  {text.terminal(r['workload'])} {text.plural(r['threads'], 'thread')}: "
            f"{r['ratio']:.2f}×{ci}, {open_loop.rate(r['candidate_per_s'])} vs "
            f"{open_loop.rate(r['baseline_per_s'])}"
            + ("; from flagged points" if r["flagged"] else "")
        )
    return out
