"""The build audit and the portability probes. The audit proves by compiling: the core's
object code is the same with plain char signed or unsigned, with every long double width and
with contraction fast or off; six adversarial sources that a text search misses
(tests/fixtures/adversarial) are each named when compiled into a copy of the core. Positive
controls prove each detector sees what it looks for (x87, SVE by its z registers, the
outline-atomic helpers, the last flag on the compile line)."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import native
from bench import audit, fingerprint
from native.build import PORTABLE_CFLAGS

HOST = fingerprint.machine()
CROSS = shutil.which("aarch64-linux-gnu-gcc") and shutil.which("aarch64-linux-gnu-objdump")
needs_objdump = pytest.mark.skipif(
    shutil.which("objdump") is None or HOST not in audit.FLOAT_CLASSES, reason="needs objdump"
)
needs_cross = pytest.mark.skipif(not CROSS, reason="needs gcc-aarch64-linux-gnu")
ROOT = pathlib.Path(__file__).resolve().parents[1]
# the x86-64 compiler proves the long double widths (aarch64 has no switch for them)
X86_COMPILER = HOST == "x86_64" or bool(shutil.which("x86_64-linux-gnu-gcc"))


# the audit judges a release build; the sanitizer build overrides the pinned flags by design
release_build = pytest.mark.skipif(
    native.is_sanitizer_build(), reason="the core is the sanitizer build (-O1 -fsanitize)"
)


@needs_objdump
@release_build
def test_the_installed_core_passes_the_audit():
    target = audit.installed()
    assert target.errors == [], target.errors
    assert target.counts["fused multiply-add"] == 0 and target.counts["floating point"] == 0
    assert target.counts["instructions"] > 1000
    assert target.facts["page size"] == os.sysconf("SC_PAGE_SIZE")
    assert any("proved by compiling: identical object code" in n for n in target.notes)


def _compile(tmp_path, compiler, flags, source):
    path = tmp_path / "probe.c"
    path.write_text(source)
    subprocess.run([compiler, *flags, "-c", str(path), "-o", str(tmp_path / "probe.o")], check=True)
    return str(tmp_path / "probe.o")


FMA_SOURCE = "double f(double a, double b, double c) { return a * b + c; }\n"


@needs_objdump
def test_the_detector_sees_floating_point(tmp_path):
    obj = _compile(tmp_path, shutil.which("gcc") or "cc", ["-O2"], FMA_SOURCE)
    target = audit.Target("probe", HOST, "portable", ["-O2", "-ffp-contract=off"])
    audit.audit_code(target, [obj], "objdump")
    assert (
        target.counts["floating point"] > 0 and "floating-point instructions" in target.errors[-1]
    )


@needs_cross
def test_aarch64_with_the_default_contraction_is_caught(tmp_path):
    """The compiler's default (-ffp-contract=fast for GNU C) fuses a*b+c on aarch64. The core
    has no floating point, so its code cannot change; the audit catches the build by its
    flags, and the instruction check catches fusion wherever there is float code."""
    default = [f for f in PORTABLE_CFLAGS if f != "-ffp-contract=off"]
    core = audit.cross("aarch64", default, prove=False)
    assert any("effective -ffp-contract is unset, pinned off" in e for e in core.errors), (
        core.errors
    )
    assert core.counts["fused multiply-add"] == 0  # no float code to fuse in the core

    fused = audit.Target("probe", "aarch64", "portable", default)
    obj = _compile(tmp_path, "aarch64-linux-gnu-gcc", ["-O2"], FMA_SOURCE)
    audit.audit_code(fused, [obj], "aarch64-linux-gnu-objdump")
    assert fused.counts["fused multiply-add"] == 1, "the default contraction fuses a*b+c"
    assert any("fused multiply-add" in e for e in fused.errors)

    pinned = audit.Target("probe", "aarch64", "portable", PORTABLE_CFLAGS)
    obj = _compile(tmp_path, "aarch64-linux-gnu-gcc", ["-O2", "-ffp-contract=off"], FMA_SOURCE)
    audit.audit_code(pinned, [obj], "aarch64-linux-gnu-objdump")
    assert pinned.counts["fused multiply-add"] == 0


@needs_cross
def test_the_portable_aarch64_build_is_clean_and_sve_is_caught():
    portable = audit.cross("aarch64")
    assert portable.errors == [] and portable.counts["SVE"] == 0
    assert portable.facts["plain char"] == "unsigned"  # the Arm ABI: unlike x86-64
    assert portable.facts["long double mantissa bits"] == 113  # binary128, not x87's 64
    sve = audit.cross("aarch64", [*PORTABLE_CFLAGS, "-O3", "-march=armv8.2-a+sve"], prove=False)
    assert sve.counts["SVE"] > 0
    assert any("SVE" in e for e in sve.errors) and any("-march=" in e for e in sve.errors)
    tsv110 = audit.cross(
        "aarch64", [*PORTABLE_CFLAGS, "-mcpu=tsv110"], label="tuned-tsv110", prove=False
    )
    assert tsv110.errors == []


def test_flags_of_a_portable_build_are_checked():
    for flags, expected in (
        ([*PORTABLE_CFLAGS, "-march=native"], "target-specific flags: -march=native"),
        ([*PORTABLE_CFLAGS, "-mavx2"], "target-specific flags: -mavx2"),
        (PORTABLE_CFLAGS[:2], "effective -ffp-contract is unset, pinned off"),
        # GCC obeys the last flag: an extra -ffp-contract=fast wins over the pinned off
        ([*PORTABLE_CFLAGS, "-ffp-contract=fast"], "effective -ffp-contract is fast"),
        ([*PORTABLE_CFLAGS, "-ffp-contract=fast"], "is custom, not portable"),
        ([*PORTABLE_CFLAGS, "-O3"], "effective -O is 3, pinned 2"),
        ([*PORTABLE_CFLAGS, "-fwrapv"], "effective wrapv is on, pinned off"),
        ([*PORTABLE_CFLAGS, "-ffast-math"], "effective fast-math is on, pinned off"),
    ):
        target = audit.Target("t", "x86_64", "portable", flags)
        audit.audit_flags(target)
        assert any(expected in e for e in target.errors), (flags, target.errors)
    tuned = audit.Target("t", "x86_64", "tuned-x86-64-v3", [*PORTABLE_CFLAGS, "-march=x86-64-v3"])
    audit.audit_flags(tuned)
    assert tuned.errors == []
    # the interpreter's CFLAGS come first on the whole line; ours come last and win
    line = ["-DNDEBUG", "-g", "-fwrapv", "-O3", "-ffp-contract=fast", *PORTABLE_CFLAGS]
    pinned = audit.Target("t", "x86_64", "portable", list(PORTABLE_CFLAGS))
    audit.audit_flags(pinned, line)
    assert pinned.errors == []
    audit.audit_flags(pinned, [*line, "-ffp-contract=fast"])
    assert pinned.errors == [
        "effective -ffp-contract is fast, pinned off: the compiler's default contraction may "
        "fuse multiply-add on aarch64 and round differently from x86-64"
    ]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_the_compiler_reads_the_whole_line_in_any_spelling(tmp_path):
    """GCC's own reading of the compile line (gcc -Q --help) decides: another spelling of a
    flag, a response file, or a flag that implies another passed the text reading (h15)."""
    fast = tmp_path / "fast.rsp"
    fast.write_text("-ffp-contract=fast\n")
    for extra, expected in (
        (["--fp-contract=fast"], "effective -ffp-contract is fast, pinned off"),
        ([f"@{fast}"], "effective -ffp-contract is fast, pinned off"),
        (["-fno-strict-overflow"], "effective wrapv is on, pinned off"),
    ):
        target = audit.Target("t", HOST, "custom", [*PORTABLE_CFLAGS, *extra])
        audit.audit_flags(target, [*PORTABLE_CFLAGS, *extra], ["gcc"])
        assert any(expected in e for e in target.errors), (extra, target.errors)
        read_as_text = audit.Target("t", HOST, "custom", [*PORTABLE_CFLAGS, *extra])
        audit.audit_flags(read_as_text, [*PORTABLE_CFLAGS, *extra])
        assert read_as_text.errors == []  # what the text alone cannot see
    clean = audit.Target("t", HOST, "portable", list(PORTABLE_CFLAGS))
    audit.audit_flags(clean, list(PORTABLE_CFLAGS), ["gcc"])
    assert clean.errors == []


def test_predefined_platform_facts_of_this_host():
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler")
    facts = audit.predefined(compiler, PORTABLE_CFLAGS)
    expected = {"x86_64": "signed", "aarch64": "unsigned"}.get(HOST)
    if expected:
        assert facts["plain char"] == expected


@needs_objdump
@release_build
def test_audit_command(capsys):
    from bench import cli

    assert cli.main(["audit"]) == 0
    out = capsys.readouterr().out
    assert "installed core" in out and "fused multiply-add 0" in out
    sources = next(line for line in out.splitlines() if line.startswith("sources: "))
    if X86_COMPILER:
        proved = "sources: OK (proved alike by compiling: plain char signedness, long double width"
        assert sources.startswith(proved), out
    else:  # an aarch64 host without an x86-64 compiler cannot try the long double widths
        not_proved = sources.split("; not proved: ", 1)[1]  # the emulated root has none
        assert "long double width (no x86_64 compiler)" in not_proved, out
    if CROSS:
        assert cli.main(["audit", "--cross", "aarch64", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        arm = report["targets"][-1]
        assert arm["arch"] == "aarch64" and report["ok"]
        # the barrier's atomics are outline-atomic helper calls, counted by name
        helpers = " ".join(arm["notes"])
        assert "outline-atomic calls (__aarch64_" in helpers and "_acq_rel ×" in helpers
        assert arm["counts"]["atomics (outline-atomic calls)"] > 0
        assert "a Kunpeng 920 build (-mcpu=tsv110, LSE) would use: LSE (" in helpers
    assert cli.main(["audit", "--cross", "mips64"]) == 2
    assert "mips64-linux-gnu-gcc not found" in capsys.readouterr().err


def _built_copy(tmp_path, variable: str, value: str) -> pathlib.Path:
    """The project's packages copied and the core built with one build variable set (and no
    other: a plain build of that kind, also when the suite runs sanitized)."""
    work = tmp_path / "src"
    for package in ("bench", "native", "workloads", "reports"):
        shutil.copytree(
            ROOT / package, work / package, ignore=shutil.ignore_patterns("*.so", "__pycache__")
        )
    env = {**os.environ, variable: value}
    for name in ("BANKBENCH_BUILD_LABEL", "BANKBENCH_EXTRA_CFLAGS", "BANKBENCH_TUNE", "LD_PRELOAD"):
        if name != variable:
            env.pop(name, None)
    subprocess.run(
        [sys.executable, "native/build.py"], cwd=work, env=env, check=True, capture_output=True
    )
    return work


@pytest.mark.skipif(HOST != "x86_64", reason="an x86-64-v3 tuned build")
def test_a_tuned_build_is_labelled_verifies_and_is_another_build(tmp_path):
    """BANKBENCH_TUNE=x86-64-v3 in a copy of the sources: labelled, flags recorded, the same
    golden digests as the portable build, and `compare` will not mix it up with portable."""
    work = _built_copy(tmp_path, "BANKBENCH_TUNE", "x86-64-v3")
    check = (
        "import json, native; from bench import compare; info = native.build_info();"
        "print(json.dumps(info))"
    )
    info = subprocess.run(
        [sys.executable, "-c", check], cwd=work, capture_output=True, text=True, check=True
    ).stdout
    assert '"label": "tuned-x86-64-v3"' in info and "-march=x86-64-v3" in info
    verify = subprocess.run(
        [sys.executable, "-m", "bench.cli", "verify", "-w", "loan.*,ledger.post", "-t", "1,2"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    import json

    from bench import compare

    portable = {
        "run_id": "p",
        "emulated": False,
        "fingerprint_json": "{}",
        "build_json": json.dumps({"label": "portable", "flags": "-O2", "source_sha256": "s"}),
    }
    tuned = {
        **portable,
        "run_id": "t",
        "build_json": json.dumps(
            {"label": "tuned-x86-64-v3", "flags": "-O2 -march=x86-64-v3", "source_sha256": "s"}
        ),
    }
    result = compare.contract(portable, tuned, set())
    assert not result.comparable and set(result.not_allowed) == {"flags", "build_label"}


FIXTURES = ROOT / "tests" / "fixtures" / "adversarial"
# fixture file -> (its function, the setting the audit must name)
ADVERSARIAL = {
    "char_const_value.c": ("probe_const_char_value", "plain char signedness"),
    "char_deref_negative.c": ("probe_deref_negative", "plain char signedness"),
    "char_star_line.c": ("probe_star_line", "plain char signedness"),
    "char_token_paste.c": ("probe_token_paste", "plain char signedness"),
    "long_double_typeof.c": ("probe_typeof_long_double", "long double width"),
    "long_double_split.c": ("probe_split_long_double", "long double width"),
}


def _core_with_fixtures(tmp_path):
    copy = tmp_path / "native"
    shutil.copytree(audit.NATIVE, copy, ignore=shutil.ignore_patterns("*.so", "*.o", "__pycache__"))
    for name in ADVERSARIAL:
        shutil.copy(FIXTURES / name, copy / "src" / f"zz_{name}")
    return copy


def _lines_naming(target, file, function):
    return [e for e in target.errors if e.startswith(f"zz_{file}: ") and function in e]


@pytest.mark.skipif(HOST not in audit.FLOAT_CLASSES, reason="an x86-64 or aarch64 host")
def test_each_adversarial_source_fails_the_audit_by_name(tmp_path):
    """Compiled into a copy of the core, each of the six fixtures fails with a line naming its
    file, its function and the setting; none of the core's own files is named."""
    unmodified = audit.cross(HOST)
    assert unmodified.errors == [], unmodified.errors
    copy = _core_with_fixtures(tmp_path)
    host = audit.cross(HOST, folder=copy)  # the core's own files come from the cache
    for file, (function, setting) in ADVERSARIAL.items():
        if setting == "long double width" and HOST == "aarch64":
            # no width switch on aarch64: long double is binary128 in software calls
            assert any("soft-float calls" in e and function in e for e in host.errors), file
            continue
        lines = _lines_naming(host, file, function)
        assert lines and all(f"{file}: {setting} changes the object code of" in x for x in lines), (
            file,
            host.errors,
        )
    named = [e.split(":")[0] for e in host.errors if " changes the object code of " in e]
    assert all(n.startswith("zz_") for n in named), named
    if HOST == "x86_64":
        assert host.counts["x87"] > 0 and host.counts["floating point"] >= host.counts["x87"]
    if CROSS and HOST != "aarch64":
        assert audit.cross("aarch64").errors == []
        arm = audit.cross("aarch64", folder=copy)
        for file, (function, setting) in ADVERSARIAL.items():
            if setting == "plain char signedness":
                assert _lines_naming(arm, file, function), (file, arm.errors)
            else:
                assert any("soft-float calls" in e and function in e for e in arm.errors), file


