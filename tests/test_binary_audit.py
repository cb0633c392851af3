"""The compiled core has no floating-point arithmetic at all: "no float on any decision path"
checked on the binary, not only in the sources. A positive control proves the detector sees
floating point when it is there."""

import platform
import re
import shutil
import subprocess

import native._bankcore
import pytest

FLOAT_OPS = {  # mnemonics of floating-point arithmetic and conversions, per architecture
    "x86_64": r"v?(add|sub|mul|div|sqrt|min|max)[sp][sd]|vf(n?m(add|sub))[0-9]*[sp][sd]"
    r"|cvt(si2s[sd]|ts[sd]2si|s[sd]2si|s[sd]2s[sd])",
    "aarch64": r"f(add|sub|mul|div|sqrt|madd|msub|nmadd|nmsub|cvtz[su])|[su]cvtf",
}

pytestmark = pytest.mark.skipif(
    shutil.which("objdump") is None or platform.machine() not in FLOAT_OPS,
    reason="needs objdump on x86_64 or aarch64",
)


def float_instructions(path: str) -> list[str]:
    listing = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", path], capture_output=True, text=True, check=True
    ).stdout
    pattern = re.compile(rf"^\s+[0-9a-f]+:\s+({FLOAT_OPS[platform.machine()]})\b", re.M)
    return [m.group(0).strip() for m in pattern.finditer(listing)]


def test_the_core_has_no_floating_point_instructions():
    assert float_instructions(native._bankcore.__file__) == []


def test_the_detector_finds_floating_point(tmp_path):
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    source = tmp_path / "fp.c"
    source.write_text("double f(double a, double b, long c) { return a * b + (double)c / 3.0; }\n")
    subprocess.run([compiler, "-O2", "-c", str(source), "-o", str(tmp_path / "fp.o")], check=True)
    assert float_instructions(str(tmp_path / "fp.o"))
