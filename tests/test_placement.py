"""Worker placement (issue 23, item 5): the pool's first touch (bb_parallel_first_touch) zeroes
each range of a row-parallel call's outputs on the thread that will write it, pinned threads
run their parts on their CPUs also far above the core count (4, 16, 64 threads on this 2-CPU
host), the answers stay the reference's, and the run records each pinned worker's NUMA node."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bench import fingerprint, run
from native import ffi, lib
from workloads import _native, registry

THREADS = (1, 2, 3, 4, 16, 64)


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("rows", [0, 1, 5, 1000, 4099])
def test_first_touch_zeroes_every_row_in_the_ranges_parallel_ranges_gives(rows, threads):
    array = np.full(rows, -1, dtype=np.int64)
    cpus = _native.first_touch(array, threads)
    assert not array.any()
    assert len(cpus) == max(1, min(threads, rows))  # a part per range, as parallel_ranges
    assert all(c >= 0 for c in cpus)  # sched_getcpu on Linux
    # odd item sizes too: a row of 3 bytes
    wide = np.full((rows, 3), 0xFF, dtype=np.uint8)
    _native.first_touch(wide, threads)
    assert not wide.any()


def test_first_touch_refuses_bad_arguments_with_a_status():
    buffer = ffi.new("uint8_t[]", 8)
    for args in (
        (buffer, 8, 0, 2),  # items of no bytes
        (buffer, -1, 1, 2),
        (buffer, 8, 1, 0),  # no threads
        (buffer, 8, 1, lib.BB_POOL_THREADS_MAX + 1),
        (ffi.NULL, 8, 1, 2),
        (buffer, 2**62, 4, 2),  # n_items × item_bytes overflows
    ):
        assert lib.bb_parallel_first_touch(*args, ffi.NULL) == lib.BB_INVALID_ARGUMENT, args


@pytest.fixture
def pinned():
    """The pool pinned as bankbench run --pin pins it (CPUs from each NUMA node in turn)."""
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("Linux CPU affinity")
    cpus = run.placement()["cpus"]
    _native.pin_threads(cpus)
    try:
        yield cpus
    finally:
        _native.pin_threads([])


@pytest.mark.parametrize("threads", [4, 16, 64])
def test_pinned_first_touch_runs_each_range_on_its_parts_cpu(pinned, threads):
    rows = 10 * threads + 3
    cpus = _native.first_touch(np.ones(rows, dtype=np.int32), threads)
    assert cpus.tolist() == [pinned[i % len(pinned)] for i in range(threads)]


@pytest.mark.parametrize("name", ["loan.score", "loan.limit"])
def test_pinned_runs_above_the_core_count_touch_their_outputs_and_answer_the_same(pinned, name):
    workload = registry.get(name)
    inputs = workload.generate(scale=0.002, seed=42)
    expected = workload.digest(workload.run(inputs, "python", 1))
    for threads in (4, 16, 64):
        assert workload.digest(workload.run(inputs, "c", threads)) == expected, threads


def test_the_placement_policy_records_the_node_of_each_pinned_worker():
    nodes = {"node0": [0, 1], "node1": [2, 3]}
    order = [0, 2, 1, 3]  # bench.run.placement's: a CPU from each node in turn
    policy = fingerprint.placement_policy([1, 16], nodes, order)
    assert policy["worker_nodes"] == ["node0", "node1"] * 8
    assert policy["outputs_first_touch"].startswith("each pinned worker, its own rows")
    assert "outputs first touched by each pinned worker" in policy["summary"]
    unpinned = fingerprint.placement_policy([1, 16], nodes, None)
    assert unpinned["worker_nodes"] is None and unpinned["outputs_first_touch"] == "main thread"
    # this host: one node, and the record says so rather than guessing
    here = fingerprint.placement_policy([4, 64], run.numa_nodes(), run.placement()["cpus"])
    if len(run.numa_nodes()) == 1:
        assert here["summary"].startswith("one NUMA node")
        assert (
            set(here["worker_nodes"]) == set(run.numa_nodes()) and len(here["worker_nodes"]) == 64
        )
