"""``bankbench compare``: candidate vs baseline (bench.compare computes and renders), and the
one map from its findings to the exit status."""

from __future__ import annotations

from bench.commands._arguments import add_allow, add_store, noise_floor, regression_pct
from bench.commands._exit import (
    EXIT_CANNOT_DECIDE,
    EXIT_NOT_COMPARABLE,
    EXIT_OK,
    EXIT_OUTPUTS_DIFFER,
    EXIT_REGRESSION,
)

NAME = "compare"
HELP = "candidate vs baseline: ratios with CIs, verdicts, CI gate (times or counts)"
EPILOG = (
    "exit status: 0 fine, 3 a regression beyond --fail-on-regression, "
    "4 not comparable (also: no benchmark in common; --fail-on-regression against a run "
    "that did not finish, or with benchmarks refused because their workload's source or "
    "version changed), 5 outputs differ, "
    f"{EXIT_CANNOT_DECIDE} cannot decide (the samples cannot detect a change of "
    "--fail-on-regression: too few rounds, or a noisy host), "
    "2 error (also: a run compared with itself)"
)


def add_arguments(p) -> None:
    p.add_argument("baseline", help="run id, id prefix or label")
    p.add_argument("candidate", help="run id, id prefix or label")
    p.add_argument("--candidate-store", help="the candidate's store, when it is another one")
    add_allow(p)
    p.add_argument(
        "--format",
        choices=["table", "markdown", "json", "csv"],
        default="table",
        help="table (default: for the terminal), markdown (a CI job summary), json or csv",
    )
    p.add_argument(
        "--fail-on-regression",
        type=regression_pct,
        metavar="PCT",
        help="exit 3 when a benchmark is significantly slower by more than PCT percent; "
        f"exit {EXIT_CANNOT_DECIDE} when the samples cannot detect a PCT change",
    )
    p.add_argument(
        "--require-same-outputs",
        action="store_true",
        help="the digest gate (e.g. x86-64 against aarch64): exit 5 unless every output "
        "either run computed was run on the other too, with its digest, bit-identical "
        "(without it, outputs run on one side only are listed, not judged)",
    )
    p.add_argument(
        "--noise-floor",
        type=noise_floor,
        default="auto",
        metavar="PCT|auto",
        help="changes smaller than PCT percent are noise; auto (default): the baseline host's "
        "latest `bankbench calibrate`, else none",
    )
    add_store(p)


def _host_notes(args, baseline: dict, candidate: dict, floor, benchmarks: set[str]) -> None:
    """Flags for what a ratio may measure besides the code or the machine (bench.host_activity):
    with the table and Markdown on stdout, beside data formats on stderr."""
    import sys

    from bench import host_activity, text
    from bench.records import RunRecord

    base, cand = (RunRecord.from_row(run).fingerprint or {} for run in (baseline, candidate))
    notes = host_activity.differences(
        base.get("host_activity"), cand.get("host_activity"), base.get("logical_cpus") or 1
    )
    calibration = host_activity.calibration_note(floor, benchmarks)
    for note in [*notes, *([calibration] if calibration else [])]:
        if args.format == "markdown":
            print(f"\n> {text.markdown(note)}")
        else:
            print(text.terminal(note), file=sys.stdout if args.format == "table" else sys.stderr)


def main(args) -> int:
    from bench.compare import counts
    from bench.store import Store

    base_store = Store(args.store)
    same = not args.candidate_store or args.candidate_store == args.store
    cand_store = base_store if same else Store(args.candidate_store)  # one Store: warns once
    baseline, candidate = base_store.find_run(args.baseline), cand_store.find_run(args.candidate)
    base_samples = base_store.samples([baseline["run_id"]]).to_pylist()
    cand_samples = cand_store.samples([candidate["run_id"]]).to_pylist()
    if counts.counted(base_samples, cand_samples):  # --measure instructions…
        return counts_main(args, baseline, candidate, base_samples, cand_samples)
    return times_main(args, base_store, baseline, candidate, base_samples, cand_samples)


def times_main(args, base_store, baseline, candidate, base_samples, cand_samples) -> int:
    """Compare two runs timed by the clock; the exit status."""
    from bench import compare
    from bench.compare import capacity, formats

    base_points, base_samples = capacity.split(base_samples)
    cand_points, cand_samples = capacity.split(cand_samples)

    if args.noise_floor == "auto":
        from bench import calibrate

        floor: dict[str, float] | float = calibrate.noise_floor(base_store, baseline)
    else:
        floor = args.noise_floor / 100
    result = compare.compare(
        baseline,
        candidate,
        base_samples,
        cand_samples,
        set(args.allow or []),
        noise_floor=floor,
        every_output=args.require_same_outputs,
    )
    pct = args.fail_on_regression
    gate = compare.gate(result, pct) if pct is not None and result.comparable else None
    print(formats.render(result, args.format, gate))
    if result.comparable and args.format in ("table", "markdown"):
        for line in capacity.lines(capacity.ratios(base_points, cand_points)):
            print(line)
    benchmarks = {row["benchmark"] for row in base_samples + cand_samples}
    _host_notes(args, baseline, candidate, floor if isinstance(floor, dict) else {}, benchmarks)
    outcome = gate.outcome if gate else "pass"
    unfinished = gate.unfinished if gate and outcome == "incomplete" else None
    formats.print_csv_note(args.format, result, unfinished)
    return exit_status(result, outcome)


def counts_main(args, baseline, candidate, base_samples, cand_samples) -> int:
    """Compare two runs measured by counting (instructions or hardware counters); the exit
    status."""
    from bench.compare import counts, counts_formats, formats, unfinished_gate

    result = counts.compare(baseline, candidate, base_samples, cand_samples)
    pct = args.fail_on_regression
    gated = pct is not None and result.comparable
    regressed = counts.regressions(result, pct) if gated else []
    unfinished = unfinished_gate(result.incomplete, pct) if gated and not regressed else None
    print(counts_formats.render(result, args.format, pct, regressed, unfinished))
    formats.print_csv_note(args.format, result, unfinished)
    outcome = "regression" if regressed else ("incomplete" if unfinished else "pass")
    return exit_status(result, outcome)


def exit_status(result, outcome: str) -> int:
    """The one map from a comparison (of times or of counts) and its gate's outcome to
    compare's exit status: outputs that differ first, then not comparable, then the gate."""
    if result.outputs_differ:
        return EXIT_OUTPUTS_DIFFER
    if not result.comparable:
        return EXIT_NOT_COMPARABLE
    return {
        "regression": EXIT_REGRESSION,
        "incomplete": EXIT_NOT_COMPARABLE,
        "cannot decide": EXIT_CANNOT_DECIDE,
    }.get(outcome, EXIT_OK)
