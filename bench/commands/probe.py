"""``bankbench probe``: this machine's physical limits."""

from __future__ import annotations

import json

from bench.commands._arguments import add_json
from bench.commands._exit import EXIT_OK

NAME = "probe"
HELP = "this machine's limits: memory bandwidth, random updates, call and dispatch cost"


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
        "core's pool) and through the core's pool, in one run",
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
    return counts


def main(args) -> int:
    from bench import probes

    if args.dispatch:
        return _dispatch(probes.dispatch_table(args.dispatch), args.json)
    results = probes.run(args.size)
    if args.json:
        print(json.dumps(results, indent=1))
        return EXIT_OK
    for key, value in results.items():
        if "bandwidth" in key:
            value = f"{value / 1e9:.2f} GB/s"
        elif "per_s" in key:
            value = f"{value / 1e6:.1f} M/s"
        elif key.endswith("_ns"):
            value = f"{value:.0f} ns"
        print(f"{key:<36} {value}")
    return EXIT_OK


def _dispatch(table: list[dict], as_json: bool) -> int:
    if as_json:
        print(json.dumps(table, indent=1))
        return EXIT_OK
    print(f"{'threads':>7} {'Python thread pool per call':>28} {'core pool':>12} {'ratio':>8}")
    for row in table:
        before, after = row["thread_pool_ns"], row["native_pool_ns"]
        print(
            f"{row['threads']:>7} {before / 1e3:>25.1f} µs {after / 1e3:>9.1f} µs "
            f"{before / after:>7.1f}×"
        )
    return EXIT_OK
