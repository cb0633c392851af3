"""A workload added from outside bench/: its own module, its own C file and its own golden
entry are all it takes. The toy (``toy.sum``: the total of a column of amounts, C and Python)
lives in a temporary folder: ``toy_workload.py`` (the module: spec, generator, reference,
binding, declarations), ``toy_sum.c`` (its C, compiled with cffi in that folder) and
``toy_golden.json`` (its golden entry). Nothing in the repository is edited: the plan, verify
and the benchmark suite find its benchmarks in its declarations."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

TOY_C = """\
#include <stdint.h>
/* the total of n amounts; 1 when it would overflow int64 (never wraps) */
int32_t toy_sum(const int64_t *amount_fen, int64_t n, int64_t *total_fen)
{
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        if (__builtin_add_overflow(total, amount_fen[i], &total)) return 1;
    }
    *total_fen = total;
    return 0;
}
"""

TOY_MODULE = '''\
"""toy.sum: the total of a column of amounts (a test's toy workload)."""

import pathlib

import numpy as np
import pyarrow as pa

from workloads import _native, _tables, registry
from workloads._base import BATCH, Benchmark, Workload, scaled
from workloads._rng import Stream

HERE = pathlib.Path(__file__).resolve().parent
AMOUNTS = {"amount_fen": pa.int64()}
TOTALS = {"total_fen": pa.int64()}


class ToySum(Workload):
    name = "toy.sum"
    unit = "amounts"
    engines = ("c", "python")
    input_schemas = {"amounts": AMOUNTS}
    output_schemas = {"totals": TOTALS}
    benchmarks = (Benchmark(BATCH),)  # one thread: the sum is not split
    c_sources = (str(HERE / "toy_sum.c"),)
    golden_path = HERE / "toy_golden.json"

    def _generate(self, scale, seed):
        n = scaled(100_000, scale)
        amounts = Stream(seed, "toy.amount").bounded(n, 1_000_000).astype(np.int64)
        return {"amounts": _tables.table({"amount_fen": amounts}, AMOUNTS)}

    def _run_python(self, inputs, threads):
        total = sum(inputs["amounts"].column("amount_fen").to_pylist())
        return {"totals": _tables.from_rows([(total,)], TOTALS)}

    def _run_c(self, inputs, threads):
        from toy_core import ffi, lib

        amounts = _native.column_view(inputs["amounts"].column("amount_fen"))
        total = ffi.new("int64_t *")
        rc = lib.toy_sum(ffi.from_buffer("int64_t[]", amounts), len(amounts), total)
        assert rc == 0, "toy_sum overflowed"
        return {"totals": _tables.table({"total_fen": np.array([total[0]])}, TOTALS)}

    def _check(self, inputs, outputs):
        assert outputs["totals"].num_rows == 1, "one total"

    def _units(self, inputs):
        return inputs["amounts"].num_rows


registry.register(ToySum())
'''


def _compile_toy_core(folder: pathlib.Path) -> pathlib.Path:
    """toy_sum.c as its own cffi extension (not the bankbench core), built in ``folder``/build;
    returns that folder."""
    build = textwrap.dedent(
        f"""
        import cffi
        ffi = cffi.FFI()
        ffi.cdef("int32_t toy_sum(const int64_t *, int64_t, int64_t *);")
        ffi.set_source("toy_core", '#include <stdint.h>', sources=[{str(folder / "toy_sum.c")!r}],
                       extra_compile_args=["-std=c11", "-O2"])
        ffi.compile(tmpdir={str(folder / "build")!r})
        """
    )
    subprocess.run([sys.executable, "-c", build], cwd=folder, check=True, capture_output=True)
    return folder / "build"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy")
    (folder / "toy_sum.c").write_text(TOY_C)
    (folder / "toy_workload.py").write_text(TOY_MODULE)
    built = _compile_toy_core(folder)
    sys.path[:0] = [str(folder), str(built)]
    import toy_workload  # noqa: F401  (registers toy.sum)

    from workloads import golden, registry

    golden.write(["toy.sum"])  # the reference's digest, into the toy's own golden file
    yield folder, registry.get("toy.sum")
    # gone again: the tests after these see the built-in workloads only
    del registry._WORKLOADS["toy.sum"]
    for module in ("toy_workload", "toy_core"):
        sys.modules.pop(module, None)
    sys.path.remove(str(folder))
    sys.path.remove(str(built))


def _repository_state() -> str:
    # .ci/sanitize's copy of the tracked files has no .git; the emulated arm64 root has no git
    if not (ROOT / ".git").exists() or not shutil.which("git"):
        pytest.skip("not a git checkout with git: nothing can show which files the toy touched")
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_a_new_workload_touches_only_its_module_its_c_and_its_golden_entry(toy):
    from bench import plan, verify
    from workloads import golden

    before = _repository_state()
    folder, workload = toy
    assert sorted(p.name for p in folder.iterdir() if p.suffix in (".py", ".c", ".json")) == [
        "toy_golden.json",
        "toy_sum.c",
        "toy_workload.py",
    ]
    entry = json.loads((folder / "toy_golden.json").read_text())["workloads"]["toy.sum"]
    assert golden.entry(workload) == entry and "toy.sum" not in golden.load()
    chosen = plan.resolve("smoke", ["toy.sum"], threads=[1, 2])
    assert [c.test_id() for c in chosen.cases()] == ["toy.sum-c-1t", "toy.sum-python-1t"]
    rows = list(verify.rows(["toy.sum"], None, [1]))
    assert [(r.engine, r.verdict) for r in rows] == [("c", "OK"), ("python", "OK")]
    assert _repository_state() == before  # nothing in the repository was written


def test_a_new_workloads_source_hash_is_its_own_c_and_the_shared_core(toy, monkeypatch):
    import native

    folder, workload = toy
    own = workload.source_sha256()
    built = native.file_sha256()
    monkeypatch.setattr(native, "file_sha256", lambda: {**built, "src/ledger.c": "0" * 64})
    assert workload.source_sha256() == own  # another workload's C: no change
    monkeypatch.setattr(native, "file_sha256", lambda: {**built, "src/rng.c": "0" * 64})
    assert workload.source_sha256() != own  # its generator's C, shared by every workload
    monkeypatch.setattr(native, "file_sha256", lambda: built)
    assert workload.source_sha256() == own
    source = folder / "toy_sum.c"
    source.write_text(TOY_C + "/* changed */\n")
    try:
        assert workload.source_sha256() != own  # its own C
    finally:
        source.write_text(TOY_C)


def test_the_suite_benchmarks_a_new_workload_from_its_declarations(toy, tmp_path):
    from bench import plan, run

    folder, _ = toy
    job = tmp_path / "job.json"
    chosen = plan.resolve("smoke", ["toy.sum"], rounds=1)
    job.write_text(json.dumps({"plan": chosen.to_dict()}))  # measured, not recorded
    result = subprocess.run(
        [sys.executable, "-m", "pytest", run.suite_folder(), "-q", "-p", "no:cacheprovider",
         "-p", "toy_workload", "--benchmark-disable", f"--bankbench-job={job}"],
        capture_output=True, text=True, cwd=tmp_path,  # the installed bankbench, whatever it is
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(folder / "build")])},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 passed" in result.stdout, result.stdout[-2000:]
