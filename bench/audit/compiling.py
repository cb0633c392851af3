"""Compiling: the toolchain for a target, the core's sources compiled under each setting
that differs between x86-64 and aarch64 (cached by source contents, in parallel), and the
functions whose object code those settings change."""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import pathlib
import re
import tempfile
from dataclasses import dataclass

from bench import fingerprint
from bench.audit._common import check_output, tool
from bench.audit.flags import effective, predefined
from bench.audit.objdump import FUNCTION_LINE

# Settings that differ between x86-64 and aarch64, as compiler switches per target; the object
# code must be the same under each. aarch64 has no switch for the long double width (binary128
# is fixed by AAPCS64; -mabi=ilp32 keeps it): there long double shows up as soft-float calls,
# and the x86-64 widths cover the shared sources. Contraction on x86-64 is tried with FMA
# instructions enabled: baseline x86-64 has none to contract to.
VARIANTS: dict[str, dict[str, list[list[str]]]] = {
    "x86_64": {
        "plain char signedness": [["-fsigned-char"], ["-funsigned-char"]],
        "long double width": [["-mlong-double-80"], ["-mlong-double-64"], ["-mlong-double-128"]],
        "floating-point contraction": [
            ["-mfma", "-ffp-contract=off"],
            ["-mfma", "-ffp-contract=fast"],
        ],
    },
    "aarch64": {
        "plain char signedness": [["-fsigned-char"], ["-funsigned-char"]],
        "floating-point contraction": [["-ffp-contract=off"], ["-ffp-contract=fast"]],
    },
}


@dataclass(frozen=True)
class Toolchain:
    compiler: tuple[str, ...]  # the command, which may carry its own flags (CC="gcc -pthread")
    objdump: str


