"""``bankbench export``: a run's samples as CSV or JSON on stdout."""

from __future__ import annotations

import json
import sys

from bench.commands._arguments import add_store
from bench.commands._exit import EXIT_OK

NAME = "export"
HELP = "a run's samples as CSV or JSON on stdout"


def add_arguments(p) -> None:
    p.add_argument("run", help="run id, id prefix or label")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    add_store(p)


def main(args) -> int:
    import pyarrow.csv as pacsv

    from bench.store import Store

    store = Store(args.store)
    run = store.find_run(args.run)
    samples = store.samples([run["run_id"]])
    if args.format == "csv":
        pacsv.write_csv(samples, sys.stdout.buffer)
    else:
        print(
            json.dumps(
                {
                    "run": {k: (str(v) if k.endswith("_at") else v) for k, v in run.items()},
                    "samples": samples.to_pylist(),
                },
                indent=1,
                default=str,
            )
        )
    return EXIT_OK
