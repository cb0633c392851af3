"""``bankbench export``: a run's samples as CSV or JSON on stdout."""

from __future__ import annotations

import sys

from bench.commands._arguments import add_store
from bench.commands._exit import EXIT_OK

NAME = "export"
HELP = (
    "a run's samples as CSV or JSON on stdout, or the run as pytest-benchmark, Bencher (BMF) "
    "or github-action-benchmark JSON"
)


def add_arguments(p) -> None:
    p.add_argument("run", help="run id, id prefix or label")
    p.add_argument(
        "--format",
        choices=["csv", "json", "pytest-benchmark", "bencher", "github-action-benchmark"],
        default="csv",
        help="csv, json: every column of every sample; pytest-benchmark: a --benchmark-json "
        "file (bankbench import and pytest-benchmark compare read it); bencher: Bencher Metric "
        "Format; github-action-benchmark: its custom JSON (tool: customSmallerIsBetter)",
    )
    add_store(p)


def main(args) -> int:
    from bench import export
    from bench.store import Store

    store = Store(args.store)
    run = store.find_run(args.run)
    samples = store.samples([run["run_id"]])
    if args.format == "csv":
        sys.stdout.flush()
        export.write_csv(samples, sys.stdout.buffer)
    elif args.format == "json":
        export.write_json(run, samples, sys.stdout)
    else:
        export.write_document(args.format, run, samples, sys.stdout)
    return EXIT_OK
