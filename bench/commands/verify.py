"""``bankbench verify``: every engine against the golden digests."""

from __future__ import annotations

import json
import sys

from bench.commands._arguments import add_engines, add_json, add_seed, add_threads, add_workloads
from bench.commands._exit import EXIT_MISMATCH, EXIT_OK
from bench.plan import DEFAULT_THREADS

NAME = "verify"
HELP = "check every engine against the golden digests"
EPILOG = (
    "exit status: 0 all identical, 1 a digest or invariant differs or a check failed "
    "(ERROR, or CRASHED: a plugin's process died), 2 error"
)


def add_arguments(p) -> None:
    add_workloads(p)
    add_engines(p, "each workload's")
    add_threads(p, list(DEFAULT_THREADS), ",".join(map(str, DEFAULT_THREADS)))
    p.add_argument(
        "--no-online", action="store_true", help="skip the one-application-per-call paths"
    )
    add_seed(p, "the golden seed; another seed checks every engine against the Python reference")
    add_json(p)
    p.add_argument(
        "--write-golden",
        action="store_true",
        help="(maintainers) recompute the golden digests with the Python reference",
    )


def main(args) -> int:
    from bench import verify
    from bench.progress import Progress
    from workloads import golden, registry

    if args.write_golden:
        names = [w.name for w in registry.select(args.workloads)]
        for name, entry in golden.write(names).items():
            if name in names:
                print(f"{name:<16} seed {entry['seed']} scale {entry['scale']} {entry['digest']}")
        return EXIT_OK
    results = []
    # the widest name sets the first column (a plugin's may be up to 100 characters)
    width = max([16, *(len(w.name) for w in registry.select(args.workloads))])
    if not args.json:
        print(
            f"{'workload':<{width}} {'engine':<14} {'threads':>7}  {'digest':<16}  verdict",
            flush=True,
        )
    # a live line in a terminal; elsewhere the table itself is one line per check
    bar = (
        Progress(verify.count(args.workloads, args.engines, args.threads, not args.no_online))
        if sys.stderr.isatty()
        else None
    )
    for row in verify.rows(
        args.workloads,
        args.engines,
        args.threads,
        online=not args.no_online,
        seed=args.seed,
        on_start=bar.start if bar else None,
    ):
        results.append(row)
        if bar:
            bar.finish(row.workload)
            bar.close()
        if not args.json:
            print(_row_line(row, width), flush=True)
    failed = [r for r in results if not r.ok]
    against = "golden digests" if args.seed is None else f"Python reference's at seed {args.seed}"
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=1))
    else:
        print(
            f"{len(results) - len(failed)} of {len(results)} OK"
            + (
                f"; {_failures(failed)} against the {against}: outputs are NOT identical"
                if failed
                else f"; outputs are bit-identical to the {against}"
            )
        )
        if any(r.ran_on_fewer for r in results):
            print(RAN_ON_FEWER)
    return EXIT_MISMATCH if failed else EXIT_OK


RAN_ON_FEWER = (
    "ran on fewer threads than asked: the golden inputs are too small to split further (each "
    "part at least a few million instructions); the test suite checks every C workload's "
    "answer at 1, 2, 4 and 16 threads at sizes that split (tests/test_threads_worth.py)"
)


def _failures(failed) -> str:
    """How many checks failed, by verdict: '1 MISMATCH, 2 CRASHED'."""
    verdicts = [row.verdict for row in failed]
    return ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(verdicts))


def _row_line(row, width: int) -> str:
    """One check; a failure that is not a digest (an error, a crash) says why beneath it."""
    from bench import text

    line = (
        f"{text.terminal(row.workload):<{width}} {text.terminal(row.engine):<14} "
        f"{row.threads:>7}  {row.digest[:16]:<16}  {row.verdict}"
    )
    if row.ran_on_fewer:
        line += f" (ran on {text.plural(row.threads_used, 'thread')})"
    if row.verdict in ("ERROR", "CRASHED", "INVARIANT") and row.detail:
        line += f"\n  {row.verdict.lower()}: {text.terminal(row.detail)}"
    return line
