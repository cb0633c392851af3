"""``bankbench audit``: is the compiled core the portable, deterministic program it claims to be?

The audit proves by compiling, not by reading the text (a pattern over the sources misses a
``char`` made by token pasting, ``__typeof__(1.0L)`` or a declaration split over lines):
- the core's sources are compiled for each target with each setting that differs between
  x86-64 and aarch64 — plain ``char`` signed and unsigned, every ``long double`` width the
  target can choose, floating-point contraction fast and off — and the object code must be
  identical: then no answer can depend on it. A difference names the functions it changes;
- the build record: the effective value of every pinned flag, read from the whole compile
  line (the last flag wins, as in GCC); a build with extra flags is ``custom``, never
  ``portable``; a portable build has no -march/-mcpu/native or x86-only flags;
- the machine code (objdump): every floating-point instruction class (x87 included, and
  soft-float library calls) must be absent (money is integer fen); SVE, counted by its
  z/p register operands and its own mnemonics, is absent for a Kunpeng 920 (TSV110) target;
  the atomics of every kind — Arm LSE instructions, load/store-exclusive loops, outline-atomic
  helper calls (``__aarch64_ldadd4_acq_rel``…), x86 lock prefixes — counted, and for aarch64
  what a Kunpeng 920 build (ARMv8.2, LSE) would use instead;
- the platform facts the compiler predefines, and the page size of this host.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import hashlib
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

from bench import fingerprint
from workloads.errors import BankbenchError

NATIVE = pathlib.Path(__file__).resolve().parents[1] / "native"

# Instruction classes by mnemonic (objdump, AT&T on x86-64). Moves and bitwise logic on vector
# registers are left out: compilers use them for integer copies and zeroing.
FLOAT_CLASSES = {
    "x86_64": {
        "x87": r"f(?!xsave|xrstor|emms)[a-z0-9]+",
        "SSE/AVX arithmetic": r"v?(add|sub|mul|div|sqrt|min|max|rcp|rsqrt|round|hadd|hsub"
        r"|addsub|dp)[ps][sd]",
        "fused multiply-add": r"vf(n?m(add|sub)|madd|msub)(sub|add)?(132|213|231)?[ps][sd]",
        "conversion": r"v?cvtt?[a-z0-9]+",
        "comparison": r"v?u?comis[sd]|v?cmp[a-z]*[ps][sd]",
    },
    "aarch64": {
        "arithmetic": r"f(add|sub|mul|mulx|div|sqrt|neg|abs|max|min|maxnm|minnm|addp|maxp"
        r"|minp|maxv|minv|maxnmv|minnmv|recpe|recps|recpx|rsqrte|rsqrts|rint[a-z]*|abd|cadd"
        r"|cmla)",
        "fused multiply-add": r"f(n?madd|n?msub|mla|mls|nmul)",
        "conversion": r"fcvt[a-z]*|[su]cvtf|fjcvtzs",
        "comparison": r"f(cmp|cmpe|ccmp|ccmpe|cm(eq|ge|gt|le|lt)|ac(ge|gt)|csel)",
    },
}
# Library calls that do floating point in software: long double on aarch64 (binary128) and
# with -mlong-double-128 on x86-64, or any float on a target without hardware for it.
SOFT_FLOAT_CALL = re.compile(
    r"__(add|sub|mul|div|neg)[sdtx]f3|__(extend|trunc)[hsdtx]f[hsdtx]f2|__(fix|fixuns)[sdtx]f[sdt]i"
    r"|__(float|floatun)[sdt]i[sdtx]f|__(eq|ne|lt|le|gt|ge|unord|cmp)[sdtx]f2"
)
# SVE is recognised by its registers (z0-z31 vectors, p0-p15 predicates: NEON has neither) and
# by the scalar instructions that only SVE has (vector-length reads and counts).
SVE_OPERAND = re.compile(r"\b(z([0-9]|[12][0-9]|3[01])|p([0-9]|1[0-5]))(\.[bhsdq]|/[zm])?\b")
SVE_MNEMONIC = re.compile(
    r"rdvl|addvl|addpl|ptrues?|pfalse|whilel[eot]|whileh[is]|cnt[bhwd]|inc[bhwd]|dec[bhwd]"
    r"|[su]q(inc|dec)[bhwd]"
)
ATOMICS = {
    "aarch64": {
        "LSE": r"(ld|st)(add|clr|eor|set|smax|smin|umax|umin)(a|l|al)?[bh]?|swp(a|l|al)?[bh]?"
        r"|casp?(a|l|al)?[bh]?",
        "exclusive": r"ld(a)?x[rp][bh]?|st(l)?x[rp][bh]?",
        # C11 acquire loads and release stores (plain ldr/str are relaxed), and fences
        "acquire/release": r"ldapu?r(s?[bh])?|ldar[bh]?|ldlar[bh]?|stlu?r[bh]?|stllr[bh]?",
        "barrier": r"dmb|dsb",
    },
    # on x86-64 plain loads and stores are already acquire and release: a sequentially
    # consistent store is an xchg (or a store and mfence), a fence is mfence
    "x86_64": {"lock": r"lock( .*)?|xchg", "fence": r"[lms]fence"},
}
OUTLINE_ATOMIC = re.compile(
    r"__aarch64_(cas|casp|swp|ldadd|ldclr|ldeor|ldset)(1|2|4|8|16)_(relax|acq|rel|acq_rel|sync)"
)
# Every external symbol the core may use (undefined in its objects, imported by its shared
# library). Derived from what the unmodified core imports on x86-64 and aarch64 (objdump -t of
# each object, objdump -T of the .so): none of these computes a result that could round or
# differ between the two. A libm call (cbrt, exp, pow, erf, fma: glibc's results differ in the
# last bit between x86-64 and aarch64) or libgcc's float helpers (__powidf2) do float work that
# the instruction count cannot see when the operands are integers bit-copied to doubles.
CORE_IMPORTS = frozenset(
    {
        # memory and strings (the compiler also emits these for struct copies and zeroing)
        *("memcpy", "memmove", "memset", "memcmp", "strlen", "strcmp", "strncmp"),
        # the malloc family
        *("malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign"),
        # the arena (mmap/madvise), the futex barrier (syscall), the measurement clock
        *("mmap", "munmap", "madvise", "syscall", "clock_gettime"),
        # libgcc's 128-bit integer division (the annuity and interest arithmetic)
        *("__divti3", "__modti3", "__udivti3", "__umodti3", "__udivmodti4", "__divmodti4"),
        # BB_ASSERT's report in the test builds (-DBB_ASSERTS=1)
        *("abort", "fprintf", "fflush", "stderr"),
        # stack protector (distributions enable it by default), the static/shared start files
        *("__stack_chk_fail", "__stack_chk_guard", "_GLOBAL_OFFSET_TABLE_"),
        *("__cxa_finalize", "__gmon_start__", "_ITM_registerTMCloneTable"),
        "_ITM_deregisterTMCloneTable",
        # libgcc's outline-atomics start-up (init_have_lse_atomics, linked into the aarch64
        # .so) reads the CPU's HWCAP to pick LSE or exclusives at run time
        *("__getauxval", "getauxval"),
        # the worker pool (pool.c): pinning its threads, the CPU count, its threads' signal
        # mask, the fork handler (pthread_atfork is __register_atfork in glibc); the CPU a
        # part ran on (the placement probe)
        *("sched_setaffinity", "sched_getaffinity", "sched_getcpu", "sysconf"),
        *("sigfillset", "__register_atfork"),
    }
)
# pthread, and the aarch64 outline-atomic helpers (the barrier's atomics: counted as atomics)
CORE_IMPORT_PREFIXES = ("pthread_", "__aarch64_")
# the cffi wrapper in the shared library (not the core's code) calls the Python C API
WRAPPER_IMPORT = re.compile(r"_?Py[A-Z_]\w*")
LIBM = re.compile(
    r"(a?(sin|cos|tan)h?|atan2|exp(2|10|m1)?|log(2|10|1p|b)?|pow|sqrt|cbrt|hypot|erfc?"
    r"|[lt]gamma|fma|fmod|remainder|remquo|s?nextafter|nexttoward|n?round|l?l?rint|trunc|floor"
    r"|ceil|frexp|ldexp|scalbl?n|modf|copysign|f(min|max|dim|abs)|sincos|j[01n]|y[01n])[fl]?"
)
NOT_PORTABLE_FLAG = re.compile(
    r"^-m(arch|cpu|tune)=|^-m(sse|avx|fma|bmi|popcnt|lzcnt|f16c|aes|pclmul|sha|adx|movbe)"
)
KUNPENG_920_TARGETS = ("portable", "tuned-tsv110")
SWITCHES = ("-DBB_ASSERTS=1",)  # native/build.py's assertion switch: still the portable build
KUNPENG_920_FLAGS = ["-mcpu=tsv110"]  # ARMv8.2-A with LSE, no SVE

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
PREFIXES = {"lock", "rep", "repz", "repnz", "repe", "repne", "notrack", "bnd", "data16"}


class AuditError(BankbenchError):
    """The audit cannot run (a tool is missing, or the sources do not compile)."""


@dataclass
class Target:
    """One audited build: the installed core, or the sources cross-compiled."""

    name: str
    arch: str
    label: str
    flags: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    proved: list[str] = field(default_factory=list)  # what the compilations proved alike
    not_proved: list[str] = field(default_factory=list)  # and what they could not, and why


@dataclass(frozen=True)
class Instruction:
    function: str
    mnemonic: str
    operands: str
    callee: str | None  # the symbol a call goes to (relocation or <symbol> operand)


def _tool(*names: str) -> str:
    for name in names:
        if path := shutil.which(name):
            return path
    raise AuditError(
        f"{names[0]} not found; install binutils (and gcc-aarch64-linux-gnu for --cross)"
    )


def _check_output(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout
    except subprocess.CalledProcessError as error:
        first = (error.stderr or "").strip().splitlines()[:1]
        raise AuditError(
            f"{pathlib.Path(command[0]).name} failed: {first[0] if first else error}"
        ) from None


_INSTRUCTION = re.compile(r"^\s+[0-9a-f]+:\t(.*)$")
_RELOCATION = re.compile(r"^\s+[0-9a-f]+: R_\w+\t([^\s+-]+)")
_FUNCTION = re.compile(r"^[0-9a-f]+ <(.+)>:$")
_CALL_TARGET = re.compile(r"<([^+>@]+)(@plt)?>")


def disassemble(path: str, objdump: str) -> list[Instruction]:
    """Every instruction of the file's code sections, with its function and call target.
    objdump separates mnemonic and operands by a tab on aarch64 and by spaces on x86-64, and
    prints a call's relocation on the next line in object files."""
    code: list[Instruction] = []
    function = "?"
    for line in _check_output([objdump, "-d", "-r", "--no-show-raw-insn", path]).splitlines():
        if match := _FUNCTION.match(line):
            function = match.group(1)
        elif match := _RELOCATION.match(line):
            if code and code[-1].callee is None and code[-1].mnemonic in ("bl", "b", "call", "jmp"):
                code[-1] = Instruction(function, code[-1].mnemonic, code[-1].operands, match[1])
        elif match := _INSTRUCTION.match(line):
            text = re.split(r"\s(//|#) ", match.group(1), maxsplit=1)[0].strip()
            words = text.split(None, 1)
            if not words:
                continue
            mnemonic, operands = words[0], words[1] if len(words) > 1 else ""
            if mnemonic in PREFIXES and operands:
                inner = operands.split(None, 1)
                mnemonic, operands = f"{mnemonic} {inner[0]}", inner[1] if len(inner) > 1 else ""
            callee = None
            if mnemonic in ("bl", "call", "b", "jmp") and (target := _CALL_TARGET.search(operands)):
                callee = target.group(1) if target.group(1) != function else None
            code.append(Instruction(function, mnemonic, operands, callee))
    return code


