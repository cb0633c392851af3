"""Probes: the machine's physical limits, recorded with every run so that reports can say
what fraction of them a workload reaches (DESIGN.md "Probes").

- memory bandwidth: a[i] = b[i] + k·c[i] over three arrays far larger than the caches
  (STREAM's triad, in integers), bytes moved per second, one thread and all threads;
- random updates: read-modify-write of random words of a large table (GUPS-like), per second;
- call overhead: nanoseconds per call of an empty C function through cffi.
"""

from __future__ import annotations

import functools
import os
import time

import numpy as np

from native import lib
from workloads import _native


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def memory_bandwidth(words: int, threads: int, repeats: int = 3) -> float:
    """Bytes per second of the triad (3 words of traffic per element: 2 read, 1 written)."""
    a, b, c = (np.ones(words, dtype=np.uint64) for _ in range(3))
    pa, pb, pc = (_native.out_pointer(x) for x in (a, b, c))

    def triad() -> None:
        _native.run_ranges(
            words,
            threads,
            lambda begin, end: _native.check_status(
                lib.bb_probe_triad(pa, pb, pc, 3, begin, end), "bb_probe_triad"
            ),
        )

    return 3 * 8 * words / _best(triad, repeats)


def random_updates(log2_words: int, updates: int, threads: int = 1, repeats: int = 2) -> float:
    """Updates per second; with several threads each updates its own part of the table."""
    table = np.zeros(1 << log2_words, dtype=np.uint64)
    pointer = _native.out_pointer(table)
    parts = 1 << max(0, (threads - 1).bit_length())  # a power of two at least `threads`
    part_log2 = log2_words - parts.bit_length() + 1

    def update(part: int) -> None:
        rc = lib.bb_probe_random_update(
            pointer + (part << part_log2), part_log2, updates // threads, 42 + part
        )
        _native.check_status(rc, "bb_probe_random_update")

    seconds = _best(
        lambda: _native.run_parallel([functools.partial(update, p) for p in range(threads)]),
        repeats,
    )
    return updates // threads * threads / seconds


def call_overhead_ns(calls: int = 200_000) -> float:
    noop = lib.bb_probe_noop
    start = time.perf_counter()
    for _ in range(calls):
        noop()
    return (time.perf_counter() - start) / calls * 1e9


def run(size: str = "full") -> dict:
    """All probes. 'full': 3 × 256 MiB triad arrays and a 1 GiB update table; 'small': 3 × 32 MiB
    and 128 MiB, for smoke runs."""
    triad_words, table_log2 = ((32 << 20), 27) if size == "full" else ((4 << 20), 24)
    threads = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
    return {
        "probe_size": size,
        "memory_bandwidth_bytes_per_s_1t": memory_bandwidth(triad_words, 1),
        f"memory_bandwidth_bytes_per_s_{threads}t": memory_bandwidth(triad_words, threads),
        "random_updates_per_s_1t": random_updates(table_log2, 1 << 24),
        f"random_updates_per_s_{threads}t": random_updates(table_log2, 1 << 24, threads),
        "random_update_table_bytes": 8 << table_log2,
        "cffi_call_overhead_ns": call_overhead_ns(),
    }
