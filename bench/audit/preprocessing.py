"""Preprocessing: the same program for both targets. Each source preprocessed for x86-64 and
for aarch64 must give the same tokens on the core's own lines, and none may use a type whose
meaning differs between them with no switch to prove it."""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import re

from bench.audit import compiling
from bench.audit._common import AuditError, Target, check_output
from bench.audit.compiling import Toolchain, source_contents

OTHER_ARCH = {"x86_64": "aarch64", "aarch64": "x86_64"}
_TOKEN = re.compile(r"""[LuU]?8?'(?:\\.|[^'\\])*'|[LuU]?8?"(?:\\.|[^"\\])*"|\w+|\S""")
_LINE_MARKER = re.compile(r'^# (\d+) "((?:\\.|[^"\\])*)"((?: \d)*)$')
# Types whose meaning differs between x86-64 and aarch64 with no switch to try both:
# wchar_t (int against unsigned int) and wide literals, which have its type. (plain char and
# long double are proved by their switches.)
ARCH_TYPED_TOKEN = re.compile(r"wchar_t|L'.*|L\".*")


def _preprocess(
    toolchain: Toolchain, flags: tuple[str, ...], folder: pathlib.Path, source: str
) -> list[tuple[str, int, tuple[str, ...]]]:
    """The source after the preprocessor, as (file, line, tokens) of the core's own lines: the
    lines that line markers attribute to system headers (flag 3) are left out."""
    include = ["-I", str(folder / "include"), "-I", str(folder / "src")]
    text = check_output([*toolchain.compiler, *flags, *include, "-E", str(folder / "src" / source)])
    lines: list[tuple[str, int, tuple[str, ...]]] = []
    file, number, system = source, 0, False
    for line in text.splitlines():
        if match := _LINE_MARKER.match(line):
            number, path = int(match[1]) - 1, pathlib.Path(match[2])
            system = "3" in match[3].split() or path.name.startswith("<")
            file = str(path.relative_to(folder)) if path.is_relative_to(folder) else path.name
            continue
        number += 1
        if not system and (tokens := tuple(_TOKEN.findall(line))):
            lines.append((file, number, tokens))
    return lines


_preprocessed: dict[tuple, list] = {}


def _preprocess_many(
    toolchain: Toolchain, flags: tuple[str, ...], folder: pathlib.Path
) -> dict[str, list]:
    contents = source_contents(folder)
    jobs = [n for n, c in contents.items() if (toolchain, flags, n, c) not in _preprocessed]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for name, lines in zip(
            jobs, pool.map(lambda n: _preprocess(toolchain, flags, folder, n), jobs), strict=True
        ):
            _preprocessed[(toolchain, flags, name, contents[name])] = lines
    return {n: _preprocessed[(toolchain, flags, n, c)] for n, c in contents.items()}


def same_program(target: Target, toolchain: Toolchain, flags: list[str], folder: pathlib.Path):
    """Each source preprocessed for x86-64 and for aarch64 (the same flags, less the -m target
    options) must give the same tokens on the core's own lines: else the code is chosen by the
    architecture (#if defined(__aarch64__), __CHAR_UNSIGNED__, __WCHAR_TYPE__…), which no
    build of one target can see. And no core line may use a type that differs between them
    with no switch to prove it (wchar_t)."""
    common = tuple(f for f in flags if not f.startswith("-m"))
    own = _preprocess_many(toolchain, common, folder)
    for lines in own.values():
        for file, number, tokens in lines:
            if used := [t for t in tokens if ARCH_TYPED_TOKEN.fullmatch(t)]:
                target.errors.append(
                    f"{file}:{number}: uses {used[0]} (wchar_t: int on x86-64, unsigned int on "
                    "aarch64, and no switch changes it): its results can differ between x86-64 "
                    "and aarch64"
                )
                break
    other_arch = OTHER_ARCH[target.arch]
    try:
        other = _preprocess_many(compiling.toolchain_for(other_arch), common, folder)
    except AuditError:
        target.notes.append(f"architecture-conditional code: not proved: no {other_arch} compiler")
        target.not_proved.append(f"architecture-conditional code (no {other_arch} compiler)")
        return
    target.proved.append("architecture-conditional code")
    for source, lines in own.items():
        theirs = other[source]
        for (file, number, tokens), (_, at, other_tokens) in zip(lines, theirs, strict=False):
            if tokens != other_tokens:
                there = "" if at == number else f" line {at}"
                target.errors.append(
                    f"{file}:{number}: preprocessed differently for {target.arch} "
                    f"({' '.join(tokens)[:60]}) and {other_arch}{there} "
                    f"({' '.join(other_tokens)[:60]}): the architecture chooses the code"
                )
                break
        else:
            if len(lines) != len(theirs):
                file, number, _ = (lines if len(lines) > len(theirs) else theirs)[
                    min(len(lines), len(theirs))
                ]
                target.errors.append(
                    f"{file}:{number}: preprocessed for one of {target.arch} and {other_arch} "
                    "only: the architecture chooses the code"
                )
    target.notes.append(
        f"proved by preprocessing: {target.code} own lines are the same tokens for {target.arch} "
        f"and {other_arch}"
        if not any("the architecture chooses the code" in e for e in target.errors)
        else f"preprocessed for {target.arch} and {other_arch}: differs"
    )