def mnemonics(paths: list[str], objdump: str) -> list[tuple[str, str]]:
    """(mnemonic, operands) of every instruction in the files' code sections."""
    return [(i.mnemonic, i.operands) for p in paths for i in disassemble(p, objdump)]


def count(instructions: list[tuple[str, str]], pattern: str) -> int:
    regex = re.compile(rf"^({pattern})$")
    return sum(bool(regex.match(m)) for m, _ in instructions)


def is_sve(instruction: Instruction) -> bool:
    operands = re.sub(r"<[^>]*>", "", instruction.operands)  # symbol names are not registers
    return bool(SVE_OPERAND.search(operands) or SVE_MNEMONIC.fullmatch(instruction.mnemonic))


def atomics(code: list[Instruction], arch: str) -> dict[str, collections.Counter]:
    """Atomic operations by kind. The outline-atomic helpers' own bodies (linked into a shared
    library) hold both an LSE and an exclusive path chosen at run time: they are counted as
    the calls that reach them, not as instructions."""
    kinds: dict[str, collections.Counter] = {}
    own = [i for i in code if not OUTLINE_ATOMIC.fullmatch(i.function)]
    for kind, pattern in ATOMICS[arch].items():
        regex = re.compile(rf"^({pattern})$")
        kinds[kind] = collections.Counter(
            i.mnemonic
            for i in own
            if regex.match(i.mnemonic)
            and (kind != "lock" or i.mnemonic != "xchg" or "(" in i.operands)
        )
    if arch == "aarch64":
        kinds["outline-atomic calls"] = collections.Counter(
            i.callee for i in own if i.callee and OUTLINE_ATOMIC.fullmatch(i.callee)
        )
    return kinds