def _sources(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted((folder / "src").glob("*.c"))


def source_contents(folder: pathlib.Path) -> dict[str, str]:
    """Each source's identity for the object cache: its bytes and every header's (a source
    includes headers, never another source), not its folder — a copy of the core with one
    file added compiles only that file again."""
    headers = hashlib.sha256()
    for path in sorted([*folder.glob("src/*.h"), *folder.glob("include/*.h")]):
        headers.update(path.name.encode() + b"\0" + path.read_bytes())
    return {
        source.name: hashlib.sha256(headers.digest() + source.read_bytes()).hexdigest()
        for source in _sources(folder)
    }


def _signature(path: str, objdump: str) -> tuple[dict[str, str], dict[str, str]]:
    """What an object computes: each function's code (with its relocations) and the contents
    of its data sections — not its debug information (which names char's signedness)."""
    functions: dict[str, list[str]] = {}
    name = "?"
    for line in check_output([objdump, "-d", "-r", "--no-show-raw-insn", path]).splitlines():
        if match := FUNCTION_LINE.match(line):
            name = match.group(1)
            functions[name] = []
        elif line.startswith((" ", "\t")) and name in functions:
            functions[name].append(line)
    sections: dict[str, list[str]] = {}
    section = None
    for line in check_output([objdump, "-s", path]).splitlines():
        if match := re.match(r"^Contents of section (\S+):$", line):
            section = match.group(1)
            if section.startswith((".debug", ".comment", ".note", ".rela.debug")):
                section = None
            else:
                sections[section] = []
        elif section and line.startswith(" "):
            sections[section].append(line)
    return (
        {k: "\n".join(v) for k, v in functions.items()},
        {k: "\n".join(v) for k, v in sections.items()},
    )


def _compile(
    toolchain: Toolchain, flags: tuple[str, ...], folder: pathlib.Path, source: str
) -> bytes:
    """The object file's bytes, without debug information (-g0: it records char's
    signedness, which is not code) and without the folder in __FILE__ (the macro prefix map),
    so that the same source compiles to the same bytes wherever it lies."""
    include = ["-I", str(folder / "include"), "-I", str(folder / "src")]
    include.append(f"-fmacro-prefix-map={folder}/=")
    with tempfile.TemporaryDirectory() as scratch:
        obj = f"{scratch}/{pathlib.Path(source).stem}.o"
        check_output(
            [
                *toolchain.compiler,
                *flags,
                "-g0",
                *include,
                "-c",
                str(folder / "src" / source),
                "-o",
                obj,
            ]
        )
        return pathlib.Path(obj).read_bytes()


_objects: dict[tuple, bytes] = {}


def _compile_many(
    toolchain: Toolchain, builds: list[tuple[str, ...]], folder: pathlib.Path
) -> None:
    """Compile every source under every flag set, in parallel; cached by source contents."""
    contents = source_contents(folder)
    jobs = [
        (flags, name)
        for flags in builds
        for name, content in contents.items()
        if (toolchain, flags, name, content) not in _objects
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        done = pool.map(lambda job: _compile(toolchain, job[0], folder, job[1]), jobs)
        for (flags, name), data in zip(jobs, done, strict=True):
            _objects[(toolchain, flags, name, contents[name])] = data


def _object(
    toolchain: Toolchain, flags: tuple[str, ...], folder: pathlib.Path, source: str
) -> bytes:
    return _objects[(toolchain, flags, source, source_contents(folder)[source])]


def _signature_of(data: bytes, objdump: str) -> tuple[dict[str, str], dict[str, str]]:
    with tempfile.NamedTemporaryFile(suffix=".o") as obj:
        obj.write(data)
        obj.flush()
        return _signature(obj.name, objdump)


def compile_objects(
    toolchain: Toolchain, flags: list[str], folder: pathlib.Path, out: str
) -> list[str]:
    _compile_many(toolchain, [tuple(flags)], folder)
    objects = []
    for source in _sources(folder):
        obj = f"{out}/{source.stem}.o"
        pathlib.Path(obj).write_bytes(_object(toolchain, tuple(flags), folder, source.name))
        objects.append(obj)
    return objects


def differences(
    toolchain: Toolchain,
    arch: str,
    flags: list[str],
    folder: pathlib.Path,
    settings: tuple[str, ...] | None = None,
) -> list[str]:
    """One line per function (or data section) whose object code changes with a setting that
    differs between x86-64 and aarch64 (``settings``: some of them only). Empty: no answer of
    the core can depend on them."""
    defaults = {**_defaults(toolchain, flags), **effective(flags)}
    builds = {
        setting: [
            # a choice the flags already make is the same build: compiled once
            tuple(flags) if all(_made(flag, defaults) for flag in choice) else (*flags, *choice)
            for choice in choices
        ]
        for setting, choices in VARIANTS[arch].items()
        if settings is None or setting in settings
    }
    _compile_many(toolchain, [b for group in builds.values() for b in group], folder)
    problems = []
    for setting, group in builds.items():
        choices = VARIANTS[arch][setting]
        for source in _sources(folder):
            first = _object(toolchain, group[0], folder, source.name)
            for choice, build in zip(choices[1:], group[1:], strict=True):
                other = _object(toolchain, build, folder, source.name)
                if other == first:
                    continue
                (code_a, data_a), (code_b, data_b) = (
                    _signature_of(first, toolchain.objdump),
                    _signature_of(other, toolchain.objdump),
                )
                changed = sorted(
                    f for f in set(code_a) | set(code_b) if code_a.get(f) != code_b.get(f)
                )
                changed_data = sorted(
                    s for s in set(data_a) | set(data_b) if data_a.get(s) != data_b.get(s)
                )
                what = ", ".join(
                    changed or [f"data section {s}" for s in changed_data] or ["its symbols"]
                )
                problems.append(
                    f"{source.name}: {setting} changes the object code of {what} "
                    f"({' '.join(choices[0])} against {' '.join(choice)}): its results "
                    "can differ between x86-64 and aarch64"
                )
    return problems


def _made(flag: str, settings: dict[str, str]) -> bool:
    """Whether ``flag`` only restates one of ``settings``."""
    value = effective([flag])
    return bool(value) and value.items() <= settings.items()


def _defaults(toolchain: Toolchain, flags: list[str]) -> dict[str, str]:
    """The settings the compiler chooses when the flags do not (plain char, long double)."""
    facts = predefined(toolchain.compiler[0], [*toolchain.compiler[1:], *flags])
    width = {53: "64", 64: "80", 113: "128"}.get(int(str(facts["long double mantissa bits"])), "?")
    return {"plain char": f"{facts['plain char']}-char", "long double": width}


def toolchain_for(arch: str) -> Toolchain:
    """This host's compiler for its own architecture, the cross compiler for another."""
    if arch == fingerprint.machine():
        return Toolchain((tool("cc", "gcc"),), tool("objdump"))
    return Toolchain((tool(f"{arch}-linux-gnu-gcc"),), tool(f"{arch}-linux-gnu-objdump"))
