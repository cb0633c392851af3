"""``bankbench show``: a run's summary table again."""

from __future__ import annotations

from bench.commands._arguments import add_slo, add_store
from bench.commands._exit import EXIT_OK

NAME = "show"
HELP = "a run's summary table again"


def add_arguments(p) -> None:
    p.add_argument("run", help="run id, id prefix or label")
    add_slo(p)
    add_store(p)


def main(args) -> int:
    from bench import summary
    from bench.store import Store

    store = Store(args.store)
    run = store.find_run(args.run)
    print(
        f"run {run['run_id']} ({run['label']}), {run['status']}, profile {run['profile']}, "
        f"seed {run.get('seed')}, "
        f"{run['cpu_model'] or 'unknown cpu'}, started {run['started_at']}"
    )
    summary.print_table(summary.summarize(store.samples([run["run_id"]])), args.slo)
    return EXIT_OK
