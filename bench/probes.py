"""Probes: the machine's physical limits, recorded with every run so that reports can say
what fraction of them a workload reaches (DESIGN.md "Probes").

- memory bandwidth: a[i] = b[i] + k·c[i] over three arrays far larger than the caches
  (STREAM's triad, in integers), bytes moved per second, one thread and all threads;
- random updates: read-modify-write of random words of a large table (GUPS-like), per second;
- compute: shared-nothing integer work on 1 and 2 threads in alternating pairs, the CPUs'
  own ceiling (a VM's vCPUs that share cores or a busy host give 2 threads less than 2×);
- call overhead: nanoseconds per call of an empty C function through cffi;
- dispatch: nanoseconds per empty parallel call of the core's worker pool at 1, 2, the CPU
  count and 4× the CPU count threads: what every parallel call pays before any work, beside
  the scaling curve it limits;
- hand-over: nanoseconds per round trip of two threads on one CPU handing a turn back and
  forth the way the pool hands a part to a worker (two hand-overs: a yield and a switch
  each, a wake-up where the waiter had gone to sleep). A call
  with more threads than CPUs must hand each of its workers a CPU at least once, so
  (threads - 1) hand-overs shared over the CPUs is a floor under its dispatch (a model).
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from bench.plan import usable_cpus
from native import ffi, lib
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
    task = ffi.new("bb_probe_triad_task *", {"a": pa, "b": pb, "c": pc, "k": 3})

    def triad() -> None:
        _native.parallel_ranges("bb_probe_triad_rows", task, words, threads)

    return 3 * 8 * words / _best(triad, repeats)


def random_updates(log2_words: int, updates: int, threads: int = 1, repeats: int = 2) -> float:
    """Updates per second; with several threads each updates its own part of the table."""
    table = np.zeros(1 << log2_words, dtype=np.uint64)
    pointer = _native.out_pointer(table)
    parts = 1 << max(0, (threads - 1).bit_length())  # a power of two at least `threads`
    part_log2 = log2_words - parts.bit_length() + 1
    task = ffi.new(
        "bb_probe_update_task *",
        {
            "table": pointer,
            "part_log2": part_log2,
            "updates_per_part": updates // threads,
            "seed": 42,
        },
    )

    def update() -> None:
        _native.parallel_ranges("bb_probe_random_update_parts", task, threads, threads)

    return updates // threads * threads / _best(update, repeats)


# the compute probe: one call is COMPUTE_UNITS units of COMPUTE_STEPS rounds (20-25 ms on
# one core of this project's 2-vCPU CI host), timed in COMPUTE_PAIRS pairs; around each
# multi-thread benchmark (bench/suite), CEILING_PAIRS pairs of calls a quarter as long
COMPUTE_UNITS = 256
COMPUTE_STEPS = 15_000
COMPUTE_PAIRS = 9
CEILING_PAIRS = 3


def _compute_pairs(threads: int, pairs: int, steps: int) -> tuple[list[float], list[float], int]:
    """Seconds of ``pairs`` calls of shared-nothing integer work at 1 thread and at
    ``threads``, alternating, the order turned each pair so a drift of the host's speed
    cancels; and the units of one call."""
    units = max(COMPUTE_UNITS, 8 * threads)  # pieces enough for every thread
    out = np.zeros(units, dtype=np.uint64)
    task = ffi.new("bb_probe_compute_task *", {"out": _native.out_pointer(out), "steps": steps})

    def call_s(t: int) -> float:
        start = time.perf_counter()
        _native.parallel_ranges("bb_probe_compute_units", task, units, t)
        return time.perf_counter() - start

    call_s(1), call_s(threads)  # warm: the pool's threads started, the code paged in
    one_s, many_s = [], []
    for pair in range(pairs):
        order = (1, threads) if pair % 2 == 0 else (threads, 1)
        timed = {t: call_s(t) for t in order}
        one_s.append(timed[1])
        many_s.append(timed[threads])
    return one_s, many_s, units


def _efficiencies(one_s: list[float], many_s: list[float], threads: int) -> list[float]:
    return [one / (threads * many) for one, many in zip(one_s, many_s, strict=True)]


def compute(threads: int, pairs: int = COMPUTE_PAIRS) -> dict:
    """The host's compute ceiling at ``threads``: shared-nothing integer work (no memory
    traffic, no shared data) in alternating pairs of a 1-thread and a ``threads``-thread
    call. Units per second at 1 and at ``threads`` (medians over the pairs), and the lowest
    and the highest pair's efficiency: how far the host's CPUs swing over a few tens of
    milliseconds, the time of one benchmark round. A server with a core per thread gives
    ~100 %; a VM whose vCPUs share cores or hosts with neighbours gives less, and no workload
    beats the CPUs it is given."""
    one_s, many_s, units = _compute_pairs(threads, pairs, COMPUTE_STEPS)
    efficiencies = _efficiencies(one_s, many_s, threads)
    return {
        "compute_units_per_s_1t": units / statistics.median(one_s),
        f"compute_units_per_s_{threads}t": units / statistics.median(many_s),
        f"compute_efficiency_{threads}t_low": min(efficiencies),
        f"compute_efficiency_{threads}t_high": max(efficiencies),
    }


def compute_ceiling(threads: int, pairs: int = CEILING_PAIRS) -> list[float]:
    """The compute probe's efficiency at ``threads`` in each of ``pairs`` short pairs: taken
    right before and after a benchmark's rounds, the host's ceiling while it ran (the host
    moves over seconds, so the run's own probe, minutes earlier, may not say)."""
    one_s, many_s, _ = _compute_pairs(threads, pairs, COMPUTE_STEPS // 4)
    return _efficiencies(one_s, many_s, threads)


def call_overhead_ns(calls: int = 200_000) -> float:
    noop = lib.bb_probe_noop
    start = time.perf_counter()
    for _ in range(calls):
        noop()
    return (time.perf_counter() - start) / calls * 1e9


def _per_call_ns(call, calls: int, repeats: int) -> float:
    """Nanoseconds per call of the fastest of `repeats` loops of `calls` calls."""
    return _best(lambda: [call() for _ in range(calls)], repeats) / calls * 1e9


_EMPTY_TASK = ffi.addressof(lib, "bb_probe_empty_task")  # looked up once: not in a timed call


def _empty_call(threads: int) -> None:
    """One empty parallel call on `threads` threads, each running its own (empty) part
    (bb_parallel_groups: no part is left for the caller to run)."""
    code = lib.bb_parallel_groups(_EMPTY_TASK, ffi.NULL, threads)
    _native.check_status(code, "bb_parallel_groups")


def parallel_call_ns(threads: int, calls: int = 200, repeats: int = 5) -> float:
    """Nanoseconds of one empty parallel call of the pool on `threads` threads (_empty_call),
    through cffi: the pool's dispatch cost, a wake-up and a finish per thread. Its threads
    are started first."""
    _empty_call(threads)
    return _per_call_ns(lambda: _empty_call(threads), calls, repeats)


# the Python a workload runs between two parallel calls (0.14-3.7 ms at the quick profile):
# a 2-thread call after this much, its workers still yielding (docs/performance.md, stop 40)
BUSY_GAP_S = 1e-3


def parallel_call_after_ns(threads: int, *, asleep: bool, calls: int = 15) -> float:
    """Median nanoseconds of an empty call of `threads` groups (every part on its own
    thread) after the caller was busy for BUSY_GAP_S, as between a workload's calls (its
    workers still yield), or, asleep, after it slept past the pool's yielding (its workers
    asleep: the call wakes idle CPUs, a cost of the machine and its hypervisor)."""
    slept_s = lib.bb_pool_set_idle_yield_ns(-1) / 1e9 + 5e-3
    times = []
    _empty_call(threads)
    for _ in range(calls):
        if asleep:
            time.sleep(slept_s)
        else:
            until = time.perf_counter() + BUSY_GAP_S
            while time.perf_counter() < until:
                pass
        start = time.perf_counter_ns()
        _empty_call(threads)
        times.append(time.perf_counter_ns() - start)
    return float(statistics.median(times))


def thread_pool_call_ns(threads: int, calls: int = 20, repeats: int = 3) -> float:
    """Nanoseconds of one call of the parallel path before the pool (a Python
    ThreadPoolExecutor per call, one task each, as workloads/_native.run_parallel did) with
    tasks that do nothing: the 'before' column of the dispatch table, measured, not quoted."""
    tasks = [lib.bb_probe_noop] * threads

    def call() -> None:
        if threads == 1:
            tasks[0]()
            return
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for future in [pool.submit(task) for task in tasks]:
                future.result()

    return _per_call_ns(call, calls, repeats)


def handover_round_trip_ns(round_trips: int = 2000, repeats: int = 3) -> float | None:
    """Nanoseconds of one round trip (two hand-overs through the pool's own waiting: a yield
    and a switch each) between two threads pinned to one CPU, the fastest of `repeats`; None
    where threads cannot be pinned."""
    elapsed = ffi.new("int64_t *")
    best = float("inf")
    for _ in range(repeats):
        _native.check_status(lib.bb_probe_handovers(round_trips, elapsed), "bb_probe_handovers")
        if elapsed[0] < 0:
            return None
        best = min(best, elapsed[0] / round_trips)
    return best


def dispatch_floor_ns(threads: int, cpus: int, round_trip_ns: float | None) -> float | None:
    """The least an empty call on more threads than CPUs costs by this model: each of its
    threads - 1 workers is handed a CPU once (half a round trip: a yield and a switch), the
    hand-overs shared over the CPUs. None where the call has a CPU per thread (its workers
    need not give up a CPU) or the round trip is unknown."""
    if round_trip_ns is None or threads <= cpus:
        return None
    return (threads - 1) * (round_trip_ns / 2) / cpus


def dispatch_thread_counts(cpus: int) -> list[int]:
    """1, 2, the CPU count and 4× it: the counts the dispatch probe records."""
    return sorted({1, 2, cpus, 4 * cpus})


def dispatch(cpus: int) -> dict:
    """The empty call's cost at each probed thread count, the hand-over round trip, and the
    floor it sets where a call has more threads than the `cpus`."""
    counts = dispatch_thread_counts(cpus)
    round_trip_ns = handover_round_trip_ns()
    floors = {t: dispatch_floor_ns(t, cpus, round_trip_ns) for t in counts}
    # between calls: only where 2 threads have a CPU each (else they share one, and wait
    # for each other, not for a CPU to wake)
    between = (
        {
            "parallel_call_after_busy_ns_2t": parallel_call_after_ns(2, asleep=False),
            "parallel_call_woken_ns_2t": parallel_call_after_ns(2, asleep=True),
        }
        if cpus >= 2
        else {}
    )
    return {
        **{f"parallel_call_ns_{t}t": parallel_call_ns(t) for t in counts},
        "handover_round_trip_ns": round_trip_ns,
        "dispatch_cpus": cpus,
        **{f"dispatch_floor_ns_{t}t": floor for t, floor in floors.items() if floor is not None},
        **between,
    }


def dispatch_table(thread_counts: list[int]) -> list[dict]:
    """Before and after, in one run on this host: per thread count, the ns of an empty
    parallel call through a Python thread pool per call and through the core's pool, and the
    floor under the latter (dispatch_floor_ns; None where there is none)."""
    cpus = usable_cpus()
    round_trip_ns = handover_round_trip_ns()
    return [
        {
            "threads": t,
            "thread_pool_ns": thread_pool_call_ns(t),
            "native_pool_ns": parallel_call_ns(t),
            "floor_ns": dispatch_floor_ns(t, cpus, round_trip_ns),
            "cpus": cpus,
            "handover_round_trip_ns": round_trip_ns,
        }
        for t in thread_counts
    ]


def run(size: str = "full") -> dict:
    """All probes. 'full': 3 × 256 MiB triad arrays and a 1 GiB update table; 'small': 3 × 32 MiB
    and 128 MiB, for smoke runs."""
    triad_words, table_log2 = ((32 << 20), 27) if size == "full" else ((4 << 20), 24)
    threads = usable_cpus()
    # 2 threads too: the probe's 2-thread efficiency bounds a memory-bound workload's
    # (bench/scaling.two_thread_evidence)
    counts = sorted({1, 2, threads})
    return {
        "probe_size": size,
        **{f"memory_bandwidth_bytes_per_s_{t}t": memory_bandwidth(triad_words, t) for t in counts},
        **{f"random_updates_per_s_{t}t": random_updates(table_log2, 1 << 24, t) for t in counts},
        "random_update_table_bytes": 8 << table_log2,
        **compute(2),
        "cffi_call_overhead_ns": call_overhead_ns(),
        **dispatch(threads),
    }
