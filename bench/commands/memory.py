"""``bankbench memory``: peak memory of a run relative to its input and output size."""

from __future__ import annotations

from bench.commands._arguments import add_engines, add_threads, add_workloads, scale
from bench.commands._exit import EXIT_OK

NAME = "memory"
HELP = "peak memory of a run relative to its input and output size"


def add_arguments(p) -> None:
    add_workloads(p)
    add_engines(p, "c")
    add_threads(p, [1], "1; the first count is measured")
    p.add_argument("-s", "--scale", type=scale, default=1.0, help="workload scale (default 1)")


def main(args) -> int:
    from bench import memory
    from workloads import registry

    print(
        f"{'workload':<16} {'engine':<7} {'threads':>7} {'inputs':>10} {'outputs':>10} "
        f"{'RSS growth':>11} {'ratio':>6}"
    )
    for workload in registry.select(args.workloads):
        for engine in args.engines or ["c"]:
            if engine not in workload.engines:
                continue
            r = memory.measure(workload.name, engine, args.threads[0], args.scale)
            mib = {k: r[k] / 2**20 for k in ("input_bytes", "output_bytes", "rss_growth_bytes")}
            print(
                f"{r['workload']:<16} {engine:<7} {r['threads']:>7} {mib['input_bytes']:>8.1f}MB "
                f"{mib['output_bytes']:>8.1f}MB {mib['rss_growth_bytes']:>9.1f}MB "
                f"{r['ratio']:>6.2f}",
                flush=True,
            )
    return EXIT_OK
