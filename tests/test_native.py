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
