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
    from bench.records import RunRecord
    from bench.store import Store

    store = Store(args.store)
    runs = sorted(store.runs().to_pylist(), key=lambda r: r["run_id"])
    if args.json:
        print(
            json.dumps(
                [
                    {
                        k: (str(v) if k.endswith("_at") else v)
                        for k, v in r.items()
                        if not k.endswith("_json")
                    }
                    for r in runs
                ],
                indent=1,
            )
        )
        return EXIT_OK
    if not runs:
        print(f"no runs in {args.store} yet: `bankbench run` writes one")
        return EXIT_OK
    print(f"{'run':<25} {'label':<24} {'status':<10} {'profile':<9} {'seed':>6} {'arch':<8} cpu")
    for r in map(RunRecord.from_row, runs):
        emulated = " (emulated)" if r.emulated else ""
        seed = "" if r.seed is None else r.seed
        print(
            f"{r.run_id:<25} {(r.label or '')[:24]:<24} {r.status:<10} {r.profile or '':<9} "
            f"{seed:>6} {r.arch or '?':<8} {r.cpu_model or 'unknown'}{emulated}"
        )
    return EXIT_OK
