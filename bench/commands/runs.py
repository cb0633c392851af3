"""``bankbench runs``: the runs in the store."""

from __future__ import annotations

import json

from bench.commands._arguments import add_json, add_store
from bench.commands._exit import EXIT_OK

NAME = "runs"
HELP = "list the runs in the store"


def add_arguments(p) -> None:
    add_json(p)
    add_store(p)


def main(args) -> int:
    from bench import text
    from bench.records import RunRecord
    from bench.store import Store

    store = Store(args.store)
    runs = sorted(store.runs().to_pylist(), key=lambda r: r["run_id"])
    if args.json:
        print(
            json.dumps(
                [
                    {
                        **{
                            k: (str(v) if k.endswith("_at") else v)
                            for k, v in r.items()
                            if not k.endswith("_json")
                        },
                        "measure": RunRecord.from_row(r).measure,
                    }
                    for r in runs
                ],
                indent=1,
            )
        )
        return EXIT_OK
    if not runs:
        print(f"no runs in {text.terminal(args.store)} yet: `bankbench run` writes one")
        return EXIT_OK
    print(
        f"{'run':<25} {'label':<24} {'status':<10} {'profile':<9} {'measure':<12} {'seed':>6} "
        f"{'arch':<8} cpu"
    )
    for r in map(RunRecord.from_row, runs):
        emulated = " (emulated)" if r.emulated else ""
        seed = "" if r.seed is None else r.seed
        # store text: one line per run however odd the label, host or CPU name
        print(
            f"{text.terminal(r.run_id, 25):<25} {text.cell(r.label or '', 24)} "
            f"{text.terminal(r.status, 10):<10} {text.terminal(r.profile or '', 9):<9} "
            f"{text.terminal(r.measure, 12):<12} {seed:>6} {text.terminal(r.arch or '?', 8):<8} "
            f"{text.terminal(r.cpu_model or 'unknown', text.LABEL_WIDTH * 2)}{emulated}"
        )
    return EXIT_OK
