"""The audited targets: the installed core (its build record, its shared library, its
sources proved by compiling) and the sources compiled for a target with the pinned flags."""

from __future__ import annotations

import os
import pathlib
import shlex
import shutil
import tempfile

from bench import fingerprint
from bench.audit import compiling
from bench.audit._common import NATIVE, PLUGIN_PREFIX, AuditError, Target, tool
from bench.audit.compiling import VARIANTS, Toolchain, compile_objects, differences
from bench.audit.flags import audit_flags, predefined
from bench.audit.objdump import FLOAT_CLASSES, atomics, audit_code, describe, disassemble
from bench.audit.preprocessing import same_program

KUNPENG_920_FLAGS = ["-mcpu=tsv110"]  # ARMv8.2-A with LSE, no SVE


def kunpeng_atomics(toolchain: Toolchain, flags: list[str], folder: pathlib.Path) -> str:
    """The atomics a Kunpeng 920 build (ARMv8.2-A with LSE: -mcpu=tsv110) compiles to."""
    with tempfile.TemporaryDirectory() as scratch:
        objects = compile_objects(toolchain, [*flags, *KUNPENG_920_FLAGS], folder, scratch)
        code = [i for o in objects for i in disassemble(o, toolchain.objdump)]
    return describe(atomics(code, "aarch64"))


def _compiler_of(line: list[str]) -> tuple[list[str], list[str]]:
    """The compiler command and the flags of a whole compile line."""
    first_flag = next((n for n, word in enumerate(line) if word.startswith("-")), len(line))
    return line[:first_flag], line[first_flag:]


def installed(folder: pathlib.Path = NATIVE) -> Target:
    import native

    info = native.build_info()
    arch = fingerprint.machine()  # the core was built for the host it runs on
    if arch not in FLOAT_CLASSES:
        raise AuditError(f"no instruction tables for {arch}; audit supports x86_64 and aarch64")
    target = Target("installed core", arch, info["label"], shlex.split(info["flags"]))
    # the sources proved below must be the ones the core was built from (import native checks
    # the sources beside the core; these may lie elsewhere, or be a copy)
    if why := native.stale_reason(folder=folder):
        target.errors.append(
            f"the core was built from other sources: rebuild it (python native/build.py): {why}"
        )
    line = shlex.split(info.get("effective_line") or info["flags"])
    command, line_flags = _compiler_of(line)
    audit_flags(target, line_flags, command)
    import native._bankcore

    objdump = tool("objdump")
    audit_code(target, [native._bankcore.__file__], objdump)
    if not (command and shutil.which(command[0])):
        command = [tool("cc", "gcc")]
        target.notes.append(f"the build's compiler is not here: proved with {command[0]}")
    toolchain = Toolchain(tuple(command), objdump)
    _prove(target, toolchain, line_flags, folder)
    target.facts = predefined(command[0], [*command[1:], *line_flags])
    target.facts["page size"] = os.sysconf("SC_PAGE_SIZE")
    return target


def cross(
    arch: str = "aarch64",
    flags: list[str] | None = None,
    label: str = "portable",
    folder: pathlib.Path = NATIVE,
    prove: bool = True,
    plugin: str = "",
) -> Target:
    """The sources in ``folder`` compiled (not linked) for ``arch`` — this host's or another —
    with the pinned flags, or with ``flags`` to audit a variant; ``prove=False`` skips the
    compilations under each setting (for a quick look at one variant's code). ``plugin``: the
    workload whose own C they are, named by the target and its findings."""
    from native.build import PORTABLE_CFLAGS

    if not (folder / "src").is_dir():
        raise AuditError(f"the C sources are not installed ({folder / 'src'})")
    toolchain = compiling.toolchain_for(arch)
    if arch not in FLOAT_CLASSES:
        raise AuditError(f"no instruction tables for {arch}; audit supports x86_64 and aarch64")
    flags = list(PORTABLE_CFLAGS if flags is None else flags)
    where = "compiled" if arch == fingerprint.machine() else "cross-compiled"
    name = f"sources {where} for {arch}"
    target = Target(f"{PLUGIN_PREFIX}{plugin}: {name}" if plugin else name, arch, label, flags)
    audit_flags(target)
    with tempfile.TemporaryDirectory() as scratch:
        audit_code(target, compile_objects(toolchain, flags, folder, scratch), toolchain.objdump)
    if prove:
        _prove(target, toolchain, flags, folder)
    target.facts = predefined(toolchain.compiler[0], flags)
    return target


def _prove(target: Target, toolchain: Toolchain, flags: list[str], folder: pathlib.Path) -> None:
    if target.arch not in VARIANTS:
        return
    found = differences(toolchain, target.arch, flags, folder)
    target.errors.extend(found)
    target.proved.extend(VARIANTS[target.arch])
    same_program(target, toolchain, flags, folder)
    settings = ", ".join(
        f"{s} ({' / '.join(' '.join(c) for c in choices)})"
        for s, choices in VARIANTS[target.arch].items()
    )
    target.notes.append(
        f"proved by compiling: {'differs' if found else 'identical object code'} under {settings}"
    )
    if target.arch == "aarch64":
        _prove_long_double_widths(target, flags, folder)
        kunpeng = kunpeng_atomics(toolchain, flags, folder)
        target.notes.append(f"a Kunpeng 920 build (-mcpu=tsv110, LSE) would use: {kunpeng}")


def _prove_long_double_widths(target: Target, flags: list[str], folder: pathlib.Path) -> None:
    """aarch64 has no long double width switch (binary128 by the ABI): a long double computed
    at run time shows as soft-float calls, but one folded to an integer constant at compile
    time leaves no trace. The x86-64 compiler (this host's, or a cross compiler) can choose
    the width: the same sources must compile to the same code under each (same flags, less
    the -m target options)."""
    setting = "long double width"
    try:
        x86 = compiling.toolchain_for("x86_64")
    except AuditError:
        target.not_proved.append(f"{setting} (no x86_64 compiler)")
        target.notes.append(
            "long double: not proved on this host (aarch64 has no width switch; no x86_64 "
            "compiler to try them): only long double at run time shows, as soft-float calls"
        )
        return
    common = [f for f in flags if not f.startswith("-m")]
    found = differences(x86, "x86_64", common, folder, (setting,))
    target.errors.extend(found)
    target.proved.append(setting)
    target.notes.append(
        f"long double: aarch64 has no width switch; proved with the x86-64 compiler "
        f"({x86.compiler[0]}): {'differs' if found else 'identical object code'} under "
        + " / ".join(" ".join(c) for c in VARIANTS["x86_64"][setting])
    )
