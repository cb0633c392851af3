"""Sharded runs of many batches through the C core (ledger.post, ledger.smallbank): one C
loop per cell group over all batches; the groups claim each batch's cells (the first out of
cells plans the next batch) and meet at a C barrier twice a batch (see bb_batches in
native/include/bankcore.h)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from native import ffi, lib
from workloads import _native


class Barrier:
    """A C barrier for `parties` threads of one run over `cells` cells (freed with it)."""

    def __init__(self, parties: int, cells: int):
        out = ffi.new("bb_barrier **")
        _native.check_status(lib.bb_barrier_new(parties, cells, out), "bb_barrier_new")
        self.c = ffi.gc(out[0], lib.bb_barrier_free)


class Batches:
    """The C description of a run's batches, with room for its plan (kept alive here)."""

    def __init__(
        self, bounds: list[tuple[int, int]], cells: int, timestamps: np.ndarray | None = None
    ):
        rows = bounds[-1][1] if bounds else 0
        given: dict[str, np.ndarray] = {
            "begin": np.array([b for b, _ in bounds], dtype=np.int64),
            "end": np.array([e for _, e in bounds], dtype=np.int64),
        }
        if timestamps is not None:
            given["timestamp"] = timestamps
        planned: dict[str, np.ndarray] = {
            "cell": np.empty(rows, dtype=np.int32),
            "order": np.empty(rows, dtype=np.int64),
            "start": np.empty(len(bounds) * (cells + 2), dtype=np.int64),
        }
        self._arrays = {**given, **planned}
        fields = {k: _native.pointer(v) for k, v in given.items()}
        fields.update({k: _native.out_pointer(v) for k, v in planned.items()})
        self.c = ffi.new("bb_batches *", {**fields, "n": len(bounds), "cells": cells})


def run(
    bounds: list[tuple[int, int]],
    threads: int,
    cells: int,
    run_group: Callable[..., int],
    core: str,
    timestamps: np.ndarray | None = None,
) -> None:
    """run_group(batches, group, groups, barrier) on min(threads, cells) threads: the
    core's {core}_run, returning a C status. The failing thread's status is raised (the
    others only report that they were aborted)."""
    batches = Batches(bounds, cells, timestamps)
    groups = min(threads, cells)
    barrier = Barrier(groups, cells)
    codes = [lib.BB_OK] * groups

    def one(group: int) -> None:
        codes[group] = run_group(batches.c, group, groups, barrier.c)

    _native.run_parallel([functools.partial(one, g) for g in range(groups)])
    failed = [c for c in codes if c not in (lib.BB_OK, lib.BB_ABORTED)]
    _native.check_status(failed[0] if failed else max(codes), f"{core}_run")
