"""The ``bankbench`` command. Every operating error is caught here, in one place, and printed
as one line: what went wrong, where, and how to fix it."""

from __future__ import annotations

import argparse
import json
import sys

from bench import __version__
from bench.run import PROFILES
from workloads.errors import BankbenchError, InputError

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR = 0, 1, 2
EXIT_REGRESSION, EXIT_NOT_COMPARABLE, EXIT_OUTPUTS_DIFFER = 3, 4, 5

EPILOG = """examples:
  bankbench list                          the workloads, their engines and units
  bankbench env                           this host: CPU (MIDR on Arm), cores, NUMA, pages, build
  bankbench run --profile smoke           every workload and engine in seconds, into ./results
  bankbench run -p standard --label kunpeng-a --store s3://bucket/bankbench
  bankbench run -w 'ledger.*' -e c -t max -s 1
  bankbench runs                          the runs in the store; `bankbench show RUN` again
  bankbench import other-project.json     pytest-benchmark JSON files into the store
  bankbench compare x86-a kunpeng-a --format markdown --fail-on-regression 5
  bankbench calibrate -p standard -e c    this host's noise floor (A/A)
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
    from bench import run, summary
    from bench.store import Store

    run_id = run.run(store_location=args.store, label=args.label, **_run_kwargs(args))
    store = Store(args.store)
    print(f"\nrun {run_id} in {args.store}")
    summary.print_table(summary.summarize(store.samples([run_id])), args.slo)
    return EXIT_OK


def _store_and_run(args):
    from bench.store import Store

    store = Store(args.store)
    return store, store.find_run(args.run)


def cmd_runs(args) -> int:
    from bench.store import Store

    store = Store(args.store)
    runs = sorted(store.runs().to_pylist(), key=lambda r: r["run_id"])
    for path in store.skipped:
        print(f"bankbench: skipped unreadable file {path}", file=sys.stderr)
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
    print(f"{'run':<25} {'label':<24} {'status':<10} {'profile':<9} {'arch':<8} cpu")
    for r in runs:
        arch = json.loads(r["fingerprint_json"] or "{}").get("arch") or "?"
        emulated = " (emulated)" if r["emulated"] else ""
        print(
            f"{r['run_id']:<25} {(r['label'] or '')[:24]:<24} {r['status']:<10} "
            f"{r['profile'] or '':<9} "
            f"{arch:<8} {r['cpu_model'] or 'unknown'}{emulated}"
        )
    return EXIT_OK


def cmd_show(args) -> int:
    from bench import summary

    store, run = _store_and_run(args)
    print(
        f"run {run['run_id']} ({run['label']}), {run['status']}, profile {run['profile']}, "
        f"{run['cpu_model'] or 'unknown cpu'}, started {run['started_at']}"
    )
    summary.print_table(summary.summarize(store.samples([run["run_id"]])), args.slo)
    return EXIT_OK


def cmd_export(args) -> int:
    import pyarrow.csv as pacsv

    store, run = _store_and_run(args)
    samples = store.samples([run["run_id"]])
    if args.format == "csv":
        pacsv.write_csv(samples, sys.stdout.buffer)
    else:
        print(
            json.dumps(
                {
                    "run": {k: (str(v) if k.endswith("_at") else v) for k, v in run.items()},
                    "samples": samples.to_pylist(),
                },
                indent=1,
                default=str,
            )
        )
    return EXIT_OK


def cmd_import(args) -> int:
    import pathlib

    from bench import importer
    from bench.store import Store

    store = Store(args.store)
    for name in args.files:  # check every file before writing anything
        importer.load(pathlib.Path(name))
    for name in args.files:
        run_id, count = importer.import_file(store, pathlib.Path(name), args.label)
        print(f"{name}: {count} benchmark(s) imported as run {run_id}")
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


def cmd_env(args) -> int:
    from bench import fingerprint

    facts = fingerprint.collect()
    if args.json:
        print(json.dumps(facts, indent=1))
        return EXIT_OK
    if facts["emulated"]:
        print(
            f"WARNING: emulated ({facts['emulation_reason']}): timings from this host are invalid"
        )
    build = facts.pop("build")
    if not facts["emulated"]:
        facts.pop("emulation_reason")
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        if key == "numa_nodes" and value:
            value = "; ".join(f"{node} cpus {v['cpus']}" for node, v in value.items())
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif key == "isa_features" and value:
            value = value if len(value) <= 80 else value[:77] + "..."
        print(f"{key:<{width}}  {'unknown' if value is None else value}")
    for key, value in build.items():
        print(f"{'build.' + key:<{width}}  {value}")
    return EXIT_OK


def _thread_list(text: str) -> list[int]:
    import os

    if text == "max":
        return sorted({1, *range(2, (os.cpu_count() or 1) + 1)})
    return _threads(text)


def _number_in(valid, not_a_number: str, out_of_range: str):
    """An argparse type: a float that ``valid`` accepts, with the two messages of refusal."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not {not_a_number}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(out_of_range)
        return value

    return parse


