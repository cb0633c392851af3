"""``bankbench report``: the migration report from two or more runs."""

from __future__ import annotations

from bench.commands._arguments import DEFAULT_STORE, add_allow, add_store, output_folder
from bench.commands._exit import EXIT_OK

NAME = "report"
HELP = "the migration report (HTML, PDF, Markdown) from two or more runs"
EPILOG = (
    "examples:\n"
    "  bankbench report x86-standard kunpeng-standard --cost cost.toml -o report/\n"
    "  bankbench report BASE CAND --store results --store arm-results/ -o out/\n"
    "the first run is the baseline; the cost file format is in reports/cost.py and "
    "reports/example-cost.toml"
)


def add_arguments(p) -> None:
    p.add_argument(
        "runs", nargs="+", help="run ids, id prefixes or labels; the first is the baseline"
    )
    add_store(p, several=True)
    p.add_argument("--cost", action="append", help="cost model TOML file(s), merged")
    p.add_argument(
        "--no-projection",
        action="store_true",
        help="never project rates to servers with more cores than a run measured: "
        "no cost verdict then",
    )
    add_allow(p)
    p.add_argument(
        "-o", "--output", required=True, type=output_folder, help="folder for report.html/.pdf/.md"
    )


def main(args) -> int:
    from reports import write

    written = write.report(
        args.runs,
        args.store or [DEFAULT_STORE],
        args.cost or [],
        set(args.allow or []),
        args.output,
        projection=not args.no_projection,
    )
    for fmt, path in written.items():
        print(f"{fmt:>4}: {path}")
    return EXIT_OK
