"""Argument types and options shared by the commands: one type per concept, so a thread list,
a scale or a store means the same in every command that takes one."""

from __future__ import annotations

import argparse
import math

from bench import plan as plans
from bench.plan import (
    DEFAULT_PROFILE,
    DEFAULT_SEED,
    MEASURE_MODES,
    PROFILES,
    SEED_LIMIT,
    SLO_MS_LIMIT,
    SLO_MS_MIN,
)
from workloads.errors import InputError

DEFAULT_STORE = "results"


def names(text: str) -> list[str]:
    """A comma-separated list of names or globs; an empty one is refused, not read as "all"
    (an unset shell variable in `-w "$WORKLOADS"` ran the whole suite)."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(
            f"{text!r} names nothing: give a comma-separated list (e.g. loan.score,ledger.*), "
            "or leave the option out for its default"
        )
    return parts


def output_folder(text: str) -> str:
    """A folder to write into: `report -o ''` wrote report.* and charts/ into the current one."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give the report a folder, e.g. -o report/")
    return text


def thread_counts(text: str) -> list[int]:
    """Thread counts, e.g. 1,2,4, or 'max' (every usable CPU), also in a list: 1,max."""
    try:
        return list(plans.parse_threads(text))
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if not 0 <= value < SEED_LIMIT:  # the one range: the store keeps seeds as int64
        raise argparse.ArgumentTypeError("the seed is a whole number in [0, 2^63)")
    return value


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


scale = _number_in(
    lambda v: 0 < v <= 1000, "a number, e.g. 0.01 or 1", "scale must be in (0, 1000]"
)
slo_ms = _number_in(
    lambda v: SLO_MS_MIN <= v < SLO_MS_LIMIT,
    "a number of milliseconds",
    f"the SLO must be a number of milliseconds in [{SLO_MS_MIN}, {SLO_MS_LIMIT:.0f})",
)
_percent = _number_in(
    lambda v: 0 <= v < 100, "a percentage or 'auto'", "the noise floor must be in [0, 100) percent"
)


regression_pct = _number_in(
    lambda v: math.isfinite(v) and v >= 0,
    "a percentage, e.g. 1 or 5",
    "the regression threshold is a finite percentage, 0 or more (nan and inf would gate nothing)",
)


def noise_floor(text: str) -> float | str:
    return text if text == "auto" else _percent(text)


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_json(p) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def add_workloads(p) -> None:
    p.add_argument(
        "-w", "--workloads", type=names, help="names or globs, comma-separated (default: all)"
    )


def add_engines(p, default: str) -> None:
    p.add_argument(
        "-e", "--engines", type=names, help=f"engines, comma-separated (default: {default})"
    )


def add_threads(p, default: list[int] | None, default_text: str) -> None:
    p.add_argument(
        "-t",
        "--threads",
        type=thread_counts,
        default=default,
        help=f"thread counts, e.g. 1,2,4, or 'max', each at most {plans.THREADS_MAX} "
        f"(default: {default_text})",
    )


def add_store(p, several: bool = False) -> None:
    """--store: a results store, a folder or a pyarrow filesystem URI, in every command."""
    where = "a folder or a pyarrow filesystem URI such as s3://bucket/path"
    if several:
        p.add_argument(
            "--store",
            action="append",
            help=f"results store(s) to look the runs up in, in order: {where} "
            f"(default: ./{DEFAULT_STORE})",
        )
    else:
        p.add_argument(
            "--store",
            default=DEFAULT_STORE,
            help=f"results store: {where} (default: ./{DEFAULT_STORE})",
        )


def add_slo(p) -> None:
    p.add_argument(
        "--slo-ms",
        "--slo",
        dest="slo",
        type=slo_ms,
        default=plans.DEFAULT_SLO_MS,
        metavar="MS",
        help="p99 latency target of capacity (the open-loop sweep's and the capacity line's), "
        f"in milliseconds (default {plans.DEFAULT_SLO_MS:g})",
    )


def allowed_differences(text: str) -> list[str]:
    """--allow's names, each one compare knows (a misspelt one used to be ignored)."""
    from bench.compare.contract import SOFTWARE_FIELDS

    chosen = names(text)
    unknown = [name for name in chosen if name not in SOFTWARE_FIELDS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"{', '.join(unknown)}: not a difference compare can allow; "
            f"choose from {', '.join(SOFTWARE_FIELDS)}"
        )
    return chosen


def add_allow(p) -> None:
    p.add_argument(
        "--allow",
        type=allowed_differences,
        help="software differences to accept by name, e.g. compiler,flags "
        "(also build_label, python, kernel, os, libc, cffi, allocator)",
    )


def add_seed(p, default_text: str = str(DEFAULT_SEED)) -> None:
    p.add_argument(
        "--seed",
        type=seed,
        default=None,
        help=f"the workloads' input generator seed (default: {default_text})",
    )


def add_run_options(p) -> None:
    """The options of every command that runs benchmarks (run, calibrate): a Plan's."""
    p.add_argument(
        "-p",
        "--profile",
        choices=list(PROFILES),
        default=DEFAULT_PROFILE,
        help=f"default: {DEFAULT_PROFILE}",
    )
    add_workloads(p)
    add_engines(p, ",".join(plans.ENGINES))
    add_threads(p, None, "the profile's")
    p.add_argument("-s", "--scale", type=scale, help="workload scale (default: the profile's)")
    add_seed(p)
    p.add_argument(
        "-r", "--rounds", type=positive, help="rounds per benchmark (default: the profile's)"
    )
    p.add_argument(
        "--processes",
        type=positive,
        default=None,
        help="worker processes, samples pooled (default: the profile's)",
    )
    p.add_argument(
        "--pin",
        action="store_true",
        help="pin each worker thread to its own CPU, spread over NUMA nodes (Linux)",
    )
    p.add_argument(
        "--measure",
        choices=MEASURE_MODES,
        default=MEASURE_MODES[0],
        help="how benchmarks are measured: time (wall clock, the default; compares "
        "machines), instructions (counted under Valgrind: deterministic, the CI gate), "
        "counters (this CPU's cycles, IPC and misses beside the time, where it has a PMU)",
    )
    p.add_argument(
        "--scaling",
        choices=plans.SCALING_MODES,
        default=plans.SCALING_MODES[0],
        help="thread-scaling curves of the C engine's batch benchmarks: strong (the work fixed "
        "at the scale, the default), weak (the scale per thread: the work grows with the "
        "threads, case ids say -weak-) or both",
    )
    p.add_argument(
        "--label", help="a name for the run (default: host-profile; calibrate adds -A and -B)"
    )
    add_store(p)
    add_slo(p)


def plan_of(args) -> plans.Plan:
    """The Plan of add_run_options' arguments."""
    return plans.resolve(
        profile=args.profile,
        workloads=args.workloads,
        engines=args.engines,
        threads=args.threads,
        scale=args.scale,
        seed=args.seed,
        rounds=args.rounds,
        processes=args.processes,
        pin=args.pin,
        measure=args.measure,
        label=args.label,
        scaling=args.scaling,
        slo_ms=args.slo,
    )


def profiles_epilog() -> str:
    return "profiles: " + "; ".join(f"{k} ({v.purpose})" for k, v in PROFILES.items())
