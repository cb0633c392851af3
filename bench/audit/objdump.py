"""The machine code, read by objdump: the instruction classes (floating point, SVE, atomics),
the symbols the core imports, and what they say of a target."""

from __future__ import annotations

import collections
import functools
import re
from dataclasses import dataclass

from bench.audit._common import Target, check_output

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
        # the open-loop driver's wait for a request's arrival (openloop.c)
        "clock_nanosleep",
        # the pool's and the barrier's waiters give their CPU up before parking (pool.c)
        "sched_yield",
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
KUNPENG_920_TARGETS = ("portable", "tuned-tsv110")
PREFIXES = {"lock", "rep", "repz", "repnz", "repe", "repne", "notrack", "bnd", "data16"}


@dataclass(frozen=True)
class Instruction:
    function: str
    mnemonic: str
    operands: str
    callee: str | None  # the symbol a call goes to (relocation or <symbol> operand)


_INSTRUCTION = re.compile(r"^\s+[0-9a-f]+:\t(.*)$")
_RELOCATION = re.compile(r"^\s+[0-9a-f]+: R_\w+\t([^\s+-]+)")
FUNCTION_LINE = re.compile(r"^[0-9a-f]+ <(.+)>:$")
_CALL_TARGET = re.compile(r"<([^+>@]+)(@plt)?>")


def disassemble(path: str, objdump: str) -> list[Instruction]:
    """Every instruction of the file's code sections, with its function and call target.
    objdump separates mnemonic and operands by a tab on aarch64 and by spaces on x86-64, and
    prints a call's relocation on the next line in object files."""
    code: list[Instruction] = []
    function = "?"
    for line in check_output([objdump, "-d", "-r", "--no-show-raw-insn", path]).splitlines():
        if match := FUNCTION_LINE.match(line):
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
        for line in check_output([objdump, table, path]).splitlines():
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
            f"architectures ({target.code} C may call only what the core may: "
            "bench/audit/objdump.py CORE_IMPORTS)"
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
            f"{floating} floating-point instructions or calls ({', '.join(classes)}) in "
            f"{target.code} C, whose money is integer fen: in {', '.join(where[:8])}"
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
