"""What the batched, sharded ledger workloads (ledger.post, ledger.smallbank, ledger.eod's
setup) share: the config table of their cell count, their batches (runs of equal batch
numbers) and their checks, and the runs of many batches through the C core: one C loop per
cell group over all batches; the groups claim each batch's cells (the first out of cells
plans the next batch) and meet at a C barrier twice a batch (see bb_batches in
native/include/bankcore.h)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from native import ffi, lib
from workloads import _native
from workloads.errors import InputError

CONFIG = {"cells": pa.uint32()}

# core instructions per row of one run, per core, what _native.threads_worth splits a run by
# (bench/serial_share_model.json at scale 0.05: ledger.post 111,581,598 over 125,149 transfers;
# ledger.smallbank 34,145,828 over 200,000 transactions)
INSTRUCTIONS_PER_ROW = {"bb_ledger": 891, "bb_smallbank": 170}


def config_table(cells: int) -> pa.Table:
    return pa.table({"cells": pa.array([cells], pa.uint32())})


def cells_of(config: pa.Table, workload: str) -> int:
    """The cell count of a one-row config table, checked."""
    cells = config.column("cells")[0].as_py() if config.num_rows == 1 else 0
    if not 1 <= cells <= lib.BB_CELLS_MAX:
        raise InputError(f"{workload} config: one row with cells in 1..{lib.BB_CELLS_MAX}")
    return cells


def check_batches(batch: np.ndarray, workload: str, table: str) -> None:
    """Batch numbers must not decrease (a batch is a run of equal numbers)."""
    falls = batch[1:] < batch[:-1]  # no widened copy: this runs on every call
    if falls.any():
        raise InputError(
            f"{workload} {table} row {int(np.argmax(falls)) + 1}: batch numbers must not decrease"
        )


def batch_bounds(batch: np.ndarray) -> list[tuple[int, int]]:
    """[begin, end) of each batch: runs of equal batch numbers."""
    if len(batch) == 0:
        return []
    changes = np.flatnonzero(batch[1:] != batch[:-1]) + 1  # no row-sized concatenation
    starts = np.concatenate([[0], changes])
    ends = np.concatenate([changes, [len(batch)]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def longest_batch(bounds: list[tuple[int, int]]) -> int:
    """The rows of the longest of the batches [begin, end) (0 when there are none)."""
    if not bounds:
        return 0
    rows = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
    return int((rows[:, 1] - rows[:, 0]).max())


class Batches:
    """The C description of a run's batches, with room for its plan (kept alive here): a row
    per row of the run, or (`slots`, bb_ledger_run only) batch-sized slots, 12 bytes a row
    less (bb_batches.plan_rows)."""

    def __init__(
        self,
        bounds: list[tuple[int, int]],
        cells: int,
        timestamps: np.ndarray | None = None,
        slots: bool = False,
    ):
        rows = bounds[-1][1] if bounds else 0
        given: dict[str, np.ndarray] = {
            "begin": np.array([b for b, _ in bounds], dtype=np.int64),
            "end": np.array([e for _, e in bounds], dtype=np.int64),
        }
        plan_rows = longest_batch(bounds) if slots else 0
        if timestamps is not None:
            given["timestamp"] = timestamps
        planned: dict[str, np.ndarray] = {
            "cell": np.empty(plan_rows or rows, dtype=np.int32),
            "order": np.empty(plan_rows * min(len(bounds), 3) or rows, dtype=np.int64),
            "start": np.empty(len(bounds) * (cells + 2), dtype=np.int64),
        }
        self._arrays = {**given, **planned}
        fields = {k: _native.pointer(v) for k, v in given.items()}
        fields.update({k: _native.out_pointer(v) for k, v in planned.items()})
        self.c = ffi.new(
            "bb_batches *", {**fields, "n": len(bounds), "cells": cells, "plan_rows": plan_rows}
        )


def run(
    bounds: list[tuple[int, int]],
    threads: int,
    cells: int,
    fields: dict,
    core: str,
    timestamps: np.ndarray | None = None,
    slots: bool = False,
) -> None:
    """The core's {core}_run on at most `threads` groups at once, no more than the cells
    (what the rows are worth, _native.threads_worth; the cells, not the groups, decide the
    answer), one parallel call of the pool (its task {core}_run_groups, whose
    {core}_run_task gets `fields` and the run's batches, groups and barrier). The failing
    group's status is raised (the others only report that they were aborted). `slots`: the
    plan in batch-sized slots (Batches)."""
    batches = Batches(bounds, cells, timestamps, slots)
    rows = bounds[-1][1] if bounds else 0
    groups = _native.threads_worth(rows, INSTRUCTIONS_PER_ROW[core], threads, parts_max=cells)
    barrier = _native.Barrier(groups, cells)
    task = ffi.new(
        f"{core}_run_task *",
        {**fields, "batches": batches.c, "groups": groups, "barrier": barrier.c},
    )
    _native.parallel_groups(f"{core}_run_groups", task, groups)
