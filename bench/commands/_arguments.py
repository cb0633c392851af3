"""Argument types and options shared by the commands: one type per concept, so a thread list,
a scale or a store means the same in every command that takes one."""

from __future__ import annotations

import argparse

from bench.run import PROFILES

DEFAULT_STORE = "results"


def names(text: str) -> list[str]:
    """A comma-separated list of names or globs."""
    return [part for part in text.split(",") if part]


def thread_counts(text: str) -> list[int]:
    """Thread counts, e.g. 1,2,4, or 'max'."""
    import os

    if text == "max":
        return sorted({1, *range(2, (os.cpu_count() or 1) + 1)})
    try:
        values = [int(part) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a list of thread counts, e.g. 1,2,4"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("thread counts are whole numbers >= 1, e.g. 1,2")
    return values


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
    lambda v: 0 < v < 1e6,
    "a number of milliseconds",
    "the SLO must be a positive number of milliseconds",
)
_percent = _number_in(
    lambda v: 0 <= v < 100, "a percentage or 'auto'", "the noise floor must be in [0, 100) percent"
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
        help=f"thread counts, e.g. 1,2,4, or 'max' (default: {default_text})",
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
        "--slo",
        type=slo_ms,
        default=1.0,
        metavar="MS",
        help="p99 latency target for the capacity line, in milliseconds (default 1)",
    )


def add_allow(p) -> None:
    p.add_argument(
        "--allow",
        type=names,
        help="software differences to accept by name, e.g. compiler,flags "
        "(also build_label, python, kernel, os, libc, cffi)",
    )


def add_run_options(p) -> None:
    """The options of every command that runs benchmarks (run, calibrate)."""
    p.add_argument(
        "-p", "--profile", choices=list(PROFILES), default="quick", help="default: quick"
    )
    add_workloads(p)
    add_engines(p, "c,numpy,python")
    add_threads(p, None, "the profile's")
    p.add_argument("-s", "--scale", type=scale, help="workload scale (default: the profile's)")
    p.add_argument(
        "-r", "--rounds", type=positive, help="rounds per benchmark (default: the profile's)"
    )
    p.add_argument("--processes", type=positive, default=1, help="worker processes, samples pooled")
    p.add_argument("--pin", action="store_true", help="pin workers to CPUs (where the OS allows)")
    add_store(p)
    add_slo(p)


def run_kwargs(args) -> dict:
    """The benchmark-running options of add_run_options, as bench.run.run's keywords."""
    keys = ("profile", "scale", "engines", "threads", "rounds", "workloads", "processes", "pin")
    return {key: getattr(args, key) for key in keys}


def profiles_epilog() -> str:
    return "profiles: " + "; ".join(f"{k} ({v.purpose})" for k, v in PROFILES.items())
