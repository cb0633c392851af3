"""Workloads by dotted name: ``registry.get("loan.score")``, ``registry.names()``."""

from __future__ import annotations

import fnmatch

from workloads._base import BATCHING, CAPACITY, ONLINE, Workload
from workloads.errors import UnknownNameError

_WORKLOADS: dict[str, Workload] = {}


def register(workload: Workload) -> Workload:
    assert workload.name and workload.name not in _WORKLOADS, workload.name
    kinds, cls = workload.kinds(), type(workload)
    # a declared benchmark kind needs the method it drives
    for kind, method in (
        (ONLINE, "online"),
        (CAPACITY, "online"),
        (CAPACITY, "serve_shards"),
        (BATCHING, "batched"),
    ):
        assert kind not in kinds or getattr(cls, method) is not getattr(Workload, method), (
            f"{workload.name} declares {kind} benchmarks but no {method}()"
        )
    for declared in workload.benchmarks:
        assert set(declared.engines or ()) <= set(workload.engines), (workload.name, declared)
    _WORKLOADS[workload.name] = workload
    return workload


def _load() -> None:
    # each package registers its workloads on import (once: Python caches modules), also
    # when another workload registered itself first
    import workloads.ledger  # noqa: F401
    import workloads.loan  # noqa: F401


def names() -> list[str]:
    _load()
    return sorted(_WORKLOADS)


def get(name: str) -> Workload:
    _load()
    if name not in _WORKLOADS:
        raise UnknownNameError(f"unknown workload '{name}'; valid: {', '.join(names())}")
    return _WORKLOADS[name]


def select(patterns: list[str] | None) -> list[Workload]:
    """Workloads matching names or globs (``loan.*``); all when patterns is empty."""
    if not patterns:
        return [get(n) for n in names()]
    chosen: list[str] = []
    for pattern in patterns:
        matches = fnmatch.filter(names(), pattern)
        if not matches:
            raise UnknownNameError(f"no workload matches '{pattern}'; valid: {', '.join(names())}")
        chosen += [m for m in matches if m not in chosen]
    return [get(n) for n in chosen]
