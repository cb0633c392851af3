"""The core's worker pool (native/src/pool.c): every index once, errors as one status, a
thread that cannot start as one line naming the count, pinning, and the dispatch probe."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from bench import probes
from bench.scaling import dispatch_line
from native import ffi, lib
from workloads import _native
from workloads.errors import NativeError


def where(n: int, threads: int, chunk: int = 0, groups: bool = False) -> np.ndarray:
    """The CPU each index of [0, n) ran on (-1 left where no part wrote); groups: n groups,
    each on its own thread at once (threads unused)."""
    cpu = np.full(n, -2, dtype=np.int32)
    if groups:
        _native.parallel_groups("bb_probe_where", _native.out_pointer(cpu), n)
    elif chunk:
        _native.parallel_chunks("bb_probe_where", _native.out_pointer(cpu), n, chunk, threads)
    else:
        _native.parallel_ranges("bb_probe_where", _native.out_pointer(cpu), n, threads)
    return cpu


@pytest.mark.parametrize("threads", [1, 2, 3, 16, 40])
@pytest.mark.parametrize("n", [0, 1, 5, 1000])
def test_every_index_runs_in_ranges_and_in_chunks(n, threads):
    assert (where(n, threads) >= -1).all()
    assert (where(n, threads, chunk=7) >= -1).all()
    assert lib.bb_pool_threads() >= min(threads, max(n, 1))


def visit(n: int, threads: int, chunk: int = 0, slow=(0, 0), slow_ns: int = 0):
    """(visits, thread) of each index of [0, n): how often it ran (bb_probe_visit) and the
    identity of the thread that ran it last; the indices of [slow) sleep slow_ns each."""
    visits = np.zeros(n, dtype=np.int32)
    thread = np.zeros(n, dtype=np.uint64)
    task = ffi.new(
        "bb_probe_visit_task *",
        {
            "visits": _native.out_pointer(visits),
            "thread": _native.out_pointer(thread),
            "slow_begin": slow[0],
            "slow_end": slow[1],
            "slow_ns": slow_ns,
        },
    )
    if chunk:
        _native.parallel_chunks("bb_probe_visit", task, n, chunk, threads)
    else:
        _native.parallel_ranges("bb_probe_visit", task, n, threads)
    return visits, thread


@pytest.mark.parametrize("threads", [2, 3, 16, 40])
@pytest.mark.parametrize("n", [1, 2, 17, 1000, 100_003])
def test_every_index_runs_exactly_once_though_threads_share_ranges(n, threads):
    """A call of ranges runs each part's range in pieces claimed from its cursor, its own
    first, then what is left of the others': no index may run twice or not at all."""
    for _ in range(5):
        assert (visit(n, threads)[0] == 1).all()
        assert (visit(n, threads, chunk=7)[0] == 1).all()


