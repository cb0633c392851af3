"""The one definition of how bankbench compiles C: the pinned portable flags, the tuned-build
switch, the environment's say, and the label every result records. Used by the core's build
(native/build.py) and by a plugin's (native/plugin_build.py), so a bank's C compiles exactly
as bankbench's does.

Standard library only: build.py loads this file by its path, before the package exists."""

from __future__ import annotations

import os
import shlex
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass

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
# The compiler variables setuptools takes from the environment (distutils' customize_compiler):
# CC replaces the compiler, CFLAGS and CPPFLAGS join every compile line (before ours, so a
# flag we pin still wins, but -march=native or -ffast-math there is obeyed).
ENVIRONMENT_COMPILER_VARIABLES = ("CC", "CFLAGS", "CPPFLAGS", "LDSHARED", "LDFLAGS")


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


@dataclass(frozen=True)
class Build:
    """One build's settings, read once from the environment: ``BANKBENCH_TUNE`` (a labelled
    tuned build), ``BANKBENCH_EXTRA_CFLAGS`` (sanitizers and other special builds),
    ``BANKBENCH_ASSERTS=1`` (BB_ASSERT kept), ``BANKBENCH_BUILD_LABEL``, and the compiler
    variables. Every flag lands in the build record."""

    tune: str
    extra_cflags: list[str]
    asserts: bool
    compiler_environment: dict[str, str]
    label: str
    compile_args: list[str]
    effective_line: str

    @property
    def link_args(self) -> list[str]:
        return [flag for flag in self.extra_cflags if flag.startswith("-fsanitize")]


def build(machine: str, environ: Mapping[str, str] = os.environ) -> Build:
    tune = environ.get("BANKBENCH_TUNE", "").strip()
    extra_cflags = shlex.split(environ.get("BANKBENCH_EXTRA_CFLAGS", ""))
    asserts = environ.get("BANKBENCH_ASSERTS", "0").strip() not in ("", "0")
    compiler_environment = {
        name: environ[name]
        for name in ENVIRONMENT_COMPILER_VARIABLES
        if environ.get(name, "").strip()
    }
    # extra flags, or a compiler or flags from the environment, make another program: never
    # labelled portable (the audit reads the whole effective line too)
    label = f"tuned-{tune}" if tune else "portable"
    if extra_cflags or compiler_environment:
        label = "custom"
    label = environ.get("BANKBENCH_BUILD_LABEL") or label
    compile_args = (
        PORTABLE_CFLAGS
        + tune_flags(tune, machine)
        + (["-DBB_ASSERTS=1"] if asserts else [])
        + extra_cflags
    )
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
    return Build(
        tune, extra_cflags, asserts, compiler_environment, label, compile_args, effective_line
    )


def c_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
