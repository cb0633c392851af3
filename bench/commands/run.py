"""``bankbench run``: the benchmarks into the results store, then their summary."""

from __future__ import annotations

import sys

from bench.commands._arguments import add_run_options, plan_of, profiles_epilog
from bench.commands._exit import EXIT_OK

NAME = "run"
HELP = "run the benchmarks into the results store and summarise them"
EPILOG = profiles_epilog()


def add_arguments(p) -> None:
    add_run_options(p)


def main(args) -> int:
    from bench import run, text
    from bench.measure import modes
    from bench.store import Store

    plan = plan_of(args)
    unused = modes.unused_options(plan, args.rounds, args.processes)
    if unused:
        print(unused, file=sys.stderr)
    run_id = run.run(plan, store_location=args.store)
    print(f"\nrun {run_id} in {text.terminal(args.store)}")
    print_tables(Store(args.store).samples([run_id]), args.slo)
    return EXIT_OK


def print_tables(samples, slo_ms: float) -> None:
    """A run's tables, after ``run`` and in ``show``: times, unless every sample was timed
    under Valgrind (``--measure instructions``: its times are Valgrind's, not the
    machine's), then the counts per unit of work, when any sample was counted."""
    from bench import summary
    from bench.measure import modes
    from bench.measure import summary as counts_summary

    listed = samples.column("measure").to_pylist() if "measure" in samples.column_names else []
    measures = {s or modes.TIME for s in listed} or {modes.TIME}
    if measures != {modes.INSTRUCTIONS}:
        summary.print_table(summary.summarize(samples), slo_ms)
    if measures != {modes.TIME}:
        counts_summary.print_table(samples.to_pylist())