@pytest.mark.parametrize("threads", [2, 3, 16, 128])
@pytest.mark.parametrize("n", [2**63 - 1, 2**63 - 1000, 2**62 + 7, 17, 2])
def test_pieces_stay_inside_the_range_for_any_n(n, threads):
    """Pieces are claimed by number, not by advancing an item cursor past the range's end
    (which wrapped negative near 2^63 and handed a task a bogus range): every piece of every
    split lies inside [0, n) and together they cover n items."""
    for chunk in (0, n // 5 + 1):
        task = ffi.new("bb_probe_count_task *", {"n": n})
        if chunk:
            code = lib.bb_parallel_chunks(lib.bb_probe_count, task, n, chunk, threads)
        else:
            code = lib.bb_parallel_ranges(lib.bb_probe_count, task, n, threads)
        assert code == lib.BB_OK
        assert (task.bad, task.items) == (0, n), (n, threads, chunk)


def test_the_idle_yield_window_is_set_read_and_bounded():
    default = lib.bb_pool_set_idle_yield_ns(-1)
    assert default == 5_000_000
    try:
        assert lib.bb_pool_set_idle_yield_ns(0) == default
        assert lib.bb_pool_set_idle_yield_ns(-1) == 0
        assert (where(100, 2) >= -1).all()  # workers that sleep at once still get their parts
        assert lib.bb_pool_set_idle_yield_ns(lib.BB_POOL_IDLE_YIELD_NS_MAX + 1) == -1
        assert lib.bb_pool_set_idle_yield_ns(-1) == 0  # refused: nothing changed
    finally:
        lib.bb_pool_set_idle_yield_ns(default)


def test_a_slow_part_is_shared_by_the_thread_done_with_its_own():
    """Two threads, the second part's items slow (2 ms each), the first's instant: the thread
    done with its own range runs pieces of the other's (a whole range ran on one thread, and
    the call took as long as its slowest part). Times are not asserted, only who ran what."""
    n = 64
    shared = []
    for _ in range(3):  # the worker may get no CPU at all in one try on a loaded host
        assert (visit(n, 2)[0] == 1).all()  # the worker is awake for the next call
        visits, thread = visit(n, 2, slow=(32, 64), slow_ns=2_000_000)  # part 1: [32, 64)
        assert (visits == 1).all()
        shared.append(len(set(thread[32:].tolist())))
        if shared[-1] == 2:
            break
    assert 2 in shared, f"the slow part ran on one thread each time: {shared}"


def test_the_triad_probe_through_the_pool_computes_every_element():
    a, b, c = (np.arange(10_001, dtype=np.uint64) for _ in range(3))
    task = ffi.new(
        "bb_probe_triad_task *",
        {"a": _native.out_pointer(a), "b": _native.pointer(b), "c": _native.pointer(c), "k": 3},
    )
    for threads in (1, 2, 16):
        a[:] = 0
        _native.parallel_ranges("bb_probe_triad_rows", task, len(a), threads)
        assert (a == b + 3 * c).all(), threads


def _compute_unit(i: int, steps: int) -> int:
    """bb_probe_compute_units' unit i in Python integers: the kernel's own definition."""
    mask = (1 << 64) - 1
    lanes = [i * 8 + j + 1 for j in range(8)]
    for s in range(steps):
        for j in range(8):
            lanes[j] = (lanes[j] * 0x9E3779B97F4A7C15 + s) & mask
            lanes[j] ^= lanes[j] >> 29
    mix = 0
    for lane in lanes:
        mix ^= lane
    return mix


def test_the_compute_probe_does_its_work_for_every_unit_however_the_call_is_split():
    out = np.zeros(203, dtype=np.uint64)
    task = ffi.new("bb_probe_compute_task *", {"out": _native.out_pointer(out), "steps": 7})
    expected = [_compute_unit(i, 7) for i in range(len(out))]
    for threads in (1, 2, 5, 16):
        out[:] = 0
        _native.parallel_ranges("bb_probe_compute_units", task, len(out), threads)
        assert out.tolist() == expected, threads
    task.steps = -1
    with pytest.raises(NativeError) as refused:
        _native.parallel_ranges("bb_probe_compute_units", task, len(out), 2)
    assert refused.value.code_name == "BB_INVALID_ARGUMENT"


def test_the_compute_probe_times_alternating_pairs_at_1_and_n_threads():
    found = probes.compute(3, pairs=3)
    assert set(found) == {
        "compute_units_per_s_1t",
        "compute_units_per_s_3t",
        "compute_efficiency_3t_low",
        "compute_efficiency_3t_high",
    }
    assert found["compute_units_per_s_1t"] > 0 and found["compute_units_per_s_3t"] > 0
    assert 0 < found["compute_efficiency_3t_low"] <= found["compute_efficiency_3t_high"]


def test_bankbench_probe_prints_the_compute_probe_in_its_units():
    from bench.commands.probe import _shown

    assert _shown("compute_units_per_s_2t", 21_622.9) == (
        "21,623 units/s (a unit: 15,000 rounds of 8 integer lanes)"
    )
    assert _shown("compute_efficiency_2t_low", 0.5179) == "52 %"
    assert _shown("random_updates_per_s_1t", 65.5e6) == "65.5 M/s"


def test_a_failing_task_is_the_status_of_the_whole_call():
    # a sharded run wants one group per thread: ranges of two groups fail in every part
    task = ffi.new("bb_ledger_run_task *")
    with pytest.raises(NativeError) as failed:
        _native.parallel_ranges("bb_ledger_run_groups", task, 4, 2)
    assert failed.value.code_name == "BB_INVALID_ARGUMENT"
    assert "bb_ledger_run_groups" in str(failed.value)
    empty = ffi.addressof(lib, "bb_probe_empty_task")
    assert lib.bb_parallel_ranges(empty, ffi.NULL, 4, 2) == lib.BB_OK  # the pool goes on
    assert lib.bb_parallel_ranges(empty, ffi.NULL, 4, lib.BB_POOL_THREADS_MAX + 1) == (
        lib.BB_INVALID_ARGUMENT
    )
    assert lib.bb_parallel_chunks(empty, ffi.NULL, 4, 0, 2) == lib.BB_INVALID_ARGUMENT


def test_threads_that_cannot_start_are_one_line_naming_the_count():
    # a child whose address space has no room for 200 thread stacks
    child = textwrap.dedent(
        """
        import resource
        from workloads import _native
        from workloads.errors import NativeError
        from native import ffi
        import numpy as np
        cpu = np.zeros(200, dtype=np.int32)
        _native.parallel_ranges("bb_probe_where", _native.out_pointer(cpu), 2, 2)
        used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + (64 << 20), resource.RLIM_INFINITY))
        try:
            _native.parallel_ranges("bb_probe_where", _native.out_pointer(cpu), 200, 200)
        except NativeError as error:
            print(error.code_name, "|", error)
        """
    )
    if not sys.platform.startswith("linux"):
        pytest.skip("address-space limit and /proc: Linux")
    if os.environ.get("BANKBENCH_EXPECT_EMULATED") == "1":
        # qemu-user maps the guest's memory inside its own: a limit on its address space
        # bounds the emulator, not the guest's thread stacks
        pytest.skip("under qemu-user RLIMIT_AS limits the emulator, not the guest")
    out = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=120
    ).stdout.strip()
    name, message = out.split(" | ")
    assert name == "BB_THREADS_UNAVAILABLE"
    assert "\n" not in message and "could not start 200 threads" in message


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux CPU affinity")
def test_pinned_parts_run_on_their_cpus_and_unpinning_restores_the_process_cpus():
    cpus = sorted(os.sched_getaffinity(0))
    _native.pin_threads(cpus)
    try:
        ran = np.full(2 * len(cpus), -2, dtype=np.int32)  # each part on its own thread
        _native.parallel_groups("bb_probe_where", _native.out_pointer(ran), len(ran))
        assert ran.tolist() == [cpus[i % len(cpus)] for i in range(2 * len(cpus))]
    finally:
        _native.pin_threads([])
    assert os.sched_getaffinity(0) == set(cpus)  # the caller is part 0: unpinned again


