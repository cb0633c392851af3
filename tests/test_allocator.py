"""The benchmark worker keeps freed memory for the next call (bench/allocator.py): the timed
calls reuse the pages the warm-up faulted in, instead of timing the kernel's page faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from bench import allocator, cli, run
from bench.compare import contract
from bench.records import RunRecord
from bench.store import Store

glibc_only = pytest.mark.skipif(not allocator.is_glibc(), reason="glibc's tunables")

# the faults of a call's outputs: eight 1 MiB columns allocated, written and freed, five
# times (glibc by default raises its mmap threshold to 1 MiB after the first free, but trims
# the heap's free top above 2 MiB: the 8 MiB go back to the kernel each time)
FAULTS = textwrap.dedent(
    """
    import json, resource
    import numpy as np
    faults = []
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        columns = [np.ones(1 << 17, dtype=np.int64) for _ in range(8)]
        del columns
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    print(json.dumps(faults))
    """
)


def _faults(environment: dict) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-c", FAULTS], env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@glibc_only
@pytest.mark.skipif(
    bool(os.environ.get("LD_PRELOAD")),
    reason="a preloaded allocator (the sanitizer's) is not glibc's",
)
def test_the_workers_calls_after_the_first_fault_in_no_fresh_pages(host_emulated):
    if host_emulated:  # qemu-user keeps the guest's freed memory itself: [2066, 2034, 32, 0, 0]
        pytest.skip("under qemu-user the guest's page faults are qemu's, not the kernel's")
    base = {k: v for k, v in run.worker_environment().items() if k != "GLIBC_TUNABLES"}
    default, kept = _faults(base), _faults(run.worker_environment())
    pages = (8 << 20) // 4096 // 2  # at least half the column's 4 KiB pages each time
    assert all(f >= pages for f in default[1:]), default  # handed back and faulted in again
    assert kept[0] >= pages and all(f < 64 for f in kept[1:]), kept  # reused, warm


@glibc_only
def test_a_users_own_malloc_tunable_stays_and_the_policy_names_it():
    mine = "glibc.malloc.trim_threshold=1000:glibc.cpu.hwcaps=-AVX2"
    environment = allocator.worker_environment({"GLIBC_TUNABLES": mine})
    given = dict(item.split("=") for item in environment["GLIBC_TUNABLES"].split(":"))
    assert given["glibc.malloc.trim_threshold"] == "1000" and given["glibc.cpu.hwcaps"] == "-AVX2"
    assert given["glibc.malloc.mmap_threshold"] == str(allocator.MMAP_THRESHOLD_BYTES)
    # the record names the user's value as theirs and only bankbench's own as bankbench's
    assert allocator.policy({"GLIBC_TUNABLES": mine}) == (
        "glibc, malloc tunables of the user: glibc.malloc.trim_threshold=1000; of bankbench: "
        f"glibc.malloc.mmap_threshold={allocator.MMAP_THRESHOLD_BYTES}"
    )
    # a malloc tunable of the user's that bankbench does not set still changes the record
    other = allocator.policy({"GLIBC_TUNABLES": "glibc.malloc.arena_max=1"})
    assert other.startswith("glibc, malloc tunables of the user: glibc.malloc.arena_max=1")
    assert "freed memory kept" in allocator.policy({})
    assert "freed memory kept" in allocator.policy({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2"})


@glibc_only
def test_a_preloaded_allocator_is_named_not_claimed():
    environment = allocator.worker_environment({"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"})
    assert allocator.policy(environment).startswith("preloaded (LD_PRELOAD=/usr/lib/libjemalloc")


def test_another_c_library_is_left_alone(monkeypatch):
    monkeypatch.setattr(allocator, "is_glibc", lambda: False)
    assert allocator.worker_environment({"A": "1"}) == {"A": "1"}
    assert allocator.policy({}) == allocator.DEFAULT


def test_runs_whose_allocators_differ_compare_only_when_allowed():
    def row(run_id: str, policy: str | None) -> dict:
        record = RunRecord.start(run_id, run_id, {"allocator": policy}, profile="quick")
        return record.to_row()

    old, new = row("20261201T000000-aaaaaaaa", None), row("20261207T000000-bbbbbbbb", "kept")
    assert contract(old, new, set()).not_allowed == ["allocator"]
    assert contract(old, new, {"allocator"}).not_allowed == []


def test_show_prints_the_allocator(tmp_path, capsys):
    store = Store(str(tmp_path))
    record = RunRecord.start(
        "20261207T000000-cccccccc", "lab", {"allocator": "kept"}, profile="smoke"
    )
    store.write_run(record)
    assert cli.main(["show", record.run_id, "--store", str(tmp_path)]) == 0
    assert "allocator: kept" in capsys.readouterr().out


def test_a_run_that_recorded_no_allocator_reads_not_recorded_and_allow_names_it(capsys):
    from bench.compare.contract import SOFTWARE_FIELDS, difference

    assert difference(None, "kept") == ("not recorded", "kept")
    assert difference("kept", None) == ("kept", "not recorded")
    with pytest.raises(SystemExit):
        cli.main(["compare", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert all(name in shown for name in SOFTWARE_FIELDS), shown
