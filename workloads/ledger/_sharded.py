"""Sharded runs of many batches through the C core (ledger.post, ledger.smallbank): every
batch planned first (a plan depends on the input only, so the threads split the batches),
then one C loop per cell group over all batches, the groups meeting at a C barrier twice a
batch (see bb_batches in native/include/bankcore.h)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from native import ffi, lib
from workloads import _native


class Barrier:
    """A C barrier for `parties` threads of one run (freed with the object)."""

    def __init__(self, parties: int):
        out = ffi.new("bb_barrier **")
        _native.check_status(lib.bb_barrier_new(parties, out), "bb_barrier_new")
        self.c = ffi.gc(out[0], lib.bb_barrier_free)


def run(
    bounds: list[tuple[int, int]],
    threads: int,
    cells: int,
    plan: Callable[[int, int], int],
    run_group: Callable[..., int],
    core: str,
    timestamps: np.ndarray | None = None,
) -> None:
    """plan(begin, end) each batch, then run_group(batches, group, groups, barrier) on
    min(threads, cells) threads; both return C statuses, of the core's {core}_plan and
    {core}_run. The failing thread's status is raised (the others only report that they
    were aborted)."""

    def plan_some(first: int, last: int) -> None:
        for begin, end in bounds[first:last]:
            _native.check_status(plan(begin, end), f"{core}_plan")

    _native.run_ranges(len(bounds), threads, plan_some)
    begins = np.array([b for b, _ in bounds], dtype=np.int64)
    ends = np.array([e for _, e in bounds], dtype=np.int64)
    batches = ffi.new(
        "bb_batches *",
        {
            "begin": _native.pointer(begins),
            "end": _native.pointer(ends),
            "timestamp": ffi.NULL if timestamps is None else _native.pointer(timestamps),
            "n": len(bounds),
        },
    )
    groups = min(threads, cells)
    barrier = Barrier(groups)
    codes = [lib.BB_OK] * groups

    def one(group: int) -> None:
        codes[group] = run_group(batches, group, groups, barrier.c)

    _native.run_parallel([functools.partial(one, g) for g in range(groups)])
    failed = [c for c in codes if c not in (lib.BB_OK, lib.BB_ABORTED)]
    _native.check_status(failed[0] if failed else max(codes), f"{core}_run")