def test_the_dispatch_probe_covers_one_two_the_cpus_and_four_times_them():
    assert probes.dispatch_thread_counts(2) == [1, 2, 8]
    assert probes.dispatch_thread_counts(64) == [1, 2, 64, 256]
    found = probes.dispatch(2)
    costs = {k: v for k, v in found.items() if k.startswith("parallel_call_ns_")}
    assert sorted(costs) == ["parallel_call_ns_1t", "parallel_call_ns_2t", "parallel_call_ns_8t"]
    assert all(0 < ns < 50e6 for ns in costs.values())
    # only 8 threads outnumber the 2 CPUs: the floor is 7 hand-overs shared by 2 CPUs
    round_trip = found["handover_round_trip_ns"]
    assert 0 < round_trip < 50e6 and found["dispatch_cpus"] == 2
    assert [k for k in found if k.startswith("dispatch_floor_ns_")] == ["dispatch_floor_ns_8t"]
    assert found["dispatch_floor_ns_8t"] == pytest.approx(7 * (round_trip / 2) / 2)
    # between a workload's calls: after 1 ms of Python, and after the workers slept
    between = ("parallel_call_after_busy_ns_2t", "parallel_call_woken_ns_2t")
    assert all(0 < found[k] < 50e6 for k in between)
    assert not set(between) & set(probes.dispatch(1))  # 2 threads on 1 CPU wake no idle CPU
    (row,) = probes.dispatch_table([2])
    assert row["threads"] == 2 and row["thread_pool_ns"] > 0 and row["native_pool_ns"] > 0
    assert row["cpus"] == len(os.sched_getaffinity(0))


def test_the_dispatch_floor_is_a_hand_over_per_extra_worker_shared_over_the_cpus():
    # a hand-over is half the measured round trip
    assert probes.dispatch_floor_ns(32, 2, 6000.0) == 31 * 3000.0 / 2
    assert probes.dispatch_floor_ns(128, 64, 5000.0) == 127 * 2500.0 / 64
    assert probes.dispatch_floor_ns(2, 2, 6000.0) is None  # a CPU each: workers need not sleep
    assert probes.dispatch_floor_ns(8, 2, None) is None  # the round trip unknown here


