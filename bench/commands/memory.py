"""``bankbench memory``: peak memory of a run relative to its input and output size."""

from __future__ import annotations

import itertools

from bench.commands._arguments import add_engines, add_seed, add_threads, add_workloads, scale
from bench.commands._exit import EXIT_OK
from bench.plan import DEFAULT_SEED, PROFILES

NAME = "memory"
HELP = "peak memory of a run relative to its input and output size"
FULL_SCALE = PROFILES["full"].scale


def scales(text: str) -> list[float]:
    return [scale(part) for part in text.split(",") if part]


def add_arguments(p) -> None:
    add_workloads(p)
    add_engines(p, "c")
    add_threads(p, [1], "1")
    p.add_argument(
        "-s",
        "--scale",
        type=scales,
        default=[FULL_SCALE],
        help=f"workload scales, comma-separated (default {FULL_SCALE})",
    )
    add_seed(p)
    p.add_argument(
        "--write-model",
        action="store_true",
        help="(maintainers) store the measured ratios as the model `bankbench run` checks "
        "memory with (bench/memory_model.json)",
    )


def main(args) -> int:
    from bench import limits, memory
    from workloads import registry
    from workloads.errors import BankbenchError

    workloads = registry.select(args.workloads)
    engines = args.engines or ["c"]
    cases = [
        (workload, engine, threads, size)
        for workload in workloads
        for engine in engines
        if engine in workload.engines
        for threads, size in itertools.product(
            args.threads if engine != "python" else [1], args.scale
        )
    ]
    if not cases:  # before any output: nothing measured must not pass, or write a model
        theirs = "; ".join(f"{w.name}: {','.join(w.engines)}" for w in workloads)
        raise BankbenchError(
            f"nothing to measure: no selected workload has the engine(s) {','.join(engines)} "
            f"(their engines: {theirs}); pick one of theirs with -e"
        )
    if args.write_model and len(set(args.scale)) < 2:  # refused now, not after measuring
        raise BankbenchError(
            "--write-model needs measurements at two scales or more, e.g. -s 0.25,1.0"
        )
    print(
        f"{'workload':<16} {'engine':<7} {'threads':>7} {'scale':>6} {'inputs':>10} "
        f"{'outputs':>10} {'RSS growth':>11} {'/(in+out)':>9} {'worker peak':>12}"
    )
    seed = DEFAULT_SEED if args.seed is None else args.seed
    rows = []
    for workload, engine, threads, size in cases:
        r = memory.measure(workload.name, engine, threads, size, seed)
        rows.append(r)
        sizes = ("input_bytes", "output_bytes", "rss_growth_bytes", "worker_peak_bytes")
        mib = {k: r[k] / 2**20 for k in sizes}
        print(
            f"{r['workload']:<16} {engine:<7} {r['threads']:>7} {size:>6g} "
            f"{mib['input_bytes']:>8.1f}MB {mib['output_bytes']:>8.1f}MB "
            f"{mib['rss_growth_bytes']:>9.1f}MB {r['ratio']:>9.2f} "
            f"{mib['worker_peak_bytes']:>10.1f}MB",
            flush=True,
        )
    if args.write_model:
        limits.write_model(rows)
        print(f"the model of these {len(rows)} measurements is in {limits.MODEL}")
    return EXIT_OK
