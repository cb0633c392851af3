"""cffi API-mode (out-of-line) builder for the bankbench C core.

Run by the package build through ``cffi_modules`` (see setup.py). The compile flags are
pinned here so that the core does not silently inherit the interpreter's CFLAGS (pyenv
builds use -O3, Debian's aarch64 python3 uses -O2): our flags come last on the command line,
so they win. ``BANKBENCH_TUNE`` makes a labelled tuned build (``native``, ``tsv110``,
``neoverse-n1``, ``x86-64-v3``…); ``BANKBENCH_EXTRA_CFLAGS`` appends flags for other special
builds (sanitizers); ``BANKBENCH_ASSERTS=1`` keeps the core's BB_ASSERT invariants in the build
(the test, sanitizer and fuzz builds). Every flag lands in the build record.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import platform
import sys

import cffi

HERE = pathlib.Path(__file__).resolve().parent
HEADER = HERE / "include" / "bankcore.h"
SOURCES = sorted((HERE / "src").glob("*.c"))


def cdef_text() -> str:
    """The declarations between the header's CDEF markers (plain C for pycparser)."""
    text = HEADER.read_text()
    start = text.index("/* BEGIN CDEF */") + len("/* BEGIN CDEF */")
    return text[start : text.index("/* END CDEF */")]


def _load_by_path(name: str):
    """native/<name>.py, loaded by path: cffi runs this file before the ``native`` package
    can be imported."""
    spec = importlib.util.spec_from_file_location(f"_bankcore{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def source_hash() -> str:
    """The sources' hash, built into the core (native/_source_hash.py: ``import native``
    compares it with the sources beside an in-place build)."""
    return _load_by_path("_source_hash").source_hash(HERE)


def file_hashes_json() -> str:
    """Each source file's hash, built into the core: workloads hash their own files from it."""
    return json.dumps(_load_by_path("_source_hash").file_hashes(HERE), sort_keys=True)


_flags = _load_by_path("_flags")
PORTABLE_CFLAGS = _flags.PORTABLE_CFLAGS  # one definition: native/_flags.py
ENVIRONMENT_COMPILER_VARIABLES = _flags.ENVIRONMENT_COMPILER_VARIABLES
tune_flags, c_string = _flags.tune_flags, _flags.c_string
settings = _flags.build(platform.machine())
tune, extra_cflags, asserts = settings.tune, settings.extra_cflags, settings.asserts
compiler_environment, build_label = settings.compiler_environment, settings.label
compile_args, effective_line = settings.compile_args, settings.effective_line

ffibuilder = cffi.FFI()
ffibuilder.cdef(
    cdef_text()
    + """
    const char *bb_build_flags(void);
    const char *bb_build_effective_line(void);
    const char *bb_build_compiler(void);
    const char *bb_build_source_sha256(void);
    const char *bb_build_file_sha256_json(void);
    const char *bb_build_label(void);
    int bb_build_asserts(void);
    """
)
ffibuilder.set_source(
    "native._bankcore",
    '#include "bankcore.h"\n'
    f"const char *bb_build_flags(void) {{ return {c_string(' '.join(compile_args))}; }}\n"
    f"const char *bb_build_effective_line(void) {{ return {c_string(effective_line)}; }}\n"
    "const char *bb_build_compiler(void) { return __VERSION__; }\n"
    f"const char *bb_build_source_sha256(void) {{ return {c_string(source_hash())}; }}\n"
    "const char *bb_build_file_sha256_json(void) "
    f"{{ return {c_string(file_hashes_json())}; }}\n"
    f"const char *bb_build_label(void) {{ return {c_string(build_label)}; }}\n"
    f"int bb_build_asserts(void) {{ return {int(asserts)}; }}\n",
    sources=[str(path.relative_to(HERE.parent)) for path in SOURCES],
    include_dirs=[
        str((HERE / "include").relative_to(HERE.parent)),
        str((HERE / "src").relative_to(HERE.parent)),
    ],
    extra_compile_args=compile_args,
    extra_link_args=settings.link_args,
)

if __name__ == "__main__":  # python native/build.py [--quiet]: build in place, for development
    os.chdir(HERE.parent)
    ffibuilder.compile(verbose="--quiet" not in sys.argv)
    print(platform.machine(), "built", effective_line)
