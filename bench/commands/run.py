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


def print_tables(samples, slo_ms: float, *, open_loop_points: bool = False) -> None:
    """A run's tables, after ``run`` and in ``show``: times, unless every sample was timed
    under Valgrind (``--measure instructions``: its times are Valgrind's, not the
    machine's), then the counts per unit of work, when any sample was counted; then the
    open-loop sweeps (their load points too with ``open_loop_points``)."""
    import pyarrow.compute as pc

    from bench import summary
    from bench.measure import modes
    from bench.measure import summary as counts_summary
    from bench.openloop import summary as open_loop

    found = open_loop.sweeps(samples.to_pylist())
    samples = samples.filter(pc.invert(pc.equal(samples.column("mode"), open_loop.MODE)))
    listed = samples.column("measure").to_pylist() if "measure" in samples.column_names else []
    measures = {s or modes.TIME for s in listed} or {modes.TIME}
    if measures != {modes.INSTRUCTIONS} and samples.num_rows:
        summary.print_table(summary.summarize(samples), slo_ms)
    if measures != {modes.TIME}:
        counts_summary.print_table(samples.to_pylist())
    open_loop.print_table(found, points=open_loop_points)
