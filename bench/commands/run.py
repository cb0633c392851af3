"""``bankbench run``: the benchmarks into the results store, then their summary."""

from __future__ import annotations

from bench.commands._arguments import add_run_options, plan_of, profiles_epilog
from bench.commands._exit import EXIT_OK

NAME = "run"
HELP = "run the benchmarks into the results store and summarise them"
EPILOG = profiles_epilog()


def add_arguments(p) -> None:
    add_run_options(p)
    p.add_argument("--label", help="a name for this run (default: host-profile)")


def main(args) -> int:
    from bench import run, summary, text
    from bench.measure import modes
    from bench.measure import summary as counts_summary
    from bench.store import Store

    plan = plan_of(args)
    run_id = run.run(plan, store_location=args.store, label=args.label)
    print(f"\nrun {run_id} in {text.terminal(args.store)}")
    samples = Store(args.store).samples([run_id])
    if plan.measure != modes.INSTRUCTIONS:  # under Valgrind the times are Valgrind's
        summary.print_table(summary.summarize(samples), args.slo)
    if plan.measure != modes.TIME:
        counts_summary.print_table(samples.to_pylist())
    return EXIT_OK
