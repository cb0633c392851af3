"""``bankbench audit``: is the compiled core the portable, deterministic program it claims to be?

Checked, on the installed core and (``--cross aarch64``) on the sources cross-compiled for Arm:
- the build record: a portable build has no -march/-mcpu/native or x86-only flags, and every
  build pins floating-point contraction off;
- the machine code (objdump): no fused multiply-add and no floating point at all (money is
  integer fen), no SVE for a Kunpeng 920 (TSV110) target; the atomics style where there are
  atomics (Arm LSE instructions or load/store-exclusive loops; x86 lock prefixes);
- the sources: no long double, no x86 intrinsics, no plain-char arithmetic;
- the platform facts the compiler predefines: plain char signedness, long double size,
  whether it may fuse multiply-add, SVE, LSE; and the page size of this host.
"""

from __future__ import annotations

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

FMA = {
    "x86_64": r"vf(n?m(add|sub))(132|213|231)?[ps][sd]",
    "aarch64": r"f(n?m(add|sub)|ml[as])",
}
FLOAT = {  # floating-point arithmetic and conversions
    "x86_64": r"v?(add|sub|mul|div|sqrt|min|max)[ps][sd]|vf(n?m(add|sub))[0-9]*[ps][sd]"
    r"|v?cvt(si2s[sd]|ts[sd]2si|s[sd]2si|s[sd]2s[sd])",
    "aarch64": r"f(add|sub|mul|div|sqrt|madd|msub|nmadd|nmsub|mla|mls|cvtz[su])|[su]cvtf",
}
SVE_OPERAND = re.compile(r"\bz([0-9]|[12][0-9]|3[01])\.[bhsdq]\b|\bp([0-9]|1[0-5])/[zm]\b")
SVE_MNEMONIC = r"ptrue|pfalse|whilel[ot]|rdvl|addvl|addpl|cnt[bhwd]|incd|incw"
ATOMICS = {
    "aarch64": {
        "LSE": r"(ld(add|clr|eor|set|smax|smin|umax|umin)|swp|casp?)(a|l|al)?[bh]?",
        "exclusive": r"ld(a)?x[rp][bh]?|st(l)?x[rp][bh]?",
    },
    "x86_64": {"lock": r"lock"},
}
NOT_PORTABLE_FLAG = re.compile(
    r"^-m(arch|cpu|tune)=|^-m(sse|avx|fma|bmi|popcnt|lzcnt|f16c|aes|pclmul|sha|adx|movbe)"
)
KUNPENG_920_TARGETS = ("portable", "tuned-tsv110")


class AuditError(BankbenchError):
    """The audit cannot run (a tool is missing)."""


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


def mnemonics(paths: list[str], objdump: str) -> list[tuple[str, str]]:
    """(mnemonic, operands) of every instruction in the files' code sections."""
    out = []
    for path in paths:
        listing = _check_output([objdump, "-d", "--no-show-raw-insn", path])
        for line in listing.splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and re.match(r"^\s+[0-9a-f]+:$", parts[0]):
                words = parts[1].split(None, 1)
                if words:
                    out.append((words[0], words[1] if len(words) > 1 else ""))
    return out


def count(instructions: list[tuple[str, str]], pattern: str) -> int:
    regex = re.compile(rf"^({pattern})$")
    return sum(bool(regex.match(m)) for m, _ in instructions)


def audit_code(target: Target, paths: list[str], objdump: str) -> None:
    code = mnemonics(paths, objdump)
    arch = target.arch
    target.counts["instructions"] = len(code)
    target.counts["fused multiply-add"] = count(code, FMA[arch])
    target.counts["floating point"] = count(code, FLOAT[arch])
    if target.counts["fused multiply-add"]:
        target.errors.append(
            f"{target.counts['fused multiply-add']} fused multiply-add instructions: results "
            "may round differently from x86-64"
        )
    if target.counts["floating point"]:
        target.errors.append(
            f"{target.counts['floating point']} floating-point instructions in a core whose "
            "money is integer fen"
        )
    if arch == "aarch64":
        sve = count(code, SVE_MNEMONIC) + sum(bool(SVE_OPERAND.search(o)) for _, o in code)
        target.counts["SVE"] = sve
        if sve and target.label in KUNPENG_920_TARGETS:
            target.errors.append(
                f"{sve} SVE instructions: a Kunpeng 920 (TSV110) has no SVE and would trap"
            )
    styles = {style: count(code, p) for style, p in ATOMICS[arch].items()}
    target.counts.update({f"atomics ({style})": n for style, n in styles.items()})
    used = [style for style, n in styles.items() if n]
    target.notes.append(
        "atomics: " + (", ".join(used) + " instructions" if used else "none in the core")
    )


