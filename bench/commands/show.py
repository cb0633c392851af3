"""``bankbench show``: a run's summary table again."""

from __future__ import annotations

import json

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
    from bench import scaling, summary, text
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
    samples = store.samples([run["run_id"]])
    print_tables(samples, args.slo, open_loop_points=True)
    summarized = summary.summarize(samples)
    for line in scaling.render_curves(scaling.efficiency_curves(summarized)):
        print(line)
    record = json.loads(run.get("fingerprint_json") or "{}")
    evidence = scaling.two_thread_evidence(summarized, json.loads(run.get("probes_json") or "{}"))
    for line in scaling.render_two_thread(evidence, record.get("host_activity")):
        print(line)
    policy = record.get("placement_policy")
    if policy:
        print(f"placement: {text.terminal(policy['summary'], 400)}")
    dispatch = dispatch_line(json.loads(run.get("probes_json") or "{}"))
    if dispatch:
        print(dispatch)
    return EXIT_OK


def dispatch_line(probes: dict) -> str | None:
    """The cost of an empty parallel call at each thread count the run's probe measured,
    beside the efficiency line it limits (a call shorter than a few times this cannot scale);
    None for a run without it (probes skipped, or recorded before the core's pool)."""
    from bench.summary import duration

    prefix, suffix = "parallel_call_ns_", "t"
    costs = sorted(
        (int(key[len(prefix) : -len(suffix)]), value)
        for key, value in probes.items()
        if key.startswith(prefix) and key.endswith(suffix) and isinstance(value, (int, float))
    )
    if not costs:
        return None
    return "empty parallel call (the core's pool, this run's probe): " + ", ".join(
        f"{threads}t {duration(ns * 1e-9)}" for threads, ns in costs
    )