_scale = _number_in(
    lambda v: 0 < v <= 1000, "a number, e.g. 0.01 or 1", "scale must be in (0, 1000]"
)
_slo_ms = _number_in(
    lambda v: 0 < v < 1e6,
    "a number of milliseconds",
    "the SLO must be a positive number of milliseconds",
)
_percent = _number_in(
    lambda v: 0 <= v < 100, "a percentage or 'auto'", "the noise floor must be in [0, 100) percent"
)


def _noise_floor(text: str) -> float | str:
    return text if text == "auto" else _percent(text)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _run_options(p) -> None:
    """The options of every command that runs benchmarks."""
    p.add_argument(
        "-p", "--profile", choices=list(PROFILES), default="quick", help="default: quick"
    )
    p.add_argument(
        "-w", "--workloads", type=_list_arg, help="names or globs, comma-separated (default: all)"
    )
    p.add_argument("-e", "--engines", type=_list_arg, help="engines (default: c,numpy,python)")
    p.add_argument(
        "-t",
        "--threads",
        type=_thread_list,
        help="thread counts, or 'max' (default: the profile's)",
    )
    p.add_argument("-s", "--scale", type=_scale, help="workload scale (default: the profile's)")
    p.add_argument(
        "-r", "--rounds", type=_positive, help="rounds per benchmark (default: the profile's)"
    )
    p.add_argument(
        "--processes", type=_positive, default=1, help="worker processes, samples pooled"
    )
    p.add_argument("--pin", action="store_true", help="pin workers to CPUs (where the OS allows)")
    _store_option(p)


def _run_kwargs(args) -> dict:
    """The benchmark-running options of _run_options, as bench.run.run's keywords."""
    names = ("profile", "scale", "engines", "threads", "rounds", "workloads", "processes", "pin")
    return {name: getattr(args, name) for name in names}


DEFAULT_STORE = "results"


def _slo_option(p) -> None:
    p.add_argument(
        "--slo",
        type=_slo_ms,
        default=1.0,
        metavar="MS",
        help="p99 latency target for the capacity line, in milliseconds (default 1)",
    )


def _allow_option(p) -> None:
    p.add_argument(
        "--allow",
        type=_list_arg,
        help="software differences to accept by name, e.g. compiler,flags "
        "(also build_label, python, kernel, os, libc, cffi)",
    )


def _store_option(p) -> None:
    p.add_argument(
        "--store",
        default=DEFAULT_STORE,
        help=f"results store: a folder or a pyarrow filesystem URI (default: ./{DEFAULT_STORE})",
    )


