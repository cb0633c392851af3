"""The ``bankbench`` command. Every operating error is caught here, in one place, and printed
as one line: what went wrong, where, and how to fix it."""

from __future__ import annotations

import argparse
import json
import sys

from bench import __version__
from workloads.errors import BankbenchError, InputError

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR = 0, 1, 2

EPILOG = """examples:
  bankbench list                          the workloads, their engines and units
  bankbench run                           quick benchmarks of every workload and engine
  bankbench run -w loan.score -s 1 -e c,numpy -t 1,2 --json out.json
  bankbench verify                        every workload, engine and 1/2 threads vs golden digests
  bankbench verify -w 'loan.*' -e c -t 1,2,4
  bankbench verify --json > verify.json   machine-readable, for CI
"""


def _threads(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a list of thread counts, e.g. 1,2,4"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("thread counts are whole numbers >= 1, e.g. 1,2")
    return values


def _list_arg(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


def cmd_list(args) -> int:
    from workloads import registry

    rows = [
        (w.name, ",".join(w.engines), w.unit, (w.__doc__ or type(w).__module__))
        for w in registry.select(None)
    ]
    if args.json:
        print(
            json.dumps([{"workload": n, "engines": e.split(","), "unit": u} for n, e, u, _ in rows])
        )
        return EXIT_OK
    import importlib

    print(f"{'workload':<16} {'engines':<16} {'unit':<14} what")
    for name, engines, unit, _ in rows:
        module = importlib.import_module(type(registry.get(name)).__module__)
        summary = (module.__doc__ or "").strip().splitlines()[0].split("—", 1)[-1].strip()
        print(f"{name:<16} {engines:<16} {unit:<14} {summary}")
    return EXIT_OK


def cmd_verify(args) -> int:
    from bench import verify
    from workloads import golden, registry

    if args.write_golden:
        names = [w.name for w in registry.select(args.workloads)]
        for name, entry in golden.write(names).items():
            if name in names:
                print(f"{name:<16} seed {entry['seed']} scale {entry['scale']} {entry['digest']}")
        return EXIT_OK
    results = []
    if not args.json:
        print(
            f"{'workload':<16} {'engine':<14} {'threads':>7}  {'digest':<16}  verdict", flush=True
        )
    for row in verify.rows(args.workloads, args.engines, args.threads, online=not args.no_online):
        results.append(row)
        if not args.json:
            print(
                f"{row.workload:<16} {row.engine:<14} {row.threads:>7}  "
                f"{row.digest[:16]}  {row.verdict}",
                flush=True,
            )
    failed = [r for r in results if not r.ok]
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=1))
    else:
        print(
            f"{len(results) - len(failed)} of {len(results)} OK"
            + (
                f"; {len(failed)} differ from the golden digests: outputs are NOT identical"
                if failed
                else "; outputs are bit-identical to the golden digests"
            )
        )
    return EXIT_MISMATCH if failed else EXIT_OK


def cmd_run(args) -> int:
    import pathlib

    from bench import run

    rows = run.run(
        args.scale,
        args.engines or ["c", "numpy", "python"],
        args.threads,
        args.rounds,
        args.workloads,
        pathlib.Path(args.json) if args.json else None,
    )
    run.print_summary(rows)
    return EXIT_OK


def cmd_memory(args) -> int:
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


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number, e.g. 0.01 or 1") from None
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError("scale must be in (0, 1000]")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="bankbench",
        description="Benchmark and migration suite for core-banking compute "
        "(x86-64 and Arm): proves bit-identical results, measures speed.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    top.add_argument("--version", action="version", version=f"bankbench {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="list the workloads, their engines and units")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "verify",
        help="check every engine against the golden digests",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit status: 0 all identical, 1 a digest or invariant differs, 2 error",
    )
    p.add_argument(
        "-w", "--workloads", type=_list_arg, help="names or globs, comma-separated (default: all)"
    )
    p.add_argument(
        "-e",
        "--engines",
        type=_list_arg,
        help="engines, comma-separated (default: each workload's)",
    )
    p.add_argument(
        "-t", "--threads", type=_threads, default=[1, 2], help="thread counts (default: 1,2)"
    )
    p.add_argument(
        "--no-online", action="store_true", help="skip the one-application-per-call paths"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--write-golden",
        action="store_true",
        help="(maintainers) recompute the golden digests with the Python reference",
    )
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("run", help="run the benchmarks (pytest-benchmark) and print a summary")
    p.add_argument(
        "-w", "--workloads", type=_list_arg, help="names or globs, comma-separated (default: all)"
    )
    p.add_argument("-e", "--engines", type=_list_arg, help="engines (default: c,numpy,python)")
    p.add_argument(
        "-t", "--threads", type=_threads, default=[1, 2], help="thread counts (default: 1,2)"
    )
    p.add_argument(
        "-s",
        "--scale",
        type=_scale,
        default=0.01,
        help="workload scale (default 0.01; 1 ≈ full size)",
    )
    p.add_argument(
        "-r", "--rounds", type=int, default=5, help="rounds per benchmark (python engine: 1)"
    )
    p.add_argument("--json", metavar="FILE", help="also write pytest-benchmark's JSON here")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("memory", help="peak memory of a run relative to its input and output size")
    p.add_argument("-w", "--workloads", type=_list_arg, help="names or globs (default: all)")
    p.add_argument("-e", "--engines", type=_list_arg, help="engines (default: c)")
    p.add_argument("-t", "--threads", type=_threads, default=[1], help="thread count (default: 1)")
    p.add_argument("-s", "--scale", type=_scale, default=1.0, help="workload scale (default 1)")
    p.set_defaults(func=cmd_memory)
    return top


def _check_engines(args) -> None:
    from workloads import registry

    engines = getattr(args, "engines", None)
    if engines:
        known = sorted({e for w in registry.select(None) for e in w.engines})
        unknown = [e for e in engines if e not in known]
        if unknown:
            raise InputError(f"unknown engine '{unknown[0]}'; valid: {', '.join(known)}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not getattr(args, "func", None):
        parser().print_help()
        return EXIT_ERROR
    try:
        _check_engines(args)
        return args.func(args)
    except BankbenchError as error:
        print(f"bankbench: error: {error}", file=sys.stderr)
        return error.exit_code
    except ImportError as error:  # the C core was never built
        print(f"bankbench: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("bankbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
