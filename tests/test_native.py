"""The C core's build record and its status → exception boundary."""

import pytest

import native
from native import ffi, lib
from workloads import _native
from workloads.errors import NativeError


def test_build_info_records_how_the_core_was_built():
    info = native.build_info()
    assert set(info) >= {
        "compiler",
        "flags",
        "effective_line",
        "source_sha256",
        "cffi_version",
        "label",
    }
    assert "-ffp-contract=off" in info["flags"] and "-fno-wrapv" in info["flags"]
    assert "-march=native" not in info["flags"]
    assert len(info["source_sha256"]) == 64


def test_every_status_has_a_name():
    for code, name in _native.STATUS_NAMES.items():
        assert getattr(lib, name) == code
    with pytest.raises(NativeError) as error:
        _native.check_status(lib.BB_OUT_OF_MEMORY, "bb_test")
    assert error.value.code_name == "BB_OUT_OF_MEMORY" and "bb_test" in str(error.value)


def test_c_rejects_bad_ranges_and_scorecards():
    assert lib.bb_schedule_offsets(ffi.NULL, -1, ffi.NULL) == lib.BB_INVALID_ARGUMENT
    out = ffi.new("bb_scorecard **")
    kinds = ffi.new("uint8_t[]", [3])  # an unknown variable kind
    zero = ffi.new("int32_t[]", [0, 0])
    rc = lib.bb_scorecard_new(
        1,
        kinds,
        zero,
        ffi.new("int64_t[]", 1),
        ffi.new("int32_t[]", 1),
        ffi.new("int32_t[]", [0, 1]),
        ffi.new("int32_t[]", 1),
        ffi.new("int32_t[]", 1),
        ffi.new("int64_t[]", [0]),
        ffi.new("int64_t[]", [1]),
        0,
        0,
        0,
        ffi.NULL,
        out,
    )
    assert rc == lib.BB_INVALID_ARGUMENT and out[0] == ffi.NULL


def test_split_ranges_cover_everything_once():
    for n in (0, 1, 5, 100):
        for parts in (1, 2, 3, 7):
            ranges = _native.split_ranges(n, parts)
            assert [i for b, e in ranges for i in range(b, e)] == list(range(n))


def test_a_failing_thread_aborts_the_barrier_instead_of_hanging_the_others():
    """Two groups of one sharded run: group 1 is given a bad batch table, so it fails at
    once; group 0, waiting for it at the barrier, must return BB_ABORTED, not wait forever."""
    import threading

    import numpy as np

    from workloads.ledger import _sharded, post

    accounts = {
        "id": np.array([1, 2, 3, 4], np.uint64),
        "ledger": np.ones(4, np.uint32),
        "code": np.ones(4, np.uint16),
        "flags": np.zeros(4, np.uint16),
    }
    ledger = post.CLedger(accounts, 2)
    n = 2
    cols = {k: np.zeros(n, t.to_pandas_dtype()) for k, t in post.TRANSFERS.items()}
    cols.update(id=np.array([2, 4], np.uint64))
    transfers = ffi.new(
        "bb_ledger_transfers *", {k: _native.pointer(v) for k, v in cols.items() if k != "batch"}
    )
    results = {"timestamp": np.zeros(n, np.uint64), "status": np.zeros(n, np.uint32)}
    results_c = ffi.new(
        "bb_ledger_results *", {k: _native.out_pointer(v) for k, v in results.items()}
    )
    scratch = {k: np.zeros_like(v) for k, v in results.items()}
    scratch_c = ffi.new(
        "bb_ledger_results *", {k: _native.out_pointer(v) for k, v in scratch.items()}
    )
    stamp = np.array([10**9], np.uint64)
    good = _sharded.Batches([(0, n)], 2, stamp)
    bad = _sharded.Batches([(n, 0)], 2, stamp)  # a batch that ends before it begins
    barrier = _sharded.Barrier(2, 2)
    codes = {}

    def run(group, batches):
        codes[group] = lib.bb_ledger_run(
            ledger.c, transfers, batches.c, group, 2, barrier.c, scratch_c, results_c
        )

    threads = [
        threading.Thread(target=run, args=(0, good)),
        threading.Thread(target=run, args=(1, bad)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a thread hangs at the barrier"
    assert codes == {0: lib.BB_ABORTED, 1: lib.BB_INVALID_ARGUMENT}