def describe(kinds: dict[str, collections.Counter]) -> str:
    used = [
        f"{kind} ({', '.join(f'{name} ×{n}' for name, n in sorted(names.items()))})"
        for kind, names in kinds.items()
        if names
    ]
    return "; ".join(used) if used else "none"


def imports(paths: list[str], objdump: str) -> set[str]:
    """The external symbols of the files together: undefined in the objects and not defined
    by another of them (``objdump -t``), or imported by a shared library (``objdump -T``)."""
    undefined: set[str] = set()
    defined: set[str] = set()
    for path in paths:
        table = "-t" if path.endswith(".o") else "-T"
        for line in _check_output([objdump, table, path]).splitlines():
            words = line.split()
            if len(words) < 4 or not re.fullmatch(r"[0-9a-f]{8,16}", words[0]):
                continue
            name = words[-1].split("@")[0]
            (undefined if "*UND*" in words else defined).add(name)
    return undefined - defined


def is_core_import(name: str, shared_library: bool) -> bool:
    fortified = re.fullmatch(r"__(\w+)_chk", name)  # -D_FORTIFY_SOURCE (Ubuntu's CFLAGS)
    return (
        name in CORE_IMPORTS
        or bool(fortified and fortified[1] in CORE_IMPORTS)
        or name.startswith(CORE_IMPORT_PREFIXES)
        or bool(shared_library and WRAPPER_IMPORT.fullmatch(name))
    )


