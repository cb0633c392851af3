"""Golden digests: per workload a canonical (seed, scale, digest) computed by the Python
reference. Every engine, thread count and CPU architecture must reproduce it."""

from __future__ import annotations

import json
import pathlib

from workloads import registry
from workloads._base import CANONICAL_SCALE, CANONICAL_SEED, GOLDEN_PATH, Workload
from workloads.errors import InputError

PATH = GOLDEN_PATH  # the built-in workloads' file; a workload declares its own (golden_path)
__all__ = [
    "CANONICAL_SCALE",
    "CANONICAL_SEED",
    "PATH",
    "compute",
    "compute_for",
    "entry",
    "load",
    "write",
    "write_entry",
]


def load(path: pathlib.Path = PATH) -> dict[str, dict]:
    try:
        return json.loads(path.read_text())["workloads"]
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"cannot read golden digests {path}: {error}") from None


def entry(workload: Workload) -> dict | None:
    """The workload's golden entry (seed, scale, units, digest) from the file it declares,
    or None: none recorded, or recorded for another version of the workload."""
    if not workload.golden_path.exists():
        return None
    found = load(workload.golden_path).get(workload.name)
    return found if found and found["version"] == workload.version else None


def compute(name: str, seed: int = CANONICAL_SEED, scale: float = CANONICAL_SCALE) -> dict:
    return compute_for(registry.get(name), seed, scale)


def compute_for(
    workload: Workload, seed: int = CANONICAL_SEED, scale: float = CANONICAL_SCALE
) -> dict:
    inputs = workload.generate(scale=scale, seed=seed)
    outputs = workload.run(inputs, engine="python", threads=1)
    workload.check(inputs, outputs)
    return {
        "version": workload.version,
        "seed": seed,
        "scale": scale,
        "units": workload.units(inputs),
        "digest": workload.digest(outputs),
    }


def write(names: list[str], path: pathlib.Path | None = None) -> dict[str, dict]:
    """Recompute the named workloads' goldens with the reference, keep the others; each goes
    to the file its workload declares (or to ``path``). Returns the named ones' entries."""
    written: dict[str, dict] = {}
    for name in names:
        target = path or registry.get(name).golden_path
        golden = load(target) if target.exists() else {}
        golden[name] = written[name] = compute(name)
        _write_file(target, golden)
    return written


def write_entry(workload: Workload) -> dict:
    """One workload's golden, from its reference, into the file it declares (a workload not
    registered yet: a plugin scaffold before it is installed)."""
    target = workload.golden_path
    golden = load(target) if target.exists() else {}
    golden[workload.name] = computed = compute_for(workload)
    _write_file(target, golden)
    return computed


def _write_file(path: pathlib.Path, golden: dict[str, dict]) -> None:
    path.write_text(
        json.dumps(
            {
                "comment": "computed by the Python reference; see workloads/golden.py",
                "workloads": dict(sorted(golden.items())),
            },
            indent=1,
        )
        + "\n"
    )