def cmd_calibrate(args) -> int:
    from bench import calibrate

    rows = calibrate.calibrate(args.store, args.label, **_run_kwargs(args))
    print(f"\n{'benchmark':<40} {'samples':>7} {'CV':>7} {'A/A ratio':>10} {'detectable':>11}")
    for r in rows:
        print(
            f"{r['benchmark']:<40} {r['samples']:>7} {r['cv'] * 100:>6.2f}% {r['aa_ratio']:>9.3f}× "
            f"{r['detectable_change'] * 100:>10.1f}%"
        )
    return EXIT_OK


def cmd_compare(args) -> int:
    from bench import compare, compare_format
    from bench.store import Store

    base_store = Store(args.store)
    cand_store = Store(args.candidate_store or args.store)
    baseline, candidate = base_store.find_run(args.baseline), cand_store.find_run(args.candidate)
    if args.noise_floor == "auto":
        from bench import calibrate

        calibrated = calibrate.noise_floor(base_store, baseline)
        if calibrated and args.format == "table":
            print(
                f"noise floor: the latest calibration of this host ({len(calibrated)} benchmarks)"
            )
        floor: dict[str, float] | float = calibrated
    else:
        floor = args.noise_floor / 100
    result = compare.compare(
        baseline,
        candidate,
        base_store.samples([baseline["run_id"]]).to_pylist(),
        cand_store.samples([candidate["run_id"]]).to_pylist(),
        set(args.allow or []),
        noise_floor=floor,
    )
    print(compare_format.render(result, args.format))
    if result.outputs_differ:
        return EXIT_OUTPUTS_DIFFER
    if not result.comparable:
        return EXIT_NOT_COMPARABLE
    if args.fail_on_regression is not None and compare.regressions(result, args.fail_on_regression):
        return EXIT_REGRESSION
    return EXIT_OK


def cmd_audit(args) -> int:
    from bench import audit

    targets, source_problems = audit.run(args.cross or [])
    if args.json:
        print(
            json.dumps(
                {
                    "targets": [t.__dict__ for t in targets],
                    "sources": source_problems,
                    "ok": not source_problems and not any(t.errors for t in targets),
                },
                indent=1,
            )
        )
    else:
        for t in targets:
            print(f"{t.name} ({t.arch}, {t.label}): {'FAILED' if t.errors else 'OK'}")
            print(f"  flags: {' '.join(t.flags)}")
            print("  " + " · ".join(f"{k} {v}" for k, v in t.counts.items()))
            if t.facts:
                print("  platform: " + " · ".join(f"{k} {v}" for k, v in t.facts.items()))
            for line in t.notes:
                print(f"  {line}")
            for line in t.errors:
                print(f"  ERROR: {line}")
        print(
            "sources: "
            + (
                "OK (no long double, x86 intrinsics or plain-char values)"
                if not source_problems
                else "FAILED"
            )
        )
        for line in source_problems:
            print(f"  ERROR: {line}")
    failed = source_problems or any(t.errors for t in targets)
    return EXIT_MISMATCH if failed else EXIT_OK


def cmd_report(args) -> int:
    from reports import write

    written = write.report(
        args.runs,
        args.store or [DEFAULT_STORE],
        args.cost or [],
        set(args.allow or []),
        args.output,
    )
    for fmt, path in written.items():
        print(f"{fmt:>4}: {path}")
    return EXIT_OK


