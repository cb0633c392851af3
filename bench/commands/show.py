"""``bankbench show``: a run's summary table again."""

from __future__ import annotations

from bench.commands._arguments import add_slo, add_store
from bench.commands._exit import EXIT_OK

NAME = "show"
HELP = "a run's summary table again (its counts too, when it was counted)"


def add_arguments(p) -> None:
    p.add_argument(
        "run",
        help="run id, id prefix or label; an id prefix of several runs is refused, and of "
        "several runs with the label the newest is shown, with a warning naming the others",
    )
    add_slo(p)
    add_store(p)


_SHOWN = ("run_id", "label", "status", "profile", "seed")  # store text in the header line


def main(args) -> int:
    from bench import text
    from bench.commands.run import print_tables
    from bench.store import Store

    store = Store(args.store)
    run = store.find_run(args.run)
    shown = {k: text.terminal(run.get(k), text.LABEL_WIDTH) for k in _SHOWN}
    print(
        f"run {shown['run_id']} ({shown['label']}), {shown['status']}, "
        f"profile {shown['profile']}, seed {shown['seed']}, "
        f"{text.terminal(run['cpu_model'] or 'unknown cpu', text.LABEL_WIDTH * 2)}, "
        f"started {run['started_at']}"
    )
    print_tables(store.samples([run["run_id"]]), args.slo)
    return EXIT_OK
