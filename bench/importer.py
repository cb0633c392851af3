"""``bankbench import``: pytest-benchmark JSON files (its own format, from any project) into the
store, as a run of their own with the machine_info and commit_info they carry."""

from __future__ import annotations

import datetime
import json
import pathlib
from typing import Any

from bench.samples import rows_of
from bench.store import Store, new_run_id
from workloads.errors import InputError


def load(path: pathlib.Path) -> dict:
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
        or "machine_info" not in data
    ):
        raise InputError(
            f"{path} is not a pytest-benchmark JSON file (no 'benchmarks' list and 'machine_info')"
        )
    for i, bench in enumerate(data["benchmarks"]):
        if not isinstance(bench, dict) or "name" not in bench or "stats" not in bench:
            raise InputError(f"{path}: benchmark {i} has no 'name' or 'stats'")
    return data


def import_file(store: Store, path: pathlib.Path, label: str | None) -> tuple[str, int]:
    data = load(path)
    machine = data.get("machine_info") or {}
    cpu = machine.get("cpu") or {}
    fingerprint: dict[str, Any] = {
        "arch": machine.get("machine"),
        "hostname": machine.get("node"),
        "cpu_model": cpu.get("brand_raw"),
        "python": machine.get("python_version"),
        "emulated": False,
        "source": "pytest-benchmark import",
        "machine_info": machine,
    }
    started = data.get("datetime")
    try:
        when = datetime.datetime.fromisoformat(started.replace("Z", "+00:00")) if started else None
    except (AttributeError, ValueError):
        when = None
    when = when or datetime.datetime.now(datetime.timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    run = {
        "run_id": new_run_id(),
        "label": label or path.stem,
        "status": "imported",
        "started_at": when,
        "finished_at": when,
        "profile": "import",
        "command_line": f"bankbench import {path}",
        "bankbench_version": data.get("version"),
        "git_commit": (data.get("commit_info") or {}).get("id"),
        "emulated": False,
        "cpu_model": fingerprint["cpu_model"],
        "fingerprint_json": json.dumps(fingerprint),
        "build_json": json.dumps({}),
        "probes_json": None,
    }
    store.write_run(run)
    count = 0
    for bench in data["benchmarks"]:
        stats = bench["stats"]
        timings = stats.get("data") or [
            stats.get("median")
        ]  # raw data only with --benchmark-save-data
        timings = [t for t in timings if isinstance(t, (int, float))]
        if not timings:
            continue
        rows = rows_of(
            run["run_id"],
            bench.get("fullname") or bench["name"],
            timings,
            bench.get("extra_info") or {},
            source="pytest-benchmark",
        )
        for row in rows:
            row["workload"] = row["workload"] or bench.get("group") or bench["name"]
        store.write_samples(run, bench["name"], rows)
        count += 1
    return run["run_id"], count
