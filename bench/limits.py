"""Resource limits: will a plan's benchmarks fit in this machine's memory?

Each benchmark's peak memory is estimated from its scale with the model that
``bankbench memory --write-model`` measures (bench/memory_model.json): per workload and
engine, the run's peak RSS growth (its inputs, outputs and working memory) and a worker's
(generating the inputs, checking them and running once: the generator's temporaries can
be the larger), each as fixed bytes plus bytes per unit of scale; the larger of the two,
plus the worker's own start-up memory. A plan whose largest
benchmark would not fit in the memory available now is refused before anything runs,
instead of being killed by the kernel half-way."""

from __future__ import annotations

import json
import pathlib
import warnings

from workloads.errors import BankbenchError

MODEL = pathlib.Path(__file__).resolve().parent / "memory_model.json"
GIB = 2**30


class ResourceError(BankbenchError):
    """The plan does not fit in this machine."""


def load_model() -> dict:
    try:
        return json.loads(MODEL.read_text())
    except (OSError, ValueError):
        return {}


def available_bytes() -> int | None:
    """The memory available now, or None where it cannot be read (a chroot without /proc:
    psutil reads /proc/meminfo)."""
    import psutil

    try:
        return psutil.virtual_memory().available
    except (OSError, psutil.Error):
        return None


def estimate_bytes(model: dict, workload: str, engine: str, scale: float) -> int | None:
    """Peak RSS of a worker running this benchmark, or None when the model lacks it."""
    entry = (model.get("workloads") or {}).get(workload, {}).get(engine)
    if entry is None:
        return None
    growth = entry["growth_fixed_bytes"] + entry["growth_bytes_per_scale"] * scale
    worker = entry.get("worker_fixed_bytes", 0) + entry.get("worker_bytes_per_scale", 0) * scale
    return int(model["worker_base_bytes"] + max(growth, worker))


def check(plan, available: int | None = None, model: dict | None = None) -> None:
    """Refuse the plan, in one line, when its largest benchmark would not fit."""
    model = load_model() if model is None else model
    if not model:
        return
    estimates = [
        (size, case.workload, case.engine, scale)
        for case in plan.cases()
        if (
            size := estimate_bytes(
                model, case.workload, case.engine, scale := case.scale_at(plan.scale)
            )
        )
        is not None
    ]
    if not estimates:
        return
    size, workload, engine, scale = max(estimates)
    free = available_bytes() if available is None else available
    if free is None:
        warnings.warn(
            "the memory available is unknown (no /proc/meminfo): the plan's memory check "
            f"is skipped; its largest benchmark needs about {size / GIB:.1f} GiB",
            stacklevel=2,
        )
        return
    if size > free:
        raise ResourceError(
            f"{workload} ({engine}) at scale {scale:g} needs about {size / GIB:.1f} GiB "
            f"(estimated from `bankbench memory`'s ratios), but {free / GIB:.1f} GiB is "
            "available: choose a smaller --scale, fewer workloads or engines, or fewer "
            "threads for weak scaling"
        )


def write_model(rows: list[dict]) -> dict:
    """The model from ``bankbench memory`` measurements at two or more scales: per workload
    and engine, the run's and a worker's peak RSS growth, each as fixed bytes plus bytes per
    unit of scale (a straight line through the measurements: at small scales the fixed part
    — code, tables of a constant size — dominates the ratio to the inputs and outputs)."""
    import numpy as np

    points: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    for r in rows:
        points.setdefault((r["workload"], r["engine"]), []).append(
            (r["scale"], r["rss_growth_bytes"], r["worker_peak_bytes"])
        )
    model = load_model() or {"workloads": {}, "worker_base_bytes": 0}
    workloads = model["workloads"]  # what was measured before stays, unless measured again
    for (workload, engine), measured in sorted(points.items()):
        scales = np.array([s for s, _, _ in measured])
        if len(set(scales)) < 2:
            raise BankbenchError("--write-model needs measurements at two scales or more")
        entry: dict = {"scales": sorted(set(scales.tolist()))}
        for name, column in (("growth", 1), ("worker", 2)):
            peaks = np.array([m[column] for m in measured], dtype=float)
            slope, fixed = np.polyfit(scales, peaks, 1)
            entry[f"{name}_bytes_per_scale"] = round(max(slope, 0))
            entry[f"{name}_fixed_bytes"] = round(max(fixed, 0))
        workloads.setdefault(workload, {})[engine] = entry
    model["worker_base_bytes"] = max(
        [model["worker_base_bytes"]] + [r["rss_before_bytes"] for r in rows]
    )
    MODEL.write_text(json.dumps(model, indent=1, sort_keys=True) + "\n")
    return model
