"""The serial-share table (bench/serial_share.py, `bankbench scaling-bound`) and the placement
policy recorded with every run (bench/fingerprint.placement_policy, shown by `show`)."""

from __future__ import annotations

import shutil
from fractions import Fraction

import pytest

import native
from bench import cli, fingerprint, serial_share
from bench.measure import callgrind
from bench.records import RunRecord
from bench.store import Store

# A window of one parallel call at 2 threads, with made-up but consistent inclusive costs:
# the entry (1000, with the caller's part 0 of 300 and its wait of 50 inside), the worker's
# part 1 (400, with a barrier wait of 20 inside), and the worker's own wait for its next part
# (999: outside every counted call). Work = 1000 + 400 - 50 - 20 = 1330; parallel = 300 +
# 400 - 20 = 680; serial = 650: the entry's own work outside part 0 and the wait.
DUMP = """\
# callgrind format
version: 1
positions: line
events: Ir Dr
fn=_cffi_f_bb_job
cfn=bb_job
calls=1 0
0 1000 7
fn=run_call
cfn=bb_pool_run_part
calls=1 0
0 300 3
cfn=bb_pool_wait
calls=1 0
0 50 1
fn=bb_pool_worker
0 30 1
cfn=bb_pool_run_part
calls=1 0
0 400 4
cfn=bb_pool_wait
calls=1 0
0 999 9
fn=job_task
cfn=bb_barrier_wait
calls=1 0
0 20 2
"""


def test_split_counts_the_parts_on_every_thread_and_leaves_the_waits_out():
    split = callgrind.parallel_split(DUMP.splitlines(keepends=True))
    assert split == {"total": 1330, "parallel": 680, "serial": 650, "serial_in_parts": 0}
    # the work is the instruction mode's own count of the call (no allocator here)
    assert split["total"] == callgrind.parse(DUMP.splitlines())["core"]["Ir"]


def test_a_worker_callgrind_names_as_entered_again_is_the_same_worker():
    """`scaling-bound -t 2,3,5` failed (parallel > total): at 5 threads callgrind named a
    worker's loop bb_pool_worker'2, and its parts were left out of the work. The same window
    with the worker so named counts the same; so does the instruction mode."""
    renamed = DUMP.replace("fn=bb_pool_worker\n", "fn=bb_pool_worker'2\n")
    assert renamed != DUMP
    assert callgrind.parallel_split(renamed.splitlines(keepends=True)) == callgrind.parallel_split(
        DUMP.splitlines(keepends=True)
    )
    assert (
        callgrind.parse(renamed.splitlines())["core"] == callgrind.parse(DUMP.splitlines())["core"]
    )


def test_split_of_a_call_with_no_pool_is_all_serial():
    dump = "events: Ir\nfn=_cffi_f_bb_job\ncfn=bb_job\ncalls=1 0\n0 500\n"
    assert callgrind.parallel_split(dump.splitlines()) == {
        "total": 500,
        "parallel": 0,
        "serial": 500,
        "serial_in_parts": 0,
    }


def test_a_section_alone_inside_a_part_is_serial():
    # the worker's part 1 holds a cross-cell section of 150 run while the caller waits
    dump = DUMP + "fn=bb_run_batches\ncfn=bb_batches_alone\ncalls=1 0\n0 150 1\n"
    split = callgrind.parallel_split(dump.splitlines())
    assert split == {"total": 1330, "parallel": 530, "serial": 800, "serial_in_parts": 150}


def test_a_pool_call_of_one_part_is_serial():
    """A call worth one part runs on the caller alone (pool.c: bb_pool_run_alone) while the
    other threads idle; a cross-cell section inside a run of one group is not 'in parts'
    (batches.c runs it without bb_batches_alone)."""
    dump = DUMP + "fn=run_call\ncfn=bb_pool_run_alone\ncalls=1 0\n0 200 1\n"
    split = callgrind.parallel_split(dump.splitlines())
    assert split == {"total": 1330, "parallel": 680, "serial": 650, "serial_in_parts": 0}


