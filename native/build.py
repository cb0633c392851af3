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
import shlex
import sysconfig

import cffi

HERE = pathlib.Path(__file__).resolve().parent
HEADER = HERE / "include" / "bankcore.h"
SOURCES = sorted((HERE / "src").glob("*.c"))

PORTABLE_CFLAGS = [
    "-std=c11",
    "-O2",
    "-ffp-contract=off",  # no fused multiply-add: x86-64 and aarch64 must round alike
    "-fno-strict-aliasing",
    "-fno-wrapv",  # pyenv interpreters add -fwrapv; signed overflow must stay a bug we catch
    "-Wall",
    "-Wextra",
    "-Wshadow",
    "-Wstrict-prototypes",
    "-Wno-unused-parameter",  # cffi's generated wrappers trip this, not our sources
]


def cdef_text() -> str:
    """The declarations between the header's CDEF markers (plain C for pycparser)."""
    text = HEADER.read_text()
    start = text.index("/* BEGIN CDEF */") + len("/* BEGIN CDEF */")
    return text[start : text.index("/* END CDEF */")]


def _source_hash_module():
    """native/_source_hash.py, loaded by path: cffi runs this file before the ``native``
    package can be imported."""
    spec = importlib.util.spec_from_file_location("_bankcore_source_hash", HERE / "_source_hash.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def source_hash() -> str:
    """The sources' hash, built into the core (native/_source_hash.py: ``import native``
    compares it with the sources beside an in-place build)."""
    return _source_hash_module().source_hash(HERE)


def file_hashes_json() -> str:
    """Each source file's hash, built into the core: workloads hash their own files from it."""
    return json.dumps(_source_hash_module().file_hashes(HERE), sort_keys=True)


def c_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tune_flags(target: str, machine: str) -> list[str]:
    """The flags of a tuned build: ``native`` (this CPU) or a named target — a CPU such as
    tsv110 (Kunpeng 920) or neoverse-n1 on Arm, an ISA level such as x86-64-v3 or
    armv8.2-a. Contraction stays off: a tuned build must still compute the same answers."""
    if not target:
        return []
    if machine in ("aarch64", "arm64"):
        if target.startswith("armv"):
            return [f"-march={target}"]
        return [f"-mcpu={target}"]
    return [f"-march={target}"]


tune = os.environ.get("BANKBENCH_TUNE", "").strip()
extra_cflags = shlex.split(os.environ.get("BANKBENCH_EXTRA_CFLAGS", ""))
# BB_ASSERT in the core: on in the test, sanitizer and fuzz builds (tox.ini, .ci/sanitize),
# off in the release build
asserts = os.environ.get("BANKBENCH_ASSERTS", "0").strip() not in ("", "0")
assert_flags = ["-DBB_ASSERTS=1"] if asserts else []
# The compiler variables setuptools takes from the environment (distutils' customize_compiler):
# CC replaces the compiler, CFLAGS and CPPFLAGS join every compile line (before ours, so a
# flag we pin still wins, but -march=native or -ffast-math there is obeyed).
ENVIRONMENT_COMPILER_VARIABLES = ("CC", "CFLAGS", "CPPFLAGS", "LDSHARED", "LDFLAGS")
compiler_environment = {
    name: os.environ[name]
    for name in ENVIRONMENT_COMPILER_VARIABLES
    if os.environ.get(name, "").strip()
}
# extra flags, or a compiler or flags from the environment, make another program: never
# labelled portable (the audit reads the whole effective line too)
build_label = os.environ.get("BANKBENCH_BUILD_LABEL") or (
    "custom" if extra_cflags or compiler_environment else f"tuned-{tune}" if tune else "portable"
)
compile_args = PORTABLE_CFLAGS + tune_flags(tune, platform.machine()) + assert_flags + extra_cflags
effective_line = " ".join(
    word
    for word in [
        compiler_environment.get("CC") or sysconfig.get_config_var("CC") or "cc",
        sysconfig.get_config_var("CFLAGS") or "",
        compiler_environment.get("CFLAGS", ""),
        compiler_environment.get("CPPFLAGS", ""),
        *compile_args,
    ]
    if word
)

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
    extra_link_args=[flag for flag in extra_cflags if flag.startswith("-fsanitize")],
)

if __name__ == "__main__":  # python native/build.py [--quiet]: build in place, for development
    import sys

    os.chdir(HERE.parent)
    ffibuilder.compile(verbose="--quiet" not in sys.argv)
    print(platform.machine(), "built", effective_line)
