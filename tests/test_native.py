"""The C core's build record and its status → exception boundary."""

import json
import os
import pathlib
import subprocess
import sys
from types import SimpleNamespace

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


def _copy_of_the_package(folder):
    """native/ and its siblings, the built core included (it was built from these sources)."""
    import shutil

    root = pathlib.Path(native.__file__).resolve().parent.parent
    for package in ("bench", "native", "workloads", "reports"):
        shutil.copytree(
            root / package, folder / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return folder


def test_the_built_core_matches_the_sources_beside_it(tmp_path):
    """The source hash built into the core is the one of the sources in native/ now."""
    assert native.stale_reason() is None
    copy = _copy_of_the_package(tmp_path) / "native"
    assert native.stale_reason(folder=copy) is None
    header = copy / "include" / "bankcore.h"
    header.write_text(
        header.read_text().replace("/* END CDEF */", "int32_t bb_new(void);\n/* END CDEF */")
    )
    why = native.stale_reason(folder=copy)
    assert why.startswith("it was built from other sources (source_sha256 ")
    older = SimpleNamespace(bb_build_label=None)  # a core from before build_info's fields
    assert "older native/build.py (no bb_build_compiler)" in native.stale_reason(older)
    (copy / "include" / "bankcore.h").unlink()  # an install without its sources
    assert native.stale_reason(folder=copy) is None


def test_a_core_older_than_its_sources_is_one_line_with_the_fix(tmp_path):
    """A C source changed after the in-place build (a new function, here): importing native
    says so and how to fix it, instead of an AttributeError when the new symbol is called."""
    work = _copy_of_the_package(tmp_path)
    source = work / "native" / "src" / "limit.c"
    source.write_text(source.read_text() + "\nint32_t bb_new_function(void) { return 0; }\n")
    command = [sys.executable, "-c", "import native; print(native.__file__)"]
    imported = subprocess.run(command, cwd=work, capture_output=True, text=True)
    assert imported.returncode == 1 and "workloads.errors.BankbenchError: the C core in " in (
        imported.stderr
    )
    assert str(work) in imported.stderr  # the copy, not the project's own core
    verify = subprocess.run(
        [sys.executable, "-m", "bench.cli", "verify", "-w", "loan.limit", "-e", "c"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 2 and verify.stderr.count("\n") == 1, verify.stderr
    assert verify.stderr.startswith(f"bankbench: error: the C core in {work / 'native'} is stale")
    assert verify.stderr.rstrip().endswith("rebuild the core: python native/build.py")


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
        ffi.new("uint8_t[]", 1),
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


def tiny_ledger_run():
    """A C ledger of 4 accounts in 2 cells, 2 transfers (ids 2 and 4: cell 0) and their
    result tables: (ledger, transfers, scratch, results), kept alive by the caller."""
    import numpy as np

    from workloads.ledger import post

    accounts = {
        "id": np.array([1, 2, 3, 4], np.uint64),
        "ledger": np.ones(4, np.uint32),
        "code": np.ones(4, np.uint16),
        "flags": np.zeros(4, np.uint16),
    }
    ledger = post.CLedger(accounts, 2)
    cols = {k: np.zeros(2, t.to_pandas_dtype()) for k, t in post.TRANSFERS.items()}
    cols.update(id=np.array([2, 4], np.uint64))
    transfers = ffi.new(
        "bb_ledger_transfers *", {k: _native.pointer(v) for k, v in cols.items() if k != "batch"}
    )
    tables = [
        {"timestamp": np.zeros(2, np.uint64), "status": np.zeros(2, np.uint32)} for _ in range(2)
    ]
    scratch, results = (post.results_pointer(t) for t in tables)
    return ledger, transfers, scratch, results, (cols, tables)


def test_the_ledger_refuses_rows_out_of_order_or_outside_their_batch():
    ledger, transfers, _, results, keep = tiny_ledger_run()
    for rows, expected in (([1, 0], "bad"), ([0, 0], "bad"), ([0, 2], "bad"), ([0, 1], "ok")):
        rc = lib.bb_ledger_execute(
            ledger.c, transfers, 0, 2, 10**9, ffi.new("int64_t[]", rows), 2, results
        )
        assert rc == (lib.BB_OK if expected == "ok" else lib.BB_INVALID_ARGUMENT), rows


def test_a_run_refuses_overlapping_batches():
    import numpy as np

    from workloads.ledger import _sharded

    ledger, transfers, scratch, results, keep = tiny_ledger_run()
    overlapping = _sharded.Batches([(0, 2), (1, 2)], 2, np.array([10**9, 2 * 10**9], np.uint64))
    barrier = _native.Barrier(1, 2)
    rc = lib.bb_ledger_run(ledger.c, transfers, overlapping.c, 0, 1, barrier.c, scratch, results)
    assert rc == lib.BB_INVALID_ARGUMENT


def test_a_run_refuses_a_batch_longer_than_its_plan_slots():
    """A plan in batch-sized slots (bb_batches.plan_rows) holds the longest batch: one row
    short, the run is refused before any posting; sized by Batches, it posts every row."""
    import numpy as np

    from workloads.ledger import _sharded

    ledger, transfers, scratch, results, keep = tiny_ledger_run()
    stamps = np.array([10**9, 2 * 10**9], np.uint64)
    short = _sharded.Batches([(0, 2)], 2, stamps[:1], slots=True)
    short.c.plan_rows = 1
    rc = lib.bb_ledger_run(
        ledger.c, transfers, short.c, 0, 1, _native.Barrier(1, 2).c, scratch, results
    )
    assert rc == lib.BB_INVALID_ARGUMENT
    assert (keep[1][1]["status"] == 0).all(), "nothing posted"
    sized = _sharded.Batches([(0, 1), (1, 2)], 2, stamps, slots=True)
    assert sized.c.plan_rows == 1
    rc = lib.bb_ledger_run(
        ledger.c, transfers, sized.c, 0, 1, _native.Barrier(1, 2).c, scratch, results
    )
    assert rc == lib.BB_OK
    assert (keep[1][1]["status"] != 0).all(), "every row has its result"


def run_groups_at_once(run, arguments: list[tuple]) -> None:
    """run(*a) for each a on its own Python thread at once (groups that meet at a barrier);
    none may still wait after 30 s."""
    import threading

    threads = [threading.Thread(target=run, args=a) for a in arguments]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a thread hangs at the barrier"


def test_a_run_refuses_a_scratch_shorter_than_its_batches_need():
    """Two batches take turns at the scratch, so it holds the longest batch twice. One row
    short, the group refuses before any posting and aborts the barrier (the other group
    returns instead of waiting); with room, the run posts every row."""

    import numpy as np

    from workloads.ledger import _sharded

    ledger, transfers, scratch, results, keep = tiny_ledger_run()
    stamps = np.array([10**9, 2 * 10**9], np.uint64)
    short = post_scratch_of_rows(1)
    batches = _sharded.Batches([(0, 1), (1, 2)], 2, stamps)
    barrier = _native.Barrier(2, 2)
    codes = {}

    def run(group, table):
        codes[group] = lib.bb_ledger_run(
            ledger.c, transfers, batches.c, group, 2, barrier.c, table, results
        )

    run_groups_at_once(run, [(0, scratch), (1, short[0])])
    assert codes == {0: lib.BB_ABORTED, 1: lib.BB_INVALID_ARGUMENT}
    assert (keep[1][1]["status"] == 0).all(), "nothing posted"

    batches = _sharded.Batches([(0, 1), (1, 2)], 2, stamps)
    barrier = _native.Barrier(1, 2)
    assert scratch.rows == 2
    rc = lib.bb_ledger_run(ledger.c, transfers, batches.c, 0, 1, barrier.c, scratch, results)
    assert rc == lib.BB_OK
    assert (keep[1][1]["status"] != 0).all(), "every row has its result"


def post_scratch_of_rows(rows: int):
    """A bb_ledger_results of `rows` rows and its columns (kept alive together)."""
    import numpy as np

    from workloads.ledger import post

    columns = {"timestamp": np.zeros(rows, np.uint64), "status": np.zeros(rows, np.uint32)}
    return post.results_pointer(columns), columns


def test_a_barrier_serves_one_run():
    """Its cell claims count batches from the first: a second run on it is refused, not run
    with every cell already claimed."""
    import numpy as np

    from workloads.ledger import _sharded

    ledger, transfers, scratch, results, keep = tiny_ledger_run()
    batches = _sharded.Batches([(0, 2)], 2, np.array([10**9], np.uint64))
    barrier = _native.Barrier(1, 2)
    codes = [
        lib.bb_ledger_run(ledger.c, transfers, batches.c, 0, 1, barrier.c, scratch, results)
        for _ in range(2)
    ]
    assert codes == [lib.BB_OK, lib.BB_INVALID_ARGUMENT]


def test_a_failing_thread_aborts_the_barrier_instead_of_hanging_the_others():
    """Two groups of one sharded run: group 1 is given a bad batch table, so it fails at
    once; group 0, waiting for it at the barrier, must return BB_ABORTED, not wait forever."""

    import numpy as np

    from workloads.ledger import _sharded

    ledger, transfers, scratch_c, results_c, keep = tiny_ledger_run()
    stamp = np.array([10**9], np.uint64)
    good = _sharded.Batches([(0, 2)], 2, stamp)
    bad = _sharded.Batches([(2, 0)], 2, stamp)  # a batch that ends before it begins
    barrier = _native.Barrier(2, 2)
    codes = {}

    def run(group, batches):
        codes[group] = lib.bb_ledger_run(
            ledger.c, transfers, batches.c, group, 2, barrier.c, scratch_c, results_c
        )

    run_groups_at_once(run, [(0, good), (1, bad)])
    assert codes == {0: lib.BB_ABORTED, 1: lib.BB_INVALID_ARGUMENT}


ASSERTING_PROGRAM = r"""
#include "internal.h"
static int evaluated = 0;
static int count(void) { evaluated++; return 1; }
int main(int argc, char **argv)
{
    BB_ASSERT(count());               /* evaluated only where assertions are on */
    BB_ASSERT(argc == 1 || evaluated < 0);
    return evaluated;
}
"""


@pytest.mark.parametrize("asserts", [True, False])
def test_bb_assert_aborts_loudly_when_on_and_vanishes_when_off(tmp_path, asserts):
    """BB_ASSERT stays on under -DNDEBUG (the interpreter's CFLAGS carry it) when built with
    BB_ASSERTS=1, and a failure aborts with the condition and its place; the release build
    neither evaluates nor checks it."""
    import pathlib
    import shutil
    import subprocess

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    root = pathlib.Path(native.__file__).resolve().parent
    source = tmp_path / "asserting.c"
    source.write_text(ASSERTING_PROGRAM)
    binary = tmp_path / "asserting"
    flags = ["-DNDEBUG", *(["-DBB_ASSERTS=1"] if asserts else [])]
    subprocess.run(
        [compiler, "-std=c11", "-Wall", "-Werror", *flags, f"-I{root / 'include'}",
         f"-I{root / 'src'}", str(source), "-o", str(binary)],
        check=True,
    )  # fmt: skip
    held = subprocess.run([str(binary)], capture_output=True, text=True)
    assert held.returncode == (1 if asserts else 0), held.stderr
    broken = subprocess.run([str(binary), "x"], capture_output=True, text=True)
    if asserts:
        assert broken.returncode < 0 or broken.returncode == 134  # SIGABRT
        assert "assertion failed: argc == 1 || evaluated < 0 (" in broken.stderr
        assert "asserting.c:" in broken.stderr
    else:
        assert broken.returncode == 0 and broken.stderr == ""


MAP_PROGRAM = r"""
#include "internal.h"
/* many keys, key 0 and 2^64 - 1 among them, through growth and a reserve: every key finds
 * its value, every other key misses, and a second upsert finds the first value */
static uint64_t key_of(uint64_t i)
{
    return i == 1 ? 0 : i == 2 ? UINT64_MAX : i * 0x9E3779B97F4A7C15ULL;
}
int main(void)
{
    enum { N = 300000 };
    bb_map m;
    if (bb_map_init(&m, 4) != BB_OK) return 2;
    for (uint64_t i = 1; i <= N; i++) {
        if (i == N / 2 && bb_map_reserve(&m, N) != BB_OK) return 3;
        int inserted;
        uint32_t *v = bb_map_upsert(&m, key_of(i), (uint32_t)i, &inserted);
        if (!v || !inserted || *v != (uint32_t)i) return 4;
    }
    for (uint64_t i = 1; i <= N; i++) {
        int inserted = 1;
        const uint32_t *v = bb_map_get(&m, key_of(i));
        if (!v || *v != (uint32_t)i) return 5;
        const uint32_t *again = bb_map_upsert(&m, key_of(i), 7, &inserted);
        if (!again || *again != (uint32_t)i || inserted) return 6;
        if (bb_map_get(&m, key_of(N + i))) return 7;   /* an odd factor: distinct keys */
    }
    if (m.size != N - 1 || !m.has_zero) return 8;   /* key 0 lives beside the table */
    bb_map_free(&m);
    return 0;
}
"""


def test_the_id_map_holds_many_keys_and_key_0_through_growth(tmp_path):
    """The map's 12-byte entries mark a free slot by key 0, so key 0 is held beside the
    table: 300,000 keys (0 and 2^64 - 1 among them) through doublings and a reserve each
    find their value, and keys never put miss."""
    import pathlib
    import shutil

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    root = pathlib.Path(native.__file__).resolve().parent
    source, binary = tmp_path / "map.c", tmp_path / "map"
    source.write_text(MAP_PROGRAM)
    subprocess.run(
        [compiler, "-std=c11", "-O1", "-Wall", "-Werror", "-DBB_ASSERTS=1", f"-I{root / 'include'}",
         f"-I{root / 'src'}", str(source), str(root / "src" / "hashmap.c"),
         str(root / "src" / "tables.c"), "-o", str(binary)],
        check=True,
    )  # fmt: skip
    assert subprocess.run([str(binary)]).returncode == 0


def test_assertions_are_on_in_the_test_builds():
    """tox's test, fuzz and sanitize environments set BANKBENCH_ASSERTS=1 for their build."""
    import os

    if os.environ.get("BANKBENCH_ASSERTS", "0") in ("", "0"):
        pytest.skip("not a test build (BANKBENCH_ASSERTS unset)")
    assert native.build_info()["asserts"] == "on"
    assert "-DBB_ASSERTS=1" in native.build_info()["flags"]


@pytest.mark.parametrize(
    "variable, value", [("CFLAGS", "-ffast-math"), ("CC", "gcc -DBANKBENCH_CC_FROM_ENVIRONMENT=1")]
)
def test_a_compiler_or_flags_from_the_environment_make_a_custom_build(tmp_path, variable, value):
    """setuptools applies CC and CFLAGS from the environment to the core's compile line: such
    a build is another program, so it is labelled custom (never portable) and its effective
    line shows them (h15: CFLAGS=-march=native gave 270 AVX instructions in a build labelled
    portable whose record did not show the flag)."""
    work = _copy_of_the_package(tmp_path)
    for built in (work / "native").glob("_bankcore*"):
        built.unlink()
    env = {
        name: text
        for name, text in os.environ.items()
        if name not in ("CC", "CFLAGS", "CPPFLAGS", "BANKBENCH_BUILD_LABEL", "LD_PRELOAD")
        and name != "BANKBENCH_EXTRA_CFLAGS"
    }
    subprocess.run(
        [sys.executable, "native/build.py", "--quiet"],
        cwd=work,
        env={**env, variable: value},
        check=True,
        capture_output=True,
    )
    check = "import json, native; print(json.dumps(native.build_info()))"
    info = json.loads(
        subprocess.run(
            [sys.executable, "-c", check], cwd=work, env=env, capture_output=True, text=True,
            check=True,
        ).stdout
    )  # fmt: skip
    assert info["label"] == "custom" and value in info["effective_line"], info


def test_tigerbeetle_result_codes_are_defined_once_in_the_header():
    """bankcore.h's BB_TB_* are the codes: Python reads each from the compiled core."""
    from workloads.ledger import _tigerbeetle as tb

    in_core = {
        name.removeprefix("BB_TB_").lower(): getattr(lib, name)
        for name in dir(lib)
        if name.startswith("BB_TB_") and name != "BB_TB_CREATED"
    }
    assert in_core == tb.CODES and tb.CREATED == lib.BB_TB_CREATED == 0xFFFF_FFFF
    assert tb.EXCEEDS_CREDITS == 54 and tb.ID_ALREADY_FAILED == 68  # TigerBeetle's numbers
    source = (pathlib.Path(native.__file__).parent / "src" / "ledger.c").read_text()
    assert "EXCEEDS_CREDITS = " not in source  # no second definition