def test_amdahl_ceiling_is_exact_and_the_target_is_one_percent():
    assert serial_share.Bound(0, 100).speedup(128) == 128
    assert serial_share.Bound(100, 100).speedup(128) == 1
    # 1 % serial: 1 / (0.01 + 0.99 / 128) = 12800 / 227 = 56.39x, the "≥ 56x"
    assert serial_share.Bound(1, 100).speedup(128) == Fraction(12800, 227)
    assert serial_share.amdahl_speedup(Fraction(1, 100), 128) == Fraction(12800, 227)
    row = serial_share.row(
        "w", 2, {"total": 1000, "parallel": 989, "serial": 11, "serial_in_parts": 0}, []
    )
    assert not row["within_target"] and row["serial_share"] == Fraction(11, 1000)
    split = {"total": 100, "parallel": 99, "serial": 1, "serial_in_parts": 0}
    assert serial_share.row("w", 2, split, [])["within_target"]
    text = serial_share.render([row], 0.05)
    assert "serial share above the 1 % target" in text
    assert "upper bound" in text and "bound@128" in text


def test_a_call_of_few_parts_holds_the_bound_to_them():
    """8 cells hold a ledger call to 8 threads on any server: 10 % serial and 90 % in calls
    of at most 8 parts speed up at most 100 / (10 + 90 / 8) = 4.71x, at 128 threads as at 8;
    Amdahl's bound without the parts would say 9.34x."""
    held = serial_share.Bound(10, 100, {8: 90})
    assert held.speedup(128) == held.speedup(8) == Fraction(100, 10) / Fraction(85, 40)
    assert held.speedup(4) == Fraction(100, 10 + Fraction(90, 4))  # below the limit: Amdahl's
    assert held.speedup(4) == serial_share.Bound(10, 100).speedup(4)
    assert serial_share.Bound(10, 100).speedup(128) > held.speedup(128) * Fraction(19, 10)


def test_the_parallel_count_is_shared_out_by_each_calls_worth_and_stays_exact():
    # [threads, instructions worth, most parts]: a one-thread call's work is serial, not here
    calls = [[2, 300, 8], [2, 100, 50_000], [1, 999, 1], [2, 0, 3]]
    assert serial_share.parallel_by_parts(1000, calls) == {8: 750, 50_000: 250}
    shared = serial_share.parallel_by_parts(1001, calls)
    assert sum(shared.values()) == 1001 and shared == {8: 751, 50_000: 250}
    # parallel work no recorded call explains has no limit but the threads
    assert serial_share.parallel_by_parts(70, [[1, 5, 1]]) == {serial_share.UNSPLIT: 70}
    assert serial_share.parallel_by_parts(0, calls) == {}
    split = {"total": 1100, "parallel": 1000, "serial": 100, "serial_in_parts": 0}
    row = serial_share.row("ledger.x", 4, split, calls)
    assert row["ceilings"][128] == serial_share.Bound(100, 1100, {8: 750, 50_000: 250}).speedup(128)
    line = serial_share.render([row], 0.05).splitlines()[-1]
    assert " 8 (75%) " in line, line


needs_valgrind = pytest.mark.skipif(
    not shutil.which("valgrind") or native.is_sanitizer_build(),
    reason="valgrind is not installed, or the core is a sanitizer build it cannot run",
)