def audit_imports(target: Target, paths: list[str], objdump: str, code: list[Instruction]):
    """A call out of the core that is not on the allowlist fails, with the functions that
    make it: the object code around a libm call on bit-copied integers is only moves."""
    shared_library = not all(p.endswith(".o") for p in paths)
    foreign = sorted(n for n in imports(paths, objdump) if not is_core_import(n, shared_library))
    target.counts["foreign calls"] = len(foreign)
    for name in foreign:
        callers = sorted({i.function for i in code if i.callee == name})
        where = f" (in {', '.join(callers[:8])})" if callers else ""
        what = f"libm {name}" if LIBM.fullmatch(name) else name
        target.errors.append(
            f"calls {what}{where}: results are not guaranteed bit-identical across "
            "architectures (not on the core's allowlist, bench/audit.py CORE_IMPORTS)"
        )


def audit_code(target: Target, paths: list[str], objdump: str) -> None:
    code = [i for p in paths for i in disassemble(p, objdump)]
    arch = target.arch
    target.counts["instructions"] = len(code)
    pairs = [(i.mnemonic, i.operands) for i in code]
    floating = 0
    for kind, pattern in FLOAT_CLASSES[arch].items():
        target.counts[kind] = count(pairs, pattern)
        floating += target.counts[kind]
    soft = collections.Counter(
        i.callee for i in code if i.callee and SOFT_FLOAT_CALL.fullmatch(i.callee)
    )
    target.counts["soft-float calls"] = sum(soft.values())
    floating += target.counts["soft-float calls"]
    target.counts["floating point"] = floating
    if target.counts["fused multiply-add"]:
        target.errors.append(
            f"{target.counts['fused multiply-add']} fused multiply-add instructions: results "
            "may round differently from x86-64"
        )
    if floating:
        classes = [
            f"{kind} {target.counts[kind]}"
            for kind in [*FLOAT_CLASSES[arch], "soft-float calls"]
            if target.counts[kind]
        ]
        where = sorted({i.function for i in code if _is_float(i, arch)})
        target.errors.append(
            f"{floating} floating-point instructions or calls ({', '.join(classes)}) in a core "
            f"whose money is integer fen: in {', '.join(where[:8])}"
            + (f" (+{len(where) - 8} more)" if len(where) > 8 else "")
        )
    if arch == "aarch64":
        sve = sum(is_sve(i) for i in code)
        target.counts["SVE"] = sve
        if sve and target.label in KUNPENG_920_TARGETS:
            target.errors.append(
                f"{sve} SVE instructions: a Kunpeng 920 (TSV110) has no SVE and would trap"
            )
    kinds = atomics(code, arch)
    target.counts.update({f"atomics ({k})": sum(v.values()) for k, v in kinds.items()})
    target.notes.append(f"atomics: {describe(kinds)}")
    audit_imports(target, paths, objdump, code)


