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


# Valgrind runs the threads one at a time, and slowly: its clock says nothing of scaling
VALGRIND_CLOCK = (
    "thread scaling: not shown: this run was counted under Valgrind (--measure instructions), "
    "whose clock times Valgrind, one thread at a time; a timed run (the default) measures it"
)

_SHOWN = ("run_id", "label", "status", "profile", "seed")  # store text in the header line


def main(args) -> int:
    from bench import scaling, summary, text
    from bench.commands.run import print_tables
    from bench.compare.times import timed_under_valgrind
    from bench.records import RunRecord
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
    stored = RunRecord.from_row(run)  # its JSON fields: an object each, or None
    record, probes = stored.fingerprint or {}, stored.probes or {}
    rows = samples.to_pylist()
    if timed_under_valgrind(rows):
        if any((r.get("threads") or 1) > 1 for r in rows):  # a scaling it would have shown
            print(VALGRIND_CLOCK)
    else:
        summarized = summary.summarize(samples)
        for line in scaling.render_curves(scaling.efficiency_curves(summarized)):
            print(line)
        evidence = scaling.two_thread_evidence(summarized, probes, scaling.round_seconds(samples))
        host = scaling.host_compute(probes)
        imported = run.get("status") == "imported"
        activity = record.get("host_activity")
        for line in scaling.render_two_thread(evidence, activity, host, imported):
            print(line)
    policy = record.get("placement_policy")
    if policy:
        print(f"placement: {text.terminal(policy['summary'], 400)}")
    if record.get("allocator"):
        print(f"allocator: {text.terminal(record['allocator'], 400)}")
    if record.get("pool"):
        print(f"worker pool: {text.terminal(record['pool'], 400)}")
    dispatch = scaling.dispatch_line(probes)
    if dispatch:
        print(text.terminal(dispatch, 600))
    return EXIT_OK