@needs_valgrind
def test_a_real_count_is_reproducible_and_mostly_parallel():
    """loan.score and ledger.post at the least scales where their calls split over 2
    threads (workloads/_native.threads_worth: 4 million instructions a part): two processes
    count the same instructions, and score's rows are scored in parallel ranges, so nearly
    all of it is in the parts; below that scale the whole call is serial, as it ran."""

    def count():
        return [
            *serial_share.measure(["loan.score"], [2], 0.03, 42),
            *serial_share.measure(["ledger.post"], [2], 0.005, 42),
        ]

    first, second = count(), count()
    # the serial count moves by a few hundred instructions at most between processes (a
    # pool wake-up is a futex call only when the worker had parked): the share's digits at
    # scale 0.05, where a call is 10-200 million instructions, do not move
    for one, other in zip(first, second, strict=True):
        assert abs(one["serial_instructions"] - other["serial_instructions"]) <= 1000
        assert abs(one["instructions"] - other["instructions"]) <= one["instructions"] // 1000
    score, ledger = first
    assert 0 < score["serial_instructions"] < score["instructions"]
    # the ledger's parallel work is in its run over 8 cells: no more than 8 threads speed it
    assert set(ledger["parallel_by_parts"]) == {8}, ledger
    assert ledger["ceilings"][128] == ledger["ceilings"][64] < 8
    assert set(score["parallel_by_parts"]) == {30_000}  # ranges of its applicants
    assert score["serial_in_parts"] == 0 and score["within_target"], score
    # the sharded ledger's cross-cell events run in a part, one thread alone
    assert 0 < ledger["serial_in_parts"] < ledger["serial_instructions"]
    # a call worth one thread (score at a tenth of that scale) is serial whole
    small = serial_share.measure(["loan.score"], [2], 0.003, 42)[0]
    assert small["serial_instructions"] == small["instructions"], small


@needs_valgrind
@pytest.mark.slow
def test_loan_fraud_at_64_threads_does_about_the_work_of_2():
    """Each of loan.fraud's groups once summed every (family, shard) count over every group:
    groups² steps in all (at scale 0.05 and 128 forced groups 154.7 M instructions against
    71.3 M at 2). Now each group sums a slice. Here, at scale 0.2: 64 groups took 6.6 % more
    than 2 with the old sums, 3.1 % with the slices (the states' set-up, the split)."""
    from workloads import _native, registry
    from workloads.loan import fraud

    events = registry.get("loan.fraud").generate(0.2, 42)["events"].num_rows
    worth = _native.threads_worth(events, fraud.INSTRUCTIONS_PER_EVENT, 64, fraud.TASKS_MAX)
    assert worth == 64, "the call runs on 64 groups at this scale"
    two, many = serial_share.measure(["loan.fraud"], [2, 64], 0.2, 42)
    assert many["instructions"] < two["instructions"] * 1.05, (two, many)


def test_scaling_bound_refuses_an_unknown_workload_in_one_line(capsys):
    assert cli.main(["scaling-bound", "-w", "no.such.workload*"]) == 2
    err = capsys.readouterr().err
    assert "no workload matches" in err and len(err.splitlines()) == 1


NODES = {"node0": [0, 1], "node1": [2, 3]}


def test_one_node_says_so():
    policy = fingerprint.placement_policy([1, 2], {"node0": [0, 1]}, None)
    assert policy["numa_nodes_spanned"] == ["node0"] and policy["first_touch"] == "main thread"
    assert policy["summary"].startswith("one NUMA node (node0)")


def test_pinned_threads_span_the_nodes_of_their_cpus():
    # bench.run.placement's order: a CPU from each node in turn
    one = fingerprint.placement_policy([1], NODES, [0, 2, 1, 3])
    assert one["numa_nodes_spanned"] == ["node0"] and one["pinned"]
    two = fingerprint.placement_policy([1, 2], NODES, [0, 2, 1, 3])
    assert two["numa_nodes_spanned"] == ["node0", "node1"]
    assert "2 of 2 NUMA nodes" in two["summary"] and "main thread" in two["summary"]


def test_unpinned_threads_may_use_every_node():
    policy = fingerprint.placement_policy([1], NODES, None)
    assert policy["numa_nodes_spanned"] == ["node0", "node1"] and not policy["pinned"]
    assert "unpinned" in policy["summary"]


def test_show_prints_the_placement(tmp_path, capsys):
    store = Store(str(tmp_path))
    facts = {"placement_policy": fingerprint.placement_policy([1, 2], NODES, [0, 2, 1, 3])}
    run = RunRecord.start("20261204T000000-aaaaaaaa", "lab", facts, profile="smoke")
    store.write_run(run)
    assert cli.main(["show", run.run_id, "--store", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "placement: 2 of 2 NUMA nodes (node0, node1), pinned" in shown
