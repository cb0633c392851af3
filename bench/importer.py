"""``bankbench import``: pytest-benchmark JSON files (its own format, from any project) into the
store, each as a run of its own with the machine_info and commit_info it carries.

Formats read: every version since 3.0 (``--benchmark-json`` and ``--benchmark-save`` files;
2.5-era files as well). A benchmark's identity is its full name with its parameters
(``test_x[100]`` and ``test_x[1000]`` are two benchmarks everywhere). Its samples are the
per-round times in ``stats.data`` (present with ``--benchmark-json`` and with
``--benchmark-save-data``), each the mean of ``stats.iterations`` calls, which is kept; a file
saved without raw data gives one sample, its median (source ``pytest-benchmark median``).
pytest-benchmark's version goes in the run's ``pytest_benchmark_version``. A benchmark's
``scale`` and ``seed``, where its ``params`` or ``extra_info`` name them (``bankbench export
--format pytest-benchmark`` writes both in ``params``), are kept in its samples, and a seed
all of a file's benchmarks share is the run's; a value of another kind (a project's own
"scale" of "large") is theirs, not ours, and is left out.

A file bankbench exported itself (``commit_info.project`` "bankbench", every benchmark with
its group, params and extra_info as export writes them) gets back each benchmark's workload,
engine, threads, mode, batch size, units and digest, so its keys are the run's again; any
other file, or one benchmark short of that, is imported as above.

A file is validated completely before anything is written, and its samples are written
before its run row, so the store never holds an imported run without its samples.
"""

from __future__ import annotations

import datetime
import json
import math
import pathlib
from dataclasses import dataclass
from typing import Any

from bench.measure import modes
from bench.records import RunRecord, Sample
from bench.store import Store, new_run_id
from workloads.errors import InputError

MODE = "imported"  # not a bankbench measurement: no units, threads or digest
SOURCE_RAW, SOURCE_MEDIAN = "pytest-benchmark", "pytest-benchmark median"


@dataclass
class Benchmark:
    name: str  # the full name with the parameters: the benchmark's identity
    seconds: list[float]  # per round, each the mean of ``iterations`` calls
    iterations: int
    source: str
    scale: float | None = None  # where the file says (params or extra_info)
    seed: int | None = None
    # a bankbench export's own description (export.pytest_benchmark_document): workload,
    # engine, threads, mode, batch_size, units, digest; None for any other project's file
    restored: dict | None = None
    # an open-loop load point of bankbench's own export: a rate, not a timed call; it comes
    # in as a generic benchmark and does not keep the file's timed benchmarks generic too
    open_loop: bool = False


@dataclass
class Imported:
    path: pathlib.Path
    data: dict
    benchmarks: list[Benchmark]


def load(path: pathlib.Path) -> dict:
    """The file's JSON, if it has the shape of a pytest-benchmark file."""
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise InputError(
            f"{path} is not JSON ({error}); expected a pytest-benchmark --benchmark-json file"
        ) from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("benchmarks"), list)
        or not isinstance(data.get("machine_info"), dict)
    ):
        raise InputError(
            f"{path} is not a pytest-benchmark JSON file (no 'benchmarks' list and 'machine_info')"
        )
    return data


# pytest-benchmark's per-benchmark statistics that are timings of one round
SUMMARY_TIMINGS = ("min", "max", "mean", "median")


