"""Golden digests: per workload a canonical (seed, scale, digest) computed by the Python
reference. Every engine, thread count and CPU architecture must reproduce it."""

from __future__ import annotations

import json
import pathlib

from workloads import registry
from workloads.errors import InputError

PATH = pathlib.Path(__file__).resolve().parent / "golden.json"
CANONICAL_SEED = 42
CANONICAL_SCALE = 0.01  # small enough for the reference and for emulated aarch64


def load(path: pathlib.Path = PATH) -> dict[str, dict]:
    try:
        return json.loads(path.read_text())["workloads"]
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"cannot read golden digests {path}: {error}") from None


def compute(name: str, seed: int = CANONICAL_SEED, scale: float = CANONICAL_SCALE) -> dict:
    workload = registry.get(name)
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


def write(names: list[str], path: pathlib.Path = PATH) -> dict[str, dict]:
    """Recompute the named workloads' goldens with the reference, keep the others."""
    golden = load(path) if path.exists() else {}
    for name in names:
        golden[name] = compute(name)
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
    return golden