def test_the_handover_probe_times_round_trips_and_leaves_the_caller_where_it_was():
    before = os.sched_getaffinity(0)
    elapsed = ffi.new("int64_t *")
    assert lib.bb_probe_handovers(500, elapsed) == lib.BB_OK
    assert elapsed[0] > 0  # 1,000 hand-overs (a yield and a switch each) take time (Linux)
    assert os.sched_getaffinity(0) == before
    for bad in (0, -1, 2**40):
        assert lib.bb_probe_handovers(bad, elapsed) == lib.BB_INVALID_ARGUMENT
    assert lib.bb_probe_handovers(10, ffi.NULL) == lib.BB_INVALID_ARGUMENT


def test_show_words_the_dispatch_cost_in_thread_order():
    line = dispatch_line({"parallel_call_ns_8t": 12_100.0, "parallel_call_ns_2t": 3_800.0})
    assert line is not None and line.endswith("2t 3.80µs, 8t 12.10µs")
    assert dispatch_line({"cffi_call_overhead_ns": 90.0}) is None


def test_show_puts_the_floor_beside_the_cost_where_threads_outnumber_the_cpus():
    line = dispatch_line(
        {
            "parallel_call_ns_2t": 3_800.0,
            "parallel_call_ns_8t": 80_000.0,
            "handover_round_trip_ns": 6_000.0,
            "dispatch_cpus": 2,
            "dispatch_floor_ns_8t": 21_000.0,
        }
    )
    assert line is not None
    assert line.endswith(
        "; floor where threads outnumber the 2 CPUs (a model: each worker handed a CPU once, "
        "half of a 6.00µs round trip): 8t 21.00µs"
    )
    # a run probed before the floor was: the costs alone
    assert "floor" not in dispatch_line({"parallel_call_ns_8t": 80_000.0, "dispatch_cpus": 2})


def test_show_puts_the_call_after_python_and_after_sleep_beside_the_costs():
    costs = {"parallel_call_ns_2t": 3_800.0}
    line = dispatch_line(
        {**costs, "parallel_call_after_busy_ns_2t": 5_200.0, "parallel_call_woken_ns_2t": 41_700.0}
    )
    assert line is not None and line.endswith(
        "; 2t after 1 ms of Python (workers still yielding) 5.20µs, "
        "after the workers slept (waking idle CPUs) 41.70µs"
    )
    # one of the two, or one that is not a time: neither is shown
    for odd in (
        {"parallel_call_woken_ns_2t": 41_700.0},
        {"parallel_call_after_busy_ns_2t": "x", "parallel_call_woken_ns_2t": 41_700.0},
    ):
        assert dispatch_line({**costs, **odd}) == dispatch_line(costs)


def test_a_stored_probe_record_of_odd_shape_is_left_out_not_shown_or_fatal():
    """A store is the user's input: keys of another shape, values that are not times, a CPU
    count that is text (escape sequences) are left out of the line, never crash it."""
    line = dispatch_line(
        {
            "parallel_call_ns_xt": 5,
            "parallel_call_ns_٣t": 5,  # a digit, but not an ASCII one
            "parallel_call_ns_4t": float("nan"),
            "parallel_call_ns_16t": 1e300,
            "parallel_call_ns_2t": 1_500.0,
            "parallel_call_ns_8t": 90_000.0,
            "handover_round_trip_ns": 6_000.0,
            "dispatch_cpus": "\x1b]0;pwned\x07",
            "dispatch_floor_ns_8t": 21_000.0,
        }
    )
    assert line == "empty parallel call (the core's pool, this run's probe): 2t 1.50µs, 8t 90.00µs"
    assert dispatch_line({"parallel_call_ns_xt": 5, "parallel_call_ns_1t": "fast"}) is None
    one = dispatch_line(
        {
            "parallel_call_ns_4t": 30_000.0,
            "handover_round_trip_ns": 6_000.0,
            "dispatch_cpus": 1,
            "dispatch_floor_ns_4t": 9_000.0,
        }
    )
    assert "outnumber the 1 CPU (a model" in one