@functools.cache
def _float_regexes(arch: str) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(rf"^({p})$") for p in FLOAT_CLASSES[arch].values())


def _is_float(instruction: Instruction, arch: str) -> bool:
    return any(r.match(instruction.mnemonic) for r in _float_regexes(arch)) or bool(
        instruction.callee and SOFT_FLOAT_CALL.fullmatch(instruction.callee)
    )


# ---- flags ----
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
    text = _check_output([compiler, *flags, "-dM", "-E", "-x", "c", os.devnull])
    macros = dict(re.findall(r"^#define (\S+) ?(.*)$", text, re.M))
    return {
        "plain char": "unsigned" if "__CHAR_UNSIGNED__" in macros else "signed",
        "long double bytes": int(macros.get("__SIZEOF_LONG_DOUBLE__", 0)),
        "long double mantissa bits": int(macros.get("__LDBL_MANT_DIG__", 0)),
        "hardware fma": "__FP_FAST_FMA" in macros or "__ARM_FEATURE_FMA" in macros,
        "SVE enabled": "__ARM_FEATURE_SVE" in macros,
        "LSE atomics enabled": "__ARM_FEATURE_ATOMICS" in macros,
    }


# ---- compiling ----
@dataclass(frozen=True)
class Toolchain:
    compiler: tuple[str, ...]  # the command, which may carry its own flags (CC="gcc -pthread")
    objdump: str