@pytest.mark.skipif(not CROSS, reason="needs gcc-aarch64-linux-gnu")
def test_sve_is_counted_by_its_z_register_operands(tmp_path):
    """objdump puts a tab between mnemonic and operands: an SVE add on z registers has the
    same mnemonic as a scalar add and is known by its operands."""
    source = tmp_path / "sve.s"
    source.write_text(
        ".arch armv8.2-a+sve\n.text\n.globl f\nf:\n"
        "  add z0.d, z0.d, z1.d\n  add x0, x0, x1\n  add v0.2d, v0.2d, v1.2d\n  ret\n"
    )
    obj = tmp_path / "sve.o"
    subprocess.run(["aarch64-linux-gnu-gcc", "-c", str(source), "-o", str(obj)], check=True)
    code = audit.disassemble(str(obj), "aarch64-linux-gnu-objdump")
    assert [(i.mnemonic, i.operands) for i in code][0] == ("add", "z0.d, z0.d, z1.d")
    target = audit.Target("probe", "aarch64", "portable", list(PORTABLE_CFLAGS))
    audit.audit_code(target, [str(obj)], "aarch64-linux-gnu-objdump")
    assert target.counts["SVE"] == 1 and any("SVE" in e for e in target.errors)


@pytest.mark.skipif(HOST != "x86_64", reason="x86-64 AT&T syntax")
def test_x86_prefixes_and_x87_are_parsed(tmp_path):
    obj = _compile(
        tmp_path,
        "gcc",
        ["-O2"],
        "long double f(long double a, long double b) { return a * b; }\n"
        "int g(int *p) { return __atomic_fetch_add(p, 1, __ATOMIC_SEQ_CST); }\n",
    )
    target = audit.Target("probe", "x86_64", "portable", list(PORTABLE_CFLAGS))
    audit.audit_code(target, [obj], "objdump")
    assert target.counts["x87"] >= 3 and target.counts["atomics (lock)"] == 1
    assert any("x87" in e and "in f" in e for e in target.errors)
    assert "lock (lock xadd ×1)" in target.notes[-1]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_extra_cflags_make_a_custom_build_that_fails_the_audit(tmp_path):
    """BANKBENCH_EXTRA_CFLAGS=-ffp-contract=fast: the build is labelled custom (never
    portable), and the audit reads the effective contraction from the whole compile line."""
    work = _built_copy(tmp_path, "BANKBENCH_EXTRA_CFLAGS", "-ffp-contract=fast")
    result = subprocess.run(
        [sys.executable, "-m", "bench.cli", "audit"], cwd=work, capture_output=True, text=True
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "installed core (" in result.stdout and ", custom): FAILED" in result.stdout
    assert "ERROR: effective -ffp-contract is fast, pinned off" in result.stdout


def _core_with(tmp_path, *fixtures: str) -> pathlib.Path:
    copy = tmp_path / "native"
    shutil.copytree(audit.NATIVE, copy, ignore=shutil.ignore_patterns("*.so", "*.o", "__pycache__"))
    for name in fixtures:
        shutil.copy(FIXTURES / name, copy / "src" / f"zz_{name}")
    return copy


def test_the_allowlist_of_external_calls():
    """-D_FORTIFY_SOURCE (in Ubuntu's interpreter CFLAGS) turns memcpy into __memcpy_chk; the
    Python C API is allowed only in the shared library (cffi's wrapper), never in the core."""
    assert audit.is_core_import("__memcpy_chk", False) and audit.is_core_import("memset", False)
    assert audit.is_core_import("__aarch64_ldadd4_acq_rel", False)
    assert not audit.is_core_import("__cbrt_chk", False) and not audit.is_core_import("cbrt", True)
    assert not audit.is_core_import("__powidf2", True) and not audit.is_core_import("fma", True)
    assert audit.is_core_import("PyLong_FromLong", True)
    assert not audit.is_core_import("PyLong_FromLong", False)


@pytest.mark.skipif(HOST not in audit.FLOAT_CLASSES, reason="an x86-64 or aarch64 host")
def test_a_libm_call_on_bit_copied_integers_fails_by_name(tmp_path):
    """cbrt on an int64 copied into a double: the object holds moves and a call, no float
    instruction. The audit lists the core's external calls and names the one that is not on
    its allowlist; the unmodified core (x86-64 and aarch64) calls only allowed ones."""
    assert audit.cross(HOST, prove=False).counts["foreign calls"] == 0
    copy = _core_with(tmp_path, "libm_cbrt_bits.c", "libm_fma_call.c")
    arches = [HOST, *(["aarch64"] if CROSS and HOST != "aarch64" else [])]
    for arch in arches:
        target = audit.cross(arch, folder=copy, prove=False)
        assert (
            "calls libm cbrt (in probe_cbrt_bits): results are not guaranteed bit-identical "
            "across architectures"
        ) in " ".join(target.errors), (arch, target.errors)
        if arch == "x86_64":  # no FMA instruction in baseline x86-64: a call to libm's fma
            assert any(e.startswith("calls libm fma (in probe_fma_call)") for e in target.errors)
        else:  # aarch64 has the instruction
            assert target.counts["fused multiply-add"] > 0


@pytest.mark.skipif(HOST not in audit.FLOAT_CLASSES, reason="an x86-64 or aarch64 host")
def test_architecture_conditional_code_and_wchar_fail_by_file_and_line(tmp_path):
    """#if defined(__aarch64__) choosing another rate compiles to the same object code under
    every switch of one target; preprocessed for both targets, the core's own lines differ.
    wchar_t's signedness differs with no switch to try: its use is named."""
    copy = _core_with(tmp_path, "arch_conditional_rate.c", "wchar_fee.c")
    target = audit.cross(HOST, folder=copy)
    errors = " | ".join(target.errors)
    assert (
        "src/zz_wchar_fee.c:8: uses wchar_t (wchar_t: int on x86-64, unsigned int on aarch64"
        in (errors)
    ), errors
    other = audit.OTHER_ARCH[HOST]
    if shutil.which(f"{other}-linux-gnu-gcc"):
        assert f"src/zz_arch_conditional_rate.c:9: preprocessed differently for {HOST}" in errors
        assert (
            f"and {other} line 7 (return amount_fen + amount_fen / 1000 ;)" in errors
            and "the architecture chooses the code" in errors
        )
        assert not [e for e in target.errors if not e.startswith("src/zz_")], target.errors
    else:
        assert f"architecture-conditional code: not proved: no {other} compiler" in target.notes


@needs_objdump
@release_build
def test_the_audit_proves_the_sources_the_core_was_built_from(tmp_path):
    """The sources compiled by the audit, with one file deleted: they still pass every proof,
    but they are not what the installed core was built from (its symbols are still there)."""
    copy = _core_with(tmp_path)
    (copy / "src" / "probe.c").unlink()
    target = audit.installed(copy)
    assert any(
        e.startswith("the core was built from other sources: rebuild it (python native/build.py)")
        for e in target.errors
    ), target.errors
    assert audit.installed().errors == []


@needs_cross
def test_acquire_release_and_fences_are_listed_on_aarch64(tmp_path):
    """The barrier's own acquire loads and release stores were missing from the listing, and
    so were a fixture's two acquire loads, release store and fence."""
    core = audit.cross("aarch64", prove=False)
    assert "acquire/release (ldar ×" in next(n for n in core.notes if n.startswith("atomics: "))
    copy = _core_with(tmp_path, "atomics_acquire_release.c")
    arm = audit.cross("aarch64", folder=copy, prove=False)
    assert "barrier (dmb ×1)" in next(n for n in arm.notes if n.startswith("atomics: "))
    added = {k: arm.counts[k] - core.counts[k] for k in arm.counts if k.startswith("atomics")}
    assert added == {
        "atomics (LSE)": 0,
        "atomics (exclusive)": 0,
        "atomics (acquire/release)": 3,
        "atomics (barrier)": 1,
        "atomics (outline-atomic calls)": 0,
    }


@needs_cross
def test_an_aarch64_audit_proves_long_double_widths_with_the_x86_compiler(tmp_path, monkeypatch):
    """A long double folded to an integer constant leaves no trace in aarch64 code (no width
    switch there): the x86-64 compiler proves the widths, or the audit says it could not."""
    if X86_COMPILER:
        copy = _core_with(tmp_path, "long_double_fold.c")
        arm = audit.cross("aarch64", folder=copy)
        assert arm.counts["soft-float calls"] == 0  # nothing to see in the aarch64 code
        assert any(
            e.startswith("zz_long_double_fold.c: long double width changes the object code of ")
            and "probe_long_double_fold" in e
            for e in arm.errors
        ), arm.errors
        assert "long double width" in arm.proved

    real = audit.toolchain_for

    def no_x86(arch):
        if arch == "x86_64":
            raise audit.AuditError("x86_64-linux-gnu-gcc not found")
        return real(arch)

    monkeypatch.setattr(audit.compiling, "toolchain_for", no_x86)
    clean = audit.cross("aarch64")
    assert clean.errors == [] and "long double width" not in clean.proved
    assert any(n.startswith("long double: not proved on this host") for n in clean.notes)
    said = audit.summary([clean])
    assert "; not proved: " in said and "long double width (no x86_64 compiler)" in said, said
    assert "every long double width" not in audit.summary([clean])
