"""``bankbench scaling-bound``: each batch workload's serial share, counted with Valgrind, and
the Amdahl ceiling it implies at 64 and 128 threads (bench/serial_share.py)."""

from __future__ import annotations

import json

from bench.commands._arguments import add_json, add_seed, add_threads, add_workloads, scale
from bench.commands._exit import EXIT_OK

NAME = "scaling-bound"
HELP = "serial share of each batch workload (Valgrind counts) and its Amdahl bound at 64, 128"
EPILOG = """The counts are exact: the same code, inputs and thread count print the same table
on any load. Needs valgrind (apt-get install valgrind); takes ~1 minute at scale 0.05.
examples:
  bankbench scaling-bound                      every batch workload at 2 and 4 threads
  bankbench scaling-bound -w 'ledger.*' -t 2,8 -s 0.2 --json
"""
MODEL_NAME = "bench/serial_share_model.json"
DEFAULT_SCALE = 0.05  # the quick profile's: a few seconds a workload under Valgrind


def add_arguments(p) -> None:
    add_workloads(p)
    add_threads(p, [2, 4], "2,4")
    p.add_argument(
        "-s", "--scale", type=scale, default=DEFAULT_SCALE, help=f"default {DEFAULT_SCALE}"
    )
    add_seed(p)
    add_json(p)
    p.add_argument(
        "--write-model",
        action="store_true",
        help=f"also keep each workload's largest serial share in {MODEL_NAME}: reports cap "
        "their projections to more cores by its bound",
    )


def main(args) -> int:
    from bench import serial_share
    from bench.plan import DEFAULT_SEED
    from workloads import registry
    from workloads.errors import InputError

    chosen = [
        w.name
        for w in registry.select(args.workloads)
        if "batch" in w.kinds() and serial_share.ENGINE in w.engines
    ]
    if not chosen:
        raise InputError(
            "scaling-bound: no batch workload with a C engine matches; see `bankbench list`"
        )
    threads = [t for t in args.threads if t > 1] or [2]
    seed = DEFAULT_SEED if args.seed is None else args.seed
    rows = serial_share.measure(chosen, threads, args.scale, seed)
    if args.json:
        print(json.dumps(serial_share.as_json(rows), indent=1))
    else:
        print(serial_share.render(rows, args.scale))
    if args.write_model:
        serial_share.write_model(rows, args.scale, seed)
        print(f"the bounds of these {len(chosen)} workloads are in {serial_share.MODEL}")
    return EXIT_OK