def _sources(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted((folder / "src").glob("*.c"))


def _contents(folder: pathlib.Path) -> dict[str, str]:
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
    for line in _check_output([objdump, "-d", "-r", "--no-show-raw-insn", path]).splitlines():
        if match := _FUNCTION.match(line):
            name = match.group(1)
            functions[name] = []
        elif line.startswith((" ", "\t")) and name in functions:
            functions[name].append(line)
    sections: dict[str, list[str]] = {}
    section = None
    for line in _check_output([objdump, "-s", path]).splitlines():
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
        _check_output(
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
    contents = _contents(folder)
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
    return _objects[(toolchain, flags, source, _contents(folder)[source])]


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


# ---- the same program for both targets ----
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
    text = _check_output(
        [*toolchain.compiler, *flags, *include, "-E", str(folder / "src" / source)]
    )
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
    contents = _contents(folder)
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
        other = _preprocess_many(toolchain_for(other_arch), common, folder)
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
        f"proved by preprocessing: the core's own lines are the same tokens for {target.arch} "
        f"and {other_arch}"
        if not any("the architecture chooses the code" in e for e in target.errors)
        else f"preprocessed for {target.arch} and {other_arch}: differs"
    )


def _made(flag: str, settings: dict[str, str]) -> bool:
    """Whether ``flag`` only restates one of ``settings``."""
    value = effective([flag])
    return bool(value) and value.items() <= settings.items()


def _defaults(toolchain: Toolchain, flags: list[str]) -> dict[str, str]:
    """The settings the compiler chooses when the flags do not (plain char, long double)."""
    facts = predefined(toolchain.compiler[0], [*toolchain.compiler[1:], *flags])
    width = {53: "64", 64: "80", 113: "128"}.get(int(str(facts["long double mantissa bits"])), "?")
    return {"plain char": f"{facts['plain char']}-char", "long double": width}


def kunpeng_atomics(toolchain: Toolchain, flags: list[str], folder: pathlib.Path) -> str:
    """The atomics a Kunpeng 920 build (ARMv8.2-A with LSE: -mcpu=tsv110) compiles to."""
    with tempfile.TemporaryDirectory() as scratch:
        objects = compile_objects(toolchain, [*flags, *KUNPENG_920_FLAGS], folder, scratch)
        code = [i for o in objects for i in disassemble(o, toolchain.objdump)]
    return describe(atomics(code, "aarch64"))


# ---- targets ----
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

    objdump = _tool("objdump")
    audit_code(target, [native._bankcore.__file__], objdump)
    if not (command and shutil.which(command[0])):
        command = [_tool("cc", "gcc")]
        target.notes.append(f"the build's compiler is not here: proved with {command[0]}")
    toolchain = Toolchain(tuple(command), objdump)
    _prove(target, toolchain, line_flags, folder)
    target.facts = predefined(command[0], [*command[1:], *line_flags])
    target.facts["page size"] = os.sysconf("SC_PAGE_SIZE")
    return target


def toolchain_for(arch: str) -> Toolchain:
    """This host's compiler for its own architecture, the cross compiler for another."""
    if arch == fingerprint.machine():
        return Toolchain((_tool("cc", "gcc"),), _tool("objdump"))
    return Toolchain((_tool(f"{arch}-linux-gnu-gcc"),), _tool(f"{arch}-linux-gnu-objdump"))


def cross(
    arch: str = "aarch64",
    flags: list[str] | None = None,
    label: str = "portable",
    folder: pathlib.Path = NATIVE,
    prove: bool = True,
) -> Target:
    """The sources in ``folder`` compiled (not linked) for ``arch`` — this host's or another —
    with the pinned flags, or with ``flags`` to audit a variant; ``prove=False`` skips the
    compilations under each setting (for a quick look at one variant's code)."""
    from native.build import PORTABLE_CFLAGS

    if not (folder / "src").is_dir():
        raise AuditError(f"the C sources are not installed ({folder / 'src'})")
    toolchain = toolchain_for(arch)
    if arch not in FLOAT_CLASSES:
        raise AuditError(f"no instruction tables for {arch}; audit supports x86_64 and aarch64")
    flags = list(PORTABLE_CFLAGS if flags is None else flags)
    where = "compiled" if arch == fingerprint.machine() else "cross-compiled"
    target = Target(f"sources {where} for {arch}", arch, label, flags)
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
        x86 = toolchain_for("x86_64")
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


def summary(targets: list[Target]) -> str:
    """What the compilations proved alike for every target, and what they could not prove."""
    proved = list(dict.fromkeys(s for t in targets for s in t.proved))
    missing = [s for t in targets for s in t.not_proved if s.split(" (")[0] not in proved]
    text = "proved alike by compiling: " + ", ".join(proved) if proved else "nothing proved"
    if missing:
        text += "; not proved: " + ", ".join(dict.fromkeys(missing))
    return text


def run(cross_arches: list[str]) -> tuple[list[Target], list[str]]:
    """The audited targets, and the differences that the compilations proved (every target's
    lines that name a setting, for the CLI's summary)."""
    targets = [installed(), *[cross(a) for a in cross_arches]]
    proved = [f"{t.arch}: {e}" for t in targets for e in t.errors if _is_source_finding(e)]
    return targets, proved


def _is_source_finding(error: str) -> bool:
    return any(
        words in error
        for words in (
            " changes the object code of ",
            "the architecture chooses the code",
            "(wchar_t: ",
        )
    )
