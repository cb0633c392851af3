"""The build audit and the portability probes: the compiled core has no fused multiply-add
and no floating point at all, no SVE for a Kunpeng 920 target, portable flags; the sources
avoid what differs between x86-64 and aarch64 (plain char, long double). Positive controls
prove each detector sees what it looks for."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from bench import audit, fingerprint
from native.build import PORTABLE_CFLAGS

HOST = fingerprint.machine()
CROSS = shutil.which("aarch64-linux-gnu-gcc") and shutil.which("aarch64-linux-gnu-objdump")
needs_objdump = pytest.mark.skipif(
    shutil.which("objdump") is None or HOST not in audit.FMA, reason="needs objdump"
)
needs_cross = pytest.mark.skipif(not CROSS, reason="needs gcc-aarch64-linux-gnu")
ROOT = pathlib.Path(__file__).resolve().parents[1]


@needs_objdump
def test_the_installed_core_passes_the_audit():
    target = audit.installed()
    assert target.errors == [], target.errors
    assert target.counts["fused multiply-add"] == 0 and target.counts["floating point"] == 0
    assert target.counts["instructions"] > 1000
    assert target.facts["page size"] == os.sysconf("SC_PAGE_SIZE")


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
    core = audit.cross("aarch64", default)
    assert any("contraction is not pinned off" in e for e in core.errors), core.errors
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
    sve = audit.cross("aarch64", [*PORTABLE_CFLAGS, "-O3", "-march=armv8.2-a+sve"])
    assert sve.counts["SVE"] > 0
    assert any("SVE" in e for e in sve.errors) and any("-march=" in e for e in sve.errors)
    tsv110 = audit.cross("aarch64", [*PORTABLE_CFLAGS, "-mcpu=tsv110"], label="tuned-tsv110")
    assert tsv110.errors == []


def test_flags_of_a_portable_build_are_checked():
    for flags, expected in (
        ([*PORTABLE_CFLAGS, "-march=native"], "target-specific flags: -march=native"),
        ([*PORTABLE_CFLAGS, "-mavx2"], "target-specific flags: -mavx2"),
        (PORTABLE_CFLAGS[:2], "contraction is not pinned off"),
    ):
        target = audit.Target("t", "x86_64", "portable", flags)
        audit.audit_flags(target)
        assert any(expected in e for e in target.errors), (flags, target.errors)
    tuned = audit.Target("t", "x86_64", "tuned-x86-64-v3", [*PORTABLE_CFLAGS, "-march=x86-64-v3"])
    audit.audit_flags(tuned)
    assert tuned.errors == []


def test_the_sources_avoid_plain_char_and_long_double(tmp_path):
    assert audit.audit_sources() == []
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad.c").write_text(
        'const char *name = "ok";\nunsigned char fine;\n'
        "int f(char c) { return c < 0; }\nlong double x;\n#include <immintrin.h>\n"
    )
    problems = audit.audit_sources(tmp_path)
    assert [p.split(":")[1] for p in problems] == ["3", "4", "5"], problems


def test_predefined_platform_facts_of_this_host():
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler")
    facts = audit.predefined(compiler, PORTABLE_CFLAGS)
    expected = {"x86_64": "signed", "aarch64": "unsigned"}.get(HOST)
    if expected:
        assert facts["plain char"] == expected


@needs_objdump
def test_audit_command(capsys):
    from bench import cli

    assert cli.main(["audit"]) == 0
    out = capsys.readouterr().out
    assert "installed core" in out and "fused multiply-add 0" in out and "sources: OK" in out
    if CROSS:
        assert cli.main(["audit", "--cross", "aarch64", "--json"]) == 0
    assert cli.main(["audit", "--cross", "mips64"]) == 2
    assert "mips64-linux-gnu-gcc not found" in capsys.readouterr().err


@pytest.mark.skipif(HOST != "x86_64", reason="an x86-64-v3 tuned build")
def test_a_tuned_build_is_labelled_verifies_and_is_another_build(tmp_path):
    """BANKBENCH_TUNE=x86-64-v3 in a copy of the sources: labelled, flags recorded, the same
    golden digests as the portable build, and `compare` will not mix it up with portable."""
    work = tmp_path / "src"
    for package in ("bench", "native", "workloads", "reports"):
        shutil.copytree(
            ROOT / package, work / package, ignore=shutil.ignore_patterns("*.so", "__pycache__")
        )
    env = {**os.environ, "BANKBENCH_TUNE": "x86-64-v3"}
    for name in ("BANKBENCH_BUILD_LABEL", "BANKBENCH_EXTRA_CFLAGS", "LD_PRELOAD"):
        env.pop(name, None)  # a plain tuned build, also when the suite runs sanitized
    subprocess.run(
        [sys.executable, "native/build.py"], cwd=work, env=env, check=True, capture_output=True
    )
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
