"""A workload's source hash covers every C file its results depend on: its declared
``c_sources`` and the shared core files are closed under the calls between the core's
objects, and hold every C function its engines call. Proved from the compiled objects (each
file's defined and undefined symbols, by nm) and from the calls a run of each C path makes,
not from reading the text."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

import native
from native import _source_hash
from workloads import ONLINE, registry

NATIVE = pathlib.Path(native.__file__).resolve().parent
pytestmark = pytest.mark.skipif(
    not (shutil.which("cc") and shutil.which("nm")), reason="needs a C compiler and nm"
)


def _symbols(obj: pathlib.Path, *flags: str) -> set[str]:
    out = subprocess.run(["nm", "-P", *flags, str(obj)], capture_output=True, text=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def core_objects(tmp_path_factory):
    """Per core C file (``src/x.c``): (the symbols it defines, those it needs)."""
    folder = tmp_path_factory.mktemp("objects")
    found = {}
    for source in sorted((NATIVE / "src").glob("*.c")):
        obj = folder / (source.stem + ".o")
        subprocess.run(
            ["cc", "-std=c11", "-c", f"-I{NATIVE / 'include'}", f"-I{NATIVE / 'src'}",
             str(source), "-o", str(obj)],
            check=True,
        )  # fmt: skip
        name = source.relative_to(NATIVE).as_posix()
        found[name] = (_symbols(obj, "-g", "--defined-only"), _symbols(obj, "-u"))
    return found


def _closure_misses(files: set[str], objects: dict) -> dict[str, str]:
    """Core symbols some file of ``files`` needs that none of them defines: {symbol: file
    that defines it}."""
    defined_by = {s: name for name, (defs, _) in objects.items() for s in defs}
    have = set().union(*(objects[f][0] for f in files if f in objects))
    need = set().union(*(objects[f][1] for f in files if f in objects))
    return {s: defined_by[s] for s in need - have if s in defined_by}


@pytest.mark.parametrize("name", registry.names())
def test_declared_sources_are_closed_under_the_cores_calls(name, core_objects):
    workload = registry.get(name)
    files = {*_source_hash.SHARED_CORE, *workload.c_sources}
    assert all(f in core_objects or not f.endswith(".c") for f in files), files
    assert _closure_misses(files, core_objects) == {}, f"{name}: c_sources lacks these"


class _Recording:
    """native.lib, recording the names its users look up."""

    def __init__(self, lib, seen: set[str]):
        self._lib, self._seen = lib, seen

    def __getattr__(self, attribute: str):
        self._seen.add(attribute)
        return getattr(self._lib, attribute)


@pytest.mark.parametrize("name", registry.names())
def test_every_c_function_a_workload_calls_is_in_its_sources(name, core_objects, monkeypatch):
    workload = registry.get(name)
    seen: set[str] = set()
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("workloads") and (
            getattr(module, "lib", None) is native.lib
        ):
            monkeypatch.setattr(module, "lib", _Recording(native.lib, seen))
    inputs = workload.generate(scale=0.002)
    workload.run(inputs, engine="c", threads=2)
    if ONLINE in workload.kinds():
        session = workload.online(inputs, "c")
        session.decide(0)
        session.decide_many(1, min(3, session.size))
    for declared in workload.benchmarks:
        for size in declared.batch_sizes if declared.kind == "batching" else ():
            workload.run(workload.batched(inputs, size), engine="c", threads=1)
    defined_by = {s: f for f, (defs, _) in core_objects.items() for s in defs}
    called = {defined_by[s] for s in seen if s in defined_by}
    assert called, f"{name}: no C call was seen"
    files = {*_source_hash.SHARED_CORE, *workload.c_sources}
    assert called <= files, f"{name} calls into {sorted(called - files)}, not in its c_sources"
