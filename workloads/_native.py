"""The boundary to the C core: status codes → exceptions, Arrow/numpy buffers → C pointers,
and parallel calls: a C task handed whole to the core's worker pool (native/src/pool.c), one
C call that releases the GIL once; no Python runs on a worker thread."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa

from native import ffi, lib
from workloads.errors import NativeError

assert sys.byteorder == "little", "canonical output bytes are little-endian"

STATUS_NAMES = {
    lib.BB_OK: "BB_OK",
    lib.BB_INVALID_ARGUMENT: "BB_INVALID_ARGUMENT",
    lib.BB_OUT_OF_MEMORY: "BB_OUT_OF_MEMORY",
    lib.BB_EVENTS_NOT_ORDERED: "BB_EVENTS_NOT_ORDERED",
    lib.BB_RANGE_OUT_OF_BOUNDS: "BB_RANGE_OUT_OF_BOUNDS",
    lib.BB_RECONCILIATION_FAILED: "BB_RECONCILIATION_FAILED",
    lib.BB_ABORTED: "BB_ABORTED",
    lib.BB_THREADS_UNAVAILABLE: "BB_THREADS_UNAVAILABLE",
}

_C_TYPES = {
    np.dtype(np.uint8): "uint8_t[]",
    np.dtype(np.uint16): "uint16_t[]",
    np.dtype(np.uint32): "uint32_t[]",
    np.dtype(np.uint64): "uint64_t[]",
    np.dtype(np.int32): "int32_t[]",
    np.dtype(np.int64): "int64_t[]",
}


def check_status(code: int, call: str) -> None:
    """The one place a C status becomes an exception (PyNaCl's ensure())."""
    if code != lib.BB_OK:
        name = STATUS_NAMES.get(code, f"unknown status {code}")
        raise NativeError(f"C core call {call} failed with {name}", code, name)


def pointer(array: np.ndarray):
    """A C pointer to a contiguous numpy array, without copying."""
    assert array.flags.c_contiguous, "C receives contiguous columns only"
    return ffi.from_buffer(_C_TYPES[array.dtype], array, require_writable=False)


def out_pointer(array: np.ndarray):
    assert array.flags.c_contiguous and array.flags.writeable
    return ffi.from_buffer(_C_TYPES[array.dtype], array, require_writable=True)


def single_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The column as one Arrow array (combined from several chunks only when the table
    arrived chunked)."""
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def column_view(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A zero-copy numpy view of a null-free primitive Arrow column."""
    return single_array(column).to_numpy(zero_copy_only=True)


def nullable_column_view(array: pa.Array) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Zero-copy views of a primitive Arrow array that may hold nulls: (values, validity
    bitmap or None when nothing is null, the bit of row 0 in the bitmap). The values under
    a null are whatever the buffer holds: read them only where the bitmap says present."""
    dtype = np.dtype(array.type.to_pandas_dtype())
    validity, data = array.buffers()[:2]
    values = (
        np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)
        if len(array)
        else np.empty(0, dtype=dtype)
    )
    return values, *validity_view(array)


def validity_view(array: pa.Array) -> tuple[np.ndarray | None, int]:
    """An Arrow array's validity bitmap, zero copy (bit set = value present, least
    significant bit first), and the bit of row 0 in it (the array's offset); (None, 0) when
    no value is null."""
    if array.null_count == 0:
        return None, 0
    return np.frombuffer(array.buffers()[0], dtype=np.uint8), array.offset


def split_ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """[0, n) in `parts` contiguous ranges of near-equal size (the first ones one longer)."""
    parts = max(1, min(parts, n)) if n else 1
    base, extra = divmod(n, parts)
    ranges, begin = [], 0
    for part in range(parts):
        end = begin + base + (1 if part < extra else 0)
        ranges.append((begin, end))
        begin = end
    return ranges


# The least work worth a part of its own. A parallel call costs 0.5 µs on one thread, 1.1 µs
# on 2 and 67 µs on 8 of a 2-core host (`bankbench probe`, parallel_call_ns: more threads than
# cores wait for a time slice), and waking a parked worker on a quiet VM ~56 µs
# (docs/performance.md). 4,000,000 instructions are ~1.3 ms at ~3 a nanosecond: those costs
# stay under 5 % of one part. At 2,000,000 the smoke profile's ledger.post (4.5 million in
# one batch, two barriers: 0.90 → 3.97 ms) and ledger.eod (7 million: 1.74 → 1.81 ms) still
# ran on 2 threads, no faster than on 1.
PART_INSTRUCTIONS_MIN = 4_000_000


class Splits(list):
    """The threads threads_worth gave each parallel call of a block, in order, and beside
    them (`instructions`) the work each call was worth and (`parts`) the most parts it can
    split into at any thread count: its units, or fewer where its cells or groups say so
    (8 cells hold a ledger call to 8 threads on a 128-core server; bench/serial_share.py
    bounds the speed-up with it)."""

    def __init__(self) -> None:
        super().__init__()
        self.instructions: list[int] = []
        self.parts: list[int] = []
        # the core's clock inside the block's parallel calls, all of them: the rest of the
        # block is the calling thread alone (Python, serial C), which no thread count speeds up
        self.parallel_ns = 0

    def threads_used(self, asked: int) -> int:
        """The threads the block's work ran on, each call weighted by its work (a call held
        to 4 threads and a short one of its own worth 11 ran on 4): what a
        run's efficiency divides by; `asked` when the block made no parallel call."""
        if not self:
            return asked
        work = sum(self.instructions)
        if work == 0:
            return max(self)
        weighted = sum(t * w for t, w in zip(self, self.instructions, strict=True)) / work
        return max(1, min(max(self), int(weighted + 0.5)))