def cmd_probe(args) -> int:
    from bench import probes

    results = probes.run(args.size)
    if args.json:
        print(json.dumps(results, indent=1))
        return EXIT_OK
    for key, value in results.items():
        if "bandwidth" in key:
            value = f"{value / 1e9:.2f} GB/s"
        elif "per_s" in key:
            value = f"{value / 1e6:.1f} M/s"
        elif key.endswith("_ns"):
            value = f"{value:.0f} ns"
        print(f"{key:<36} {value}")
    return EXIT_OK


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

    for name, helptext, func, label_help in (
        (
            "run",
            "run the benchmarks into the results store and summarise them",
            cmd_run,
            "a name for this run (default: host-profile)",
        ),
        (
            "calibrate",
            "this host's noise floor: the selection twice (A/A), CV and detectable change",
            cmd_calibrate,
            "a name for the two runs (default: calibration)",
        ),
    ):
        p = sub.add_parser(
            name,
            help=helptext,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog="profiles: " + "; ".join(f"{k} ({v.purpose})" for k, v in PROFILES.items()),
        )
        _run_options(p)
        p.add_argument("--label", help=label_help)
        _slo_option(p)
        p.set_defaults(func=func)

    p = sub.add_parser("runs", help="list the runs in the store")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _store_option(p)
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("show", help="a run's summary table again")
    p.add_argument("run", help="run id, id prefix or label")
    _slo_option(p)
    _store_option(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("export", help="a run's samples as CSV or JSON on stdout")
    p.add_argument("run", help="run id, id prefix or label")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    _store_option(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="pytest-benchmark JSON files (any project) into the store")
    p.add_argument("files", nargs="+", help="files written by pytest --benchmark-json")
    p.add_argument("--label", help="a label for the imported runs (default: the file name)")
    _store_option(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "env", help="this host's fingerprint: CPU (MIDR on Arm), topology, OS, build"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_env)

    p = sub.add_parser(
        "probe", help="this machine's limits: memory bandwidth, random updates, call cost"
    )
    p.add_argument(
        "--size", choices=["small", "full"], default="full", help="full: 1 GiB tables (default)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser(
        "compare",
        help="candidate vs baseline: ratios with CIs, verdicts, CI gate",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit status: 0 fine, 3 a regression beyond --fail-on-regression, "
        "4 not comparable, 5 outputs differ, 2 error",
    )
    p.add_argument("baseline", help="run id, id prefix or label")
    p.add_argument("candidate", help="run id, id prefix or label")
    p.add_argument("--candidate-store", help="the candidate's store, when it is another one")
    _allow_option(p)
    p.add_argument("--format", choices=["table", "markdown", "json", "csv"], default="table")
    p.add_argument(
        "--fail-on-regression",
        type=float,
        metavar="PCT",
        help="exit 3 when a benchmark is significantly slower by more than PCT percent",
    )
    p.add_argument(
        "--noise-floor",
        type=_noise_floor,
        default="auto",
        metavar="PCT|auto",
        help="changes smaller than PCT percent are noise; auto (default): the baseline host's "
        "latest `bankbench calibrate`, else none",
    )
    _store_option(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "audit",
        help="check the compiled core: flags, no FMA/float/SVE, atomics, sources, platform",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  bankbench audit\n  bankbench audit --cross aarch64   "
        "# also the sources compiled with aarch64-linux-gnu-gcc\n"
        "exit status: 0 clean, 1 a finding, 2 a tool is missing",
    )
    p.add_argument(
        "--cross",
        type=_list_arg,
        help="also cross-compile the sources for these architectures (e.g. aarch64)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser(
        "report",
        help="the migration report (HTML, PDF, Markdown) from two or more runs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  bankbench report x86-standard kunpeng-standard --cost cost.toml -o report/\n"
        "  bankbench report BASE CAND --store results --store arm-results/ -o out/\n"
        "the first run is the baseline; the cost file format is in reports/cost.py and "
        "reports/example-cost.toml",
    )
    p.add_argument(
        "runs", nargs="+", help="run ids, id prefixes or labels; the first is the baseline"
    )
    p.add_argument(
        "--store",
        action="append",
        help=f"results store(s) to look the runs up in, in order (default: {DEFAULT_STORE})",
    )
    p.add_argument("--cost", action="append", help="cost model TOML file(s), merged")
    _allow_option(p)
    p.add_argument("-o", "--output", required=True, help="folder for report.html/.pdf/.md")
    p.set_defaults(func=cmd_report)

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
        print(
            "\nbankbench: interrupted; completed work is kept (a run is marked incomplete)",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:  # the reader went away (| head): not an error
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