def _positive_seconds(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


SEED_MAX = 2**63 - 1  # the store's int64


def _described(entry: dict, key: str) -> Any:
    """What the entry's params or extra_info say of ``key`` (params first: pytest's own)."""
    for where in ("params", "extra_info"):
        said = entry.get(where)
        if isinstance(said, dict) and said.get(key) is not None:
            return said[key]
    return None


def _scale(value: Any) -> float | None:
    """bankbench's scale: a positive finite number; anything else is the project's own."""
    return float(value) if _positive_seconds(value) else None


def _whole(value: Any, least: int) -> bool:
    """An int (not a bool) of at least ``least``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _seed(value: Any) -> int | None:
    """bankbench's seed: a whole number the store's int64 holds."""
    if _whole(value, 0) and value <= SEED_MAX:
        return value
    return None


RESTORED_MODES = ("batch", "weak", "online", "capacity")  # the timed modes export writes


def _restored(entry: dict) -> dict | None:
    """What bankbench's own export says of a benchmark (its group, params and extra_info),
    checked field by field; None where any is missing or of another kind. With it a run
    compares with its own re-import: without it the keys held only names, and nothing paired."""
    params = entry.get("params")
    extra = entry.get("extra_info")
    if not isinstance(params, dict) or not isinstance(extra, dict):
        return None
    workload, engine, threads = entry.get("group"), params.get("engine"), params.get("threads")
    mode, batch_size = params.get("mode"), params.get("batch_size")
    units, digest = extra.get("units"), extra.get("digest")
    if not (
        isinstance(workload, str)
        and isinstance(engine, str)
        and _whole(threads, 1)
        and mode in RESTORED_MODES
        and (batch_size is None or _whole(batch_size, 1))
        and (units is None or _whole(units, 0))
        and (digest is None or isinstance(digest, str))
    ):
        return None
    return {
        "workload": workload,
        "engine": engine,
        "threads": threads,
        "mode": mode,
        "batch_size": batch_size,
        "units": units,
        "digest": digest,
    }


def _benchmark(path: pathlib.Path, index: int, entry: Any) -> Benchmark:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise InputError(f"{path}: benchmark {index} has no 'name'; nothing was imported")
    fullname = entry.get("fullname")
    name: str = fullname if isinstance(fullname, str) else entry["name"]
    stats = entry.get("stats")
    if not isinstance(stats, dict):
        raise InputError(f"{path}: benchmark {name} has no 'stats'; nothing was imported")
    iterations = stats.get("iterations", 1)
    if not _whole(iterations, 1):
        raise InputError(
            f"{path}: benchmark {name} has iterations {iterations!r}, not a whole number >= 1; "
            "nothing was imported"
        )
    raw = stats.get("data")
    if raw is not None and (not isinstance(raw, list) or not raw):
        raise InputError(f"{path}: benchmark {name} has an empty or malformed 'data' list")
    # the summary timings are checked even when raw data is used: a file whose own statistics
    # are NaN or negative is damaged, whatever its rounds say
    summary = [stats[key] for key in SUMMARY_TIMINGS if key in stats]
    values: list[Any] = raw if raw is not None else [stats.get("median")]
    for value in [*summary, *values]:
        if not _positive_seconds(value):
            raise InputError(
                f"{path}: benchmark {name} has the timing {value!r}, not a positive finite "
                "number of seconds; nothing was imported"
            )
    seconds = [float(value) for value in values]
    return Benchmark(
        name=name,
        seconds=seconds,
        iterations=iterations,
        source=SOURCE_RAW if raw is not None else SOURCE_MEDIAN,
        scale=_scale(_described(entry, "scale")),
        seed=_seed(_described(entry, "seed")),
        restored=_restored(entry),
        open_loop=_described(entry, "mode") == modes.OPEN_LOOP,
    )


def parse(path: pathlib.Path) -> Imported:
    """The whole file checked: every benchmark named once, every timing a positive finite
    number of seconds, every iteration count a whole number; refused with one line if not."""
    data = load(path)
    benchmarks = [_benchmark(path, i, entry) for i, entry in enumerate(data["benchmarks"])]
    if not benchmarks:
        raise InputError(f"{path} holds no benchmarks; nothing to import")
    commit = data.get("commit_info")
    own = isinstance(commit, dict) and commit.get("project") == "bankbench"
    # all of a file's timed benchmarks, or none
    if not own or any(b.restored is None and not b.open_loop for b in benchmarks):
        for benchmark in benchmarks:
            benchmark.restored = None
    seen: set[str] = set()
    for benchmark in benchmarks:
        if benchmark.name in seen:
            raise InputError(
                f"{path}: benchmark {benchmark.name} appears twice; nothing was imported"
            )
        seen.add(benchmark.name)
    return Imported(path, data, benchmarks)


def _started(data: dict) -> datetime.datetime:
    text = data.get("datetime")
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except (AttributeError, ValueError):
        when = None
    when = when or datetime.datetime.now(datetime.timezone.utc)
    # pytest-benchmark writes UTC without an offset (utcnow) up to 4.x
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def _run_row(imported: Imported, label: str | None) -> RunRecord:
    data = imported.data
    machine = data["machine_info"]
    cpu = machine.get("cpu") if isinstance(machine.get("cpu"), dict) else {}
    cpu_model = cpu.get("brand_raw") or cpu.get("brand")  # py-cpuinfo renamed it in 6.0
    fingerprint: dict[str, Any] = {
        "arch": machine.get("machine"),
        "hostname": machine.get("node"),
        "cpu_model": cpu_model,
        "python": machine.get("python_version"),
        "emulated": False,
        "source": "pytest-benchmark import",
        "machine_info": machine,
    }
    commit = data.get("commit_info")
    commit = commit if isinstance(commit, dict) else {}
    version = data.get("version")
    seeds = {benchmark.seed for benchmark in imported.benchmarks}
    return RunRecord.start(
        new_run_id(),
        label or imported.path.stem,
        fingerprint,
        profile="import",
        status="imported",
        started_at=_started(data),
        command_line=f"bankbench import {imported.path}",
        bankbench_version=None,  # not a bankbench run
        pytest_benchmark_version=str(version) if version is not None else None,
        git_commit=commit.get("id"),
        seed=seeds.pop() if len(seeds) == 1 else None,  # one seed, every benchmark's
    )


def write(store: Store, imported: Imported, label: str | None) -> tuple[str, int]:
    """An already parsed file into the store: its samples first, then its run row."""
    run = _run_row(imported, label)
    for benchmark in imported.benchmarks:
        described = benchmark.restored or {"workload": benchmark.name, "mode": MODE}
        rows = [
            Sample(
                run_id=run.run_id,
                benchmark=benchmark.name,
                **described,
                round=i,
                seconds=seconds,
                iterations=benchmark.iterations,
                source=benchmark.source,
                scale=benchmark.scale,
                seed=benchmark.seed,
            )
            for i, seconds in enumerate(benchmark.seconds)
        ]
        store.write_samples(run, benchmark.name, rows)
    store.write_run(run)
    return run.run_id, len(imported.benchmarks)


def import_files(
    store: Store, paths: list[pathlib.Path], label: str | None
) -> list[tuple[pathlib.Path, str, int]]:
    """Every file parsed and checked before the first is written: (path, run id, count)."""
    parsed = [parse(path) for path in paths]
    return [(p.path, *write(store, p, label)) for p in parsed]


def import_file(store: Store, path: pathlib.Path, label: str | None) -> tuple[str, int]:
    return write(store, parse(path), label)