_THREADS_USED: list[Splits] = []  # per open threads_counted(): each call's threads and work


def threads_worth(
    units: int, instructions_per_unit: int, threads_asked: int, parts_max: int | None = None
) -> int:
    """The threads a parallel call of `units` units of `instructions_per_unit` each is
    worth: at most `threads_asked`, at least 1, no more than parts of at least
    PART_INSTRUCTIONS_MIN instructions each, and no more than the parts the call can split
    into (`parts_max`: its cells, chunks or groups; by default its units), so what it
    records is the threads the call runs on. The one rule every C workload's parallel call
    goes through (it only decides how many threads share a call, never what they compute);
    what it gives is counted by threads_counted."""
    assert threads_asked >= 1 and units >= 0 and instructions_per_unit >= 0
    parts = min(units * instructions_per_unit // PART_INSTRUCTIONS_MIN, units)
    if parts_max is not None:
        parts = min(parts, parts_max)
    threads = max(1, min(threads_asked, parts))
    most = max(1, units if parts_max is None else min(units, parts_max))
    for counted in _THREADS_USED:
        counted.append(threads)
        counted.instructions.append(units * instructions_per_unit)
        counted.parts.append(most)
    assert 1 <= threads <= threads_asked
    return threads


@contextlib.contextmanager
def threads_counted() -> Iterator[Splits]:
    """The threads threads_worth gave each parallel call made inside the block, in order
    (empty: the block made none), so a run can say it used fewer threads than asked."""
    counted = Splits()
    _THREADS_USED.append(counted)
    try:
        yield counted
    finally:
        del _THREADS_USED[next(i for i, c in enumerate(_THREADS_USED) if c is counted)]


@contextlib.contextmanager
def parallel_call() -> Iterator[None]:
    """Adds the time of the block, one call of the core that splits its work over the pool
    (the parallel_* below, and calls that take a thread count), to each open
    threads_counted block: the rest of that block is the calling thread alone."""
    if not _THREADS_USED:
        yield
        return
    start = lib.bb_now_ns()
    try:
        yield
    finally:
        elapsed = lib.bb_now_ns() - start
        for counted in _THREADS_USED:
            counted.parallel_ns += elapsed


def parallel_ranges(task: str, args, n: int, threads: int) -> None:
    """The C task `task`(args, begin, end) over [0, n) in min(threads, n) near-equal
    contiguous ranges on the pool's threads (uniform work), each run in pieces: a thread done
    with its own range runs the pieces left of the others' (pool_policy())."""
    with parallel_call():
        code = lib.bb_parallel_ranges(getattr(lib, task), args, n, threads)
    _check_parallel(code, task, threads)


def plugin_parallel_ranges(plugin_ffi, plugin_lib, task: str, args, n: int, threads: int) -> int:
    """A plugin's range task over [0, n) on the core's pool, as parallel_ranges runs the
    core's own: `task` names a bb_task_fn its extension (`plugin_ffi`, `plugin_lib`) exports,
    `args` is its argument struct (the caller keeps it and the arrays it points to alive).
    Both cross to the core's FFI as plain addresses: nothing is linked. Returns the first
    failing range's status (the plugin's own codes, any but the pool's
    BB_THREADS_UNAVAILABLE, 7) or 0; a pool that cannot start the threads raises."""
    address = int(plugin_ffi.cast("uintptr_t", plugin_ffi.addressof(plugin_lib, task)))
    pointer_to_args = ffi.cast("const void *", int(plugin_ffi.cast("uintptr_t", args)))
    with parallel_call():
        code = lib.bb_parallel_ranges(ffi.cast("bb_task_fn", address), pointer_to_args, n, threads)
    if code == lib.BB_THREADS_UNAVAILABLE:
        _check_parallel(code, task, threads)
    return code


def pool_policy() -> str:
    """In words, how the pool shares a call and waits between calls: the run's record, since
    both change what a thread-scaling figure measures."""
    idle_yield_us = lib.bb_pool_set_idle_yield_ns(-1) / 1000
    return (
        f"ranges in up to {lib.BB_POOL_RANGE_PIECES} pieces a thread, a thread done with its own "
        "runs pieces left of the others'; between calls, a worker with a CPU of its own yields "
        f"it for up to {idle_yield_us:,.0f} µs before it sleeps "
        f"({lib.BB_POOL_WAIT_YIELD_NS / 1000:,.0f} µs after a call with more threads than CPUs)"
    )


class Barrier:
    """A C barrier where the `parties` groups of one parallel_groups call meet (a sharded
    run's, over `cells` cells, also hands out their tasks; freed with it)."""

    def __init__(self, parties: int, cells: int = 1):
        out = ffi.new("bb_barrier **")
        check_status(lib.bb_barrier_new(parties, cells, out), "bb_barrier_new")
        self.c = ffi.gc(out[0], lib.bb_barrier_free)


def parallel_groups(task: str, args, groups: int) -> None:
    """The C task on [g, g + 1) for each group g, every group on its own thread at once
    (they may meet at a barrier)."""
    with parallel_call():
        code = lib.bb_parallel_groups(getattr(lib, task), args, groups)
    _check_parallel(code, task, groups)


def parallel_chunks(task: str, args, n: int, chunk: int, threads: int) -> None:
    """The C task over [0, n) in chunks of `chunk` that `threads` threads claim in turn
    (uneven work: a slowed thread takes fewer chunks)."""
    with parallel_call():
        code = lib.bb_parallel_chunks(getattr(lib, task), args, n, chunk, threads)
    _check_parallel(code, task, threads)


def _check_parallel(code: int, task: str, threads: int) -> None:
    if code == lib.BB_THREADS_UNAVAILABLE:
        raise NativeError(
            f"could not start {threads} threads for {task}: ask for fewer threads (-t) or "
            "raise the process limit (ulimit -u)",
            code,
            STATUS_NAMES[code],
        )
    check_status(code, task)


_PLACEMENT: list[int] = []  # CPUs for the Python task threads, in order (bankbench run --pin)


def pin_threads(cpus: list[int]) -> None:
    """Pin part i of every parallel call to cpus[i % len(cpus)] (Linux): the pool's threads
    once, and the task threads of run_parallel; [] undoes it."""
    check_status(lib.bb_pool_place(ffi.new("int32_t[]", cpus), len(cpus)), "bb_pool_place")
    _PLACEMENT[:] = cpus


def first_touch(array: np.ndarray, threads: int) -> np.ndarray:
    """Zero a C-contiguous array by rows in the ranges parallel_ranges(len(array), threads)
    gives, each range by the pool thread that runs that part (none taken by the caller), so
    Linux puts its pages on that thread's NUMA node; the CPU each part ran on (-1: unknown)."""
    assert array.flags.c_contiguous and array.flags.writeable
    rows = len(array)
    cpus = np.full(max(1, min(threads, rows)), -1, dtype=np.int32)
    code = lib.bb_parallel_first_touch(
        ffi.from_buffer("uint8_t[]", array, require_writable=True),
        rows,
        array.nbytes // rows if rows else max(1, array.itemsize),
        threads,
        out_pointer(cpus),
    )
    _check_parallel(code, "bb_parallel_first_touch", threads)
    return cpus


def first_touch_rows(arrays: list[np.ndarray], threads: int) -> None:
    """First touch of a row-parallel call's outputs (first_touch), where placement is asked
    for: a pinned run (bankbench run --pin) of more than one thread. Unpinned, the pages stay
    where the allocator or the first write puts them (on a one-node host, anywhere is the
    same)."""
    if _PLACEMENT and threads > 1:
        for array in arrays:
            first_touch(array, threads)


def _pinned(task: Callable[[], None], cpu: int) -> Callable[[], None]:
    def run() -> None:
        os.sched_setaffinity(0, {cpu})  # 0: the calling thread, on Linux
        task()

    return run


def run_parallel(tasks: list[Callable[[], None]]) -> None:
    """Python tasks on their own threads (one task runs inline); the first error is raised.
    For the NumPy peers only, whose work is Python: C work goes to parallel_ranges or
    parallel_chunks."""
    if _PLACEMENT:
        tasks = [_pinned(t, _PLACEMENT[i % len(_PLACEMENT)]) for i, t in enumerate(tasks)]
    if len(tasks) == 1:
        tasks[0]()
        return
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()


def run_ranges(n: int, threads: int, kernel: Callable[[int, int], None]) -> None:
    """Call the Python kernel(begin, end) on `threads` contiguous slices of [0, n) in
    parallel (the NumPy peers)."""
    run_parallel([functools.partial(kernel, b, e) for b, e in split_ranges(n, threads)])
