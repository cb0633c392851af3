"""The build helper for a workload plugin's C: the same pinned flags, tuned-build switch and
build record as bankbench's own core (native/_flags.py is the one definition of both).

A plugin's build script, named in its setup.py as ``cffi_modules=["build_core.py:ffibuilder"]``::

    from native.plugin_build import plugin_ffibuilder

    ffibuilder = plugin_ffibuilder(
        "acme_accrual._core",                  # the extension the plugin's _run_c imports
        cdef="int32_t acme_accrue(const int64_t *balance_fen, int64_t n, int64_t *out_fen);",
        sources=["acme_accrual/accrual.c"],    # relative to the plugin's setup.py
    )

The extension carries its build record (``build_record(module)``: label, compiler, flags,
effective line, source hash, asserts), recorded with every result of the plugin's workloads
beside the core's. The workload declares ``c_module = "acme_accrual._core"``.

``bankbench new-workload`` copies this file with ``_flags.py`` and ``_source_hash.py`` into the
plugin's ``bankbench_build/`` folder, so the plugin builds with setuptools and cffi alone, in
pip's isolated build environment, where bankbench is not (it is on no package index). The copy
is the same definition, not a second one: a plugin whose recorded flags differ from the
core's (a copy older than the installed bankbench) is left out with the command that
refreshes it (``refusal``)."""

from __future__ import annotations

import hashlib
import importlib
import os
import pathlib
import platform
from collections.abc import Sequence

if __package__:  # native.plugin_build, in bankbench
    from native import _flags, _source_hash
else:  # a plugin's copy (bankbench_build/), beside copies of its two standard-library helpers
    import _flags  # type: ignore[no-redef]
    import _source_hash  # type: ignore[no-redef]

# the build record's functions, in every plugin extension (each is its own shared object)
RECORD_CDEF = """
const char *bankbench_build_label(void);
const char *bankbench_build_compiler(void);
const char *bankbench_build_flags(void);
const char *bankbench_build_effective_line(void);
const char *bankbench_build_source_sha256(void);
int bankbench_build_asserts(void);
"""


def own_source_hash(paths: Sequence[str | os.PathLike]) -> str:
    """The hash of a plugin's own C, as a workload's source hash keys it (workloads/_base.py):
    by file name, so one plugin built in two folders or on two machines hashes alike."""
    return _source_hash.workload_source_hash(
        {
            f"own/{pathlib.Path(p).name}": hashlib.sha256(pathlib.Path(p).read_bytes()).hexdigest()
            for p in paths
        }
    )


def plugin_ffibuilder(
    module_name: str,
    cdef: str,
    sources: Sequence[str],
    include_dirs: Sequence[str] = (),
    headers: Sequence[str] = (),
    preamble: str = "#include <stdint.h>\n",
):
    """A cffi FFI for ``module_name`` compiled with bankbench's flags. ``headers``: the
    plugin's own headers, hashed with ``sources`` into the record."""
    import cffi

    settings = _flags.build(platform.machine())
    source_sha256 = own_source_hash([*sources, *headers])
    record = {
        "label": settings.label,
        "flags": " ".join(settings.compile_args),
        "effective_line": settings.effective_line,
        "source_sha256": source_sha256,
    }
    functions = "".join(
        f"const char *bankbench_build_{key}(void) {{ return {_flags.c_string(value)}; }}\n"
        for key, value in record.items()
    )
    ffibuilder = cffi.FFI()
    ffibuilder.cdef(cdef + RECORD_CDEF)
    ffibuilder.set_source(
        module_name,
        preamble
        + functions
        + "const char *bankbench_build_compiler(void) { return __VERSION__; }\n"
        + f"int bankbench_build_asserts(void) {{ return {int(settings.asserts)}; }}\n",
        sources=list(sources),
        include_dirs=list(include_dirs),
        extra_compile_args=settings.compile_args,
        extra_link_args=settings.link_args,
    )
    return ffibuilder


def build_record(module_name: str) -> dict[str, str]:
    """How a plugin's extension was built, in the keys of ``native.build_info()``."""
    import cffi

    module = importlib.import_module(module_name)
    ffi, lib = module.ffi, module.lib

    def text(function) -> str:
        return ffi.string(function()).decode()

    return {
        "label": text(lib.bankbench_build_label),
        "compiler": text(lib.bankbench_build_compiler),
        "flags": text(lib.bankbench_build_flags),
        "effective_line": text(lib.bankbench_build_effective_line),
        "source_sha256": text(lib.bankbench_build_source_sha256),
        "asserts": "on" if lib.bankbench_build_asserts() else "off",
        "cffi_version": cffi.__version__,
        "machine": platform.machine(),
    }


def refusal(record: dict[str, str], core: dict[str, str]) -> str | None:
    """Why a plugin's build may not run beside the core (None: it may): one run has one build
    label, so a plugin built tuned (``-march=native``…) or custom beside a portable core, or
    the other way round, would time two programs under one label. The reason names the flags
    that differ, so the user sees what to take out of (or put into) the plugin's build."""
    differs = flag_difference(record["effective_line"], core["effective_line"])
    if record["label"] != core["label"]:
        return (
            f"its C was built '{record['label']}', the core '{core['label']}' ({differs}): "
            "rebuild it with the core's settings (pip install -e <the plugin's folder> with "
            "the same BANKBENCH_TUNE and CFLAGS)"
        )
    if "=native" in record["effective_line"] and record["label"] != "tuned-native":
        return f"its C was built with -march/-mcpu=native but not labelled tuned-native ({differs})"
    if pinned_flags(record["flags"]) != pinned_flags(core["flags"]):
        return (
            f"its C was built with other pinned flags than the core ("
            f"{flag_difference(record['flags'], core['flags'])}: the plugin's copy of the build "
            "helper is from another bankbench): refresh it with "
            "bankbench new-workload --refresh-build-helper <the plugin's folder>, then "
            "pip install -e <the plugin's folder>"
        )
    return None


def pinned_flags(flags: str) -> list[str]:
    """A build's compile flags less the assertion switch, which only the core's own C reads
    (its BB_ASSERT macro; recorded apart, as ``asserts``)."""
    return [flag for flag in flags.split() if flag != "-DBB_ASSERTS=1"]


def flag_difference(plugin_line: str, core_line: str) -> str:
    """The words of a plugin's compile line that the core's lacks and the other way round,
    e.g. "plugin adds -march=native" (the assertion switch aside: only the core reads it)."""
    plugin, core = pinned_flags(plugin_line), pinned_flags(core_line)
    added = [flag for flag in plugin if flag not in core]
    missing = [flag for flag in core if flag not in plugin]
    parts = [f"plugin adds {' '.join(added)}"] if added else []
    parts += [f"plugin lacks {' '.join(missing)}"] if missing else []
    # the same words in another order (a later -O wins): say so rather than nothing
    return "; ".join(parts) or "the same flags in another order"
