"""The flags: the effective value of every pinned setting on a compile line (the last flag
wins, and the compiler's own reading of the line where it can say), what makes a build custom
or not portable, and the platform facts the compiler predefines."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from bench.audit._common import Target, check_output

NOT_PORTABLE_FLAG = re.compile(
    r"^-m(arch|cpu|tune)=|^-m(sse|avx|fma|bmi|popcnt|lzcnt|f16c|aes|pclmul|sha|adx|movbe)"
)
SWITCHES = ("-DBB_ASSERTS=1",)  # native/build.py's assertion switch: still the portable build


def effective(flags: list[str]) -> dict[str, str]:
    """The value GCC uses for each setting we pin: the last flag of its kind wins."""
    values: dict[str, str] = {}
    for flag in flags:
        if match := re.fullmatch(r"-O(\w*)", flag):
            values["-O"] = match.group(1) or "1"
            if match.group(1) == "fast":
                values["fast-math"] = "on"
        elif match := re.fullmatch(r"-(std|ffp-contract|march|mcpu|mtune)=(.+)", flag):
            values[f"-{match.group(1)}"] = match.group(2)
        elif match := re.fullmatch(
            r"-f(no-)?(strict-aliasing|wrapv|fast-math|unsafe-math-optimizations)", flag
        ):
            name = "fast-math" if "math" in match.group(2) else match.group(2)
            values[name] = "off" if match.group(1) else "on"
        elif flag in ("-fsigned-char", "-funsigned-char"):
            values["plain char"] = flag[2:]
        elif match := re.fullmatch(r"-mlong-double-(\d+)", flag):
            values["long double"] = match.group(1)
    return values


def pinned_settings() -> dict[str, str]:
    from native.build import PORTABLE_CFLAGS

    return {**effective(PORTABLE_CFLAGS), "fast-math": "off"}


_ASKED = re.compile(
    r"^\s+-f(fp-contract|wrapv|strict-aliasing|unsafe-math-optimizations)(?:=\[[^\]]*\])?"
    r"\s+(\S+)$"
)


def compiler_settings(compiler: list[str], flags: list[str]) -> dict[str, str]:
    """The pinned settings as the compiler itself reads ``flags`` (``gcc -Q --help``): any
    spelling (``--fp-contract=fast``), response files (``@file``) and implications
    (``-fno-strict-overflow`` turns wrapv on) count, which no reading of the text can follow.
    Empty where the compiler cannot say (not here, or not GCC)."""
    if not compiler or shutil.which(compiler[0]) is None:
        return {}
    command = [*compiler, *flags, "-Q", "--help=optimizers,common"]
    try:
        text = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    values = {}
    for line in text.splitlines():
        if match := _ASKED.match(line):
            name, value = match.groups()
            state = {"[enabled]": "on", "[disabled]": "off"}.get(value, value)
            if name == "fp-contract":
                values["-ffp-contract"] = value
            else:
                values["fast-math" if "math" in name else name] = state
    return values


def audit_flags(
    target: Target, line: list[str] | None = None, compiler: list[str] | None = None
) -> None:
    """``line`` is the whole compile line when known (the interpreter's CFLAGS come first);
    the build's own flags otherwise. With its ``compiler``, the compiler's own reading of the
    line decides the settings it reports."""
    from native.build import PORTABLE_CFLAGS

    flags = line if line is not None else target.flags
    actual = {**effective(flags), **compiler_settings(compiler or [], flags)}
    for setting, wanted in pinned_settings().items():
        got = actual.get(setting, "off" if setting == "fast-math" else None)
        if got != wanted:
            what = (
                "the compiler's default contraction may fuse multiply-add on aarch64 and round "
                "differently from x86-64"
                if setting == "-ffp-contract"
                else "the last flag of its kind on the compile line wins"
            )
            target.errors.append(
                f"effective {setting} is {got or 'unset'}, pinned {wanted}: {what}"
            )
    if target.label == "portable":
        loose = [f for f in target.flags if NOT_PORTABLE_FLAG.match(f)]
        if loose:
            target.errors.append(
                f"the portable build carries target-specific flags: {' '.join(loose)} "
                "(label a tuned build with BANKBENCH_TUNE instead)"
            )
        extra = [f for f in target.flags if f not in (*PORTABLE_CFLAGS, *SWITCHES)]
        if extra and not loose:
            target.errors.append(
                f"a build with extra flags ({' '.join(extra)}) is custom, not portable"
            )
    elif "native" in " ".join(target.flags) and target.label != "tuned-native":
        target.errors.append("a -march/-mcpu=native build must be labelled tuned-native")


def predefined(compiler: str, flags: list[str]) -> dict[str, object]:
    """Platform facts from the compiler's predefined macros (no need to run the target)."""
    text = check_output([compiler, *flags, "-dM", "-E", "-x", "c", os.devnull])
    macros = dict(re.findall(r"^#define (\S+) ?(.*)$", text, re.M))
    return {
        "plain char": "unsigned" if "__CHAR_UNSIGNED__" in macros else "signed",
        "long double bytes": int(macros.get("__SIZEOF_LONG_DOUBLE__", 0)),
        "long double mantissa bits": int(macros.get("__LDBL_MANT_DIG__", 0)),
        "hardware fma": "__FP_FAST_FMA" in macros or "__ARM_FEATURE_FMA" in macros,
        "SVE enabled": "__ARM_FEATURE_SVE" in macros,
        "LSE atomics enabled": "__ARM_FEATURE_ATOMICS" in macros,
    }