@pytest.mark.parametrize("shards", [1, 3])
def test_the_capacity_service_loop_in_c_answers_as_micro_batches_from_python(shards):
    from bench.suite.test_workloads import sharded_outputs
    from workloads import registry

    w = registry.get("loan.decide")
    inputs = w.generate(scale=0.002, seed=7)
    size, batch_size = inputs["applications"].num_rows, 7
    bounds = np.linspace(0, size, shards + 1).astype(np.int64)
    by_python = [w.online(inputs, "c") for _ in range(shards)]
    for session, begin, end in zip(by_python, bounds[:-1], bounds[1:], strict=True):
        for first in range(int(begin), int(end), batch_size):
            session.decide_many(first, min(first + batch_size, int(end)))
    in_c = [w.online(inputs, "c") for _ in range(shards)]
    took = w.serve_shards(in_c, bounds, batch_size)
    shard_rows = zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
    assert len(took) == sum(len(range(b, e, batch_size)) for b, e in shard_rows)
    assert (took >= 0).all(), "every request timed"
    digest = w.digest(sharded_outputs(in_c, bounds))
    assert digest == w.digest(sharded_outputs(by_python, bounds))
    if shards == 1:  # one shard carries the whole stream: the batch answer
        assert digest == w.digest(w.run(inputs, engine="c", threads=2))


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_signal_during_parallel_calls_keeps_the_finished_benchmarks(tmp_path, signal_name):
    """SIGTERM to the run, or Ctrl-C (SIGINT to the whole process group, the worker too,
    whose main thread is in a parallel call most of the time): the run stops as incomplete
    and what finished stays stored. The pool's threads block signals, so the signal reaches
    the thread that runs Python, which handles it when its C call returns."""
    import time

    import terminal_job  # tests/terminal_job.py (pytest puts tests/ on the path)

    from bench.store import Store

    store = tmp_path / "store"
    command = [sys.executable, "-m", "bench.cli", "run", "-p", "smoke", "-e", "c", "-t", "1,16"]
    parent = terminal_job.start(
        [*command, "-w", "ledger.post,loan.score", "-s", "0.05", "--store", str(store)]
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and parent.poll() is None:
            if any(store.glob("samples/**/*.parquet")):
                break
            time.sleep(0.05)
        assert parent.poll() is None, "the run ended before it could be interrupted"
        terminal_job.interrupt(parent, signal_name)
        # as a shell reports a process the signal ended: 143 for SIGTERM, 130 for Ctrl-C
        assert parent.wait(timeout=60) == 128 + getattr(signal, signal_name)
    finally:
        terminal_job.kill_if_running(parent)
    (run,) = Store(str(store)).runs().to_pylist()
    assert run["status"] == "incomplete"
    assert Store(str(store)).samples([run["run_id"]]).num_rows >= 1


def test_every_worker_gets_its_part_whether_it_sleeps_yields_or_spins():
    """A call moves every ticket on, then wakes the sleepers as a tree (pool.c, hand_out): a
    lost wake-up would hang a call of groups, which need every thread at once. Widths in
    turn, with gaps shorter and longer than the workers' yielding, mix workers still
    yielding from the last call with workers long asleep; a call of ranges before each may
    leave a worker's ticket moved for a part the caller took."""
    # 100 µs: the yielding after a call with more threads than CPUs; 5 ms: after one without
    for gap_s in (0, 50e-6, 300e-6, 2e-3, 8e-3):
        for width in (2, 128, 3, 33, 8, 128, 2):
            assert (where(width, width) >= -1).all(), (gap_s, width)
            assert (where(width, width, groups=True) >= -1).all(), (gap_s, width)
            time.sleep(gap_s)


def test_groups_never_leave_a_part_to_the_caller():
    taken = lib.bb_pool_parts_taken()
    empty = ffi.addressof(lib, "bb_probe_empty_task")
    for _ in range(50):
        assert lib.bb_parallel_groups(empty, ffi.NULL, 8) == lib.BB_OK
    assert lib.bb_pool_parts_taken() == taken  # every part ran on its own thread


def test_probe_refuses_more_dispatch_threads_than_the_pool_has_before_measuring(capsys):
    from bench import cli

    with pytest.raises(SystemExit) as stop:
        cli.main(["probe", "--dispatch", "2,1025"])
    assert stop.value.code == 2
    assert "1025 threads is more than the pool's maximum, 1024" in capsys.readouterr().err