def audit_flags(target: Target) -> None:
    if "-ffp-contract=off" not in target.flags:
        target.errors.append(
            "floating-point contraction is not pinned off (-ffp-contract=off): the compiler's "
            "default may fuse multiply-add on aarch64 and round differently from x86-64"
        )
    if target.label == "portable":
        loose = [f for f in target.flags if NOT_PORTABLE_FLAG.match(f)]
        if loose:
            target.errors.append(
                f"the portable build carries target-specific flags: {' '.join(loose)} "
                "(label a tuned build with BANKBENCH_TUNE instead)"
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


# ---- sources ----
SOURCE_RULES = (
    (r"\blong\s+double\b", "long double (80-bit on x86-64, 128-bit on aarch64)"),
    (r"immintrin\.h|x86intrin\.h|__builtin_ia32_", "x86 intrinsics"),
    (
        r"(?<!unsigned )(?<!signed )(?<!const )\bchar\b(?!\s*\*)",
        "plain char as a value (signed on x86-64, unsigned on aarch64)",
    ),
)


def audit_sources(folder: pathlib.Path = NATIVE) -> list[str]:
    problems = []
    for path in sorted([*folder.glob("src/*.[ch]"), *folder.glob("include/*.h")]):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("//")[0]
            if code.lstrip().startswith(("*", "/*")):
                continue
            for pattern, what in SOURCE_RULES:
                if re.search(pattern, code):
                    problems.append(f"{path.name}:{number}: {what}: {line.strip()}")
    return problems


# ---- targets ----
def installed() -> Target:
    import native

    info = native.build_info()
    arch = fingerprint.machine()  # the core was built for the host it runs on
    if arch not in FMA:
        raise AuditError(f"no instruction tables for {arch}; audit supports x86_64 and aarch64")
    target = Target("installed core", arch, info["label"], shlex.split(info["flags"]))
    audit_flags(target)
    import native._bankcore

    audit_code(target, [native._bankcore.__file__], _tool("objdump"))
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler:
        target.facts = predefined(compiler, target.flags)
    target.facts["page size"] = os.sysconf("SC_PAGE_SIZE")
    return target


def cross(arch: str = "aarch64", flags: list[str] | None = None, label: str = "portable") -> Target:
    """The sources compiled (not linked) for another architecture with the pinned flags, or
    with ``flags`` to audit a variant."""
    from native.build import PORTABLE_CFLAGS

    if not (NATIVE / "src").is_dir():
        raise AuditError(f"the C sources are not installed ({NATIVE / 'src'})")
    compiler = _tool(f"{arch}-linux-gnu-gcc")
    objdump = _tool(f"{arch}-linux-gnu-objdump")
    flags = list(PORTABLE_CFLAGS if flags is None else flags)
    target = Target(f"sources cross-compiled for {arch}", arch, label, flags)
    audit_flags(target)
    with tempfile.TemporaryDirectory() as folder:
        objects = []
        for source in sorted((NATIVE / "src").glob("*.c")):
            obj = f"{folder}/{source.stem}.o"
            _check_output(
                [compiler, *flags, "-I", str(NATIVE / "include"), "-c", str(source), "-o", obj]
            )
            objects.append(obj)
        audit_code(target, objects, objdump)
    target.facts = predefined(compiler, flags)
    return target


def run(cross_arches: list[str]) -> tuple[list[Target], list[str]]:
    targets = [installed(), *[cross(a) for a in cross_arches]]
    return targets, audit_sources()
