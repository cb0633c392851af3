"""``bankbench probe``: this machine's physical limits."""

from __future__ import annotations

import json

from bench.commands._arguments import add_json
from bench.commands._exit import EXIT_OK
from bench.plan import THREADS_MAX
from bench.text import plural

NAME = "probe"
HELP = (
    "this machine's limits: memory bandwidth, random updates, 2-thread compute, call and "
    "dispatch cost"
)


def add_arguments(p) -> None:
    p.add_argument(
        "--size", choices=["small", "full"], default="full", help="full: 1 GiB tables (default)"
    )
    p.add_argument(
        "--dispatch",
        metavar="THREADS",
        type=thread_counts,
        help="instead: the cost of an empty parallel call at these thread counts (e.g. "
        "1,2,8,32,128), through a Python thread pool per call (the parallel path before the "
        "core's pool) and through the core's pool, in one run, beside the floor under a call "
        "with more threads than CPUs (each worker handed a CPU once)",
    )
    add_json(p)


def thread_counts(text: str) -> list[int]:
    import argparse

    try:
        counts = [int(t) for t in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"thread counts like 1,2,8, not {text!r}")
    if max(counts) > THREADS_MAX:
        raise argparse.ArgumentTypeError(
            f"{max(counts)} threads is more than the pool's maximum, {THREADS_MAX}"
        )
    return counts


def main(args) -> int:
    from bench import probes
    from bench.scaling import host_compute

    if args.dispatch:
        return _dispatch(probes.dispatch_table(args.dispatch), args.json)
    results = probes.run(args.size)
    if args.json:
        print(json.dumps(results, indent=1))
        return EXIT_OK
    for key, value in results.items():
        print(f"{key:<36} {_shown(key, value)}")
    host = host_compute(results)
    if host is not None:  # what show and the report call the host's ceiling
        print(f"{'compute_efficiency_2t':<36} {_shown('efficiency', host['median'])}")
    return EXIT_OK


def _shown(key: str, value) -> str:
    """A probe's value in its unit: GB/s, M/s, or a duration for the nanosecond keys
    (…_ns, …_ns_8t); 'unknown' where the host could not measure it."""
    from bench.summary import duration

    if value is None:
        return "unknown"
    if "bandwidth" in key:
        return f"{value / 1e9:.2f} GB/s"
    if "efficiency" in key:
        return f"{value * 100:.0f} %"
    if key.startswith("compute_units_per_s"):
        from bench.probes import COMPUTE_STEPS

        return f"{value:,.0f} units/s (a unit: {COMPUTE_STEPS:,} rounds of 8 integer lanes)"
    if "per_s" in key:
        return f"{value / 1e6:.1f} M/s"
    if key.endswith("_ns") or "_ns_" in key:
        return duration(value * 1e-9)
    return str(value)


def _dispatch(table: list[dict], as_json: bool) -> int:
    if as_json:
        print(json.dumps(table, indent=1))
        return EXIT_OK
    print(
        f"{'threads':>7} {'Python thread pool per call':>28} {'core pool':>12} {'ratio':>8} "
        f"{'floor':>12}"
    )
    for row in table:
        before, after, floor = row["thread_pool_ns"], row["native_pool_ns"], row["floor_ns"]
        shown_floor = "–" if floor is None else f"{floor / 1e3:.1f} µs"
        print(
            f"{row['threads']:>7} {before / 1e3:>25.1f} µs {after / 1e3:>9.1f} µs "
            f"{before / after:>7.1f}× {shown_floor:>12}"
        )
    if table:
        round_trip = table[0]["handover_round_trip_ns"]
        said = "unknown here" if round_trip is None else f"{round_trip / 1e3:.1f} µs"
        print(
            f"floor (a model): a call on more threads than the {plural(table[0]['cpus'], 'CPU')}"
            " hands each of its threads - 1 workers a CPU once, half a round trip each (two "
            "threads on one CPU handing a turn back and forth as the pool hands out a part: "
            f"{said} a round trip on this host), shared over the CPUs"
        )
    return EXIT_OK
