"""``bankbench probe``: this machine's physical limits."""

from __future__ import annotations

import json

from bench.commands._arguments import add_json
from bench.commands._exit import EXIT_OK

NAME = "probe"
HELP = "this machine's limits: memory bandwidth, random updates, call cost"


def add_arguments(p) -> None:
    p.add_argument(
        "--size", choices=["small", "full"], default="full", help="full: 1 GiB tables (default)"
    )
    add_json(p)


def main(args) -> int:
    from bench import probes

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
