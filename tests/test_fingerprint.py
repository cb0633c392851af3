"""Emulation detection from facts that qemu-user does not fake. qemu-user 7.x shows the host's
x86 /proc/cpuinfo; 8 and later fake an Arm one (implementer 0x00, part 0x051), so the fact
that caught 7.x alone misses them. What neither fakes: the kernel's own architecture
(/proc/sys/kernel/arch), the CPUs sysfs describes (modalias), the Arm ID registers in sysfs.

Real emulators run here when they can be had: qemu-user 7.2 (Debian bookworm's
qemu-user-static) and a current one (.ci/qemu-current unpacks qemu-user 10 from
bookworm-backports), each running the arm64 root's Python (.ci/arm64 builds the root)."""

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from bench import fingerprint

ROOT = pathlib.Path(__file__).resolve().parents[1]
HOST = fingerprint.machine()
ARM64_ROOT = pathlib.Path(os.environ.get("BANKBENCH_ARM64_ROOT", "/var/tmp/bankbench-arm64-root"))
QEMU = {
    "7": os.environ.get("BANKBENCH_QEMU_7") or shutil.which("qemu-aarch64-static"),
    "current": os.environ.get("BANKBENCH_QEMU_CURRENT")
    or "/var/tmp/bankbench-qemu-current/root/usr/bin/qemu-aarch64",
}


def fake_host(tmp_path, files: dict[str, str]) -> str:
    for path, text in files.items():
        target = tmp_path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return str(tmp_path)


def cpuinfo(text: str) -> list[dict[str, str]]:
    return [
        {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in block.splitlines())}
        for block in text.split("\n\n")
        if block.strip()
    ]


KUNPENG_CPUINFO = (
    "processor\t: 0\nBogoMIPS\t: 200.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 "
    "atomics fphp asimdhp cpuid asimdrdm jscvt fcma dcpop asimddp asimdfhm\nCPU implementer\t: "
    "0x48\nCPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0xd01\nCPU revision\t: 0\n"
)
QEMU_MAX_CPUINFO = (
    "processor\t: 0\nmodel name\t: ARMv8 Processor rev 0 (v8l)\nBogoMIPS\t: 100.00\n"
    "Features\t: fp asimd atomics sve sve2 sme\nCPU implementer\t: 0x00\nCPU architecture: 8\n"
    "CPU variant\t: 0x0\nCPU part\t: 0x051\nCPU revision\t: 0\n"
)
X86_CPUINFO = (
    "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t: fpu sse2\n"
)
X86_KERNEL = {
    "/proc/sys/kernel/arch": "x86_64\n",
    "/sys/devices/system/cpu/modalias": "cpu:type:x86,ven0002fam0019mod0001:feature:,0000\n",
    "/sys/devices/system/cpu/cpu0/uevent": "",
    "/proc/version": "Linux version 6.1.0-27-amd64 (debian-kernel@lists.debian.org) (gcc-12)\n",
}


def verdicts(facts: dict) -> dict[str, str]:
    return {name: fact["verdict"] for name, fact in facts.items()}


def test_a_kunpeng_920_host_is_not_emulated(tmp_path):
    root = fake_host(
        tmp_path,
        {
            "/proc/sys/kernel/arch": "aarch64\n",
            "/sys/devices/system/cpu/modalias": "cpu:type:aarch64:feature:,0000,0001\n",
            "/sys/devices/system/cpu/cpu0/regs/identification/midr_el1": "0x00000000481fd010\n",
            "/proc/version": "Linux version 5.10.0-60.18.0.50.oe2203.aarch64 (gcc 10.3.1)\n",
        },
    )
    facts = fingerprint.emulation_facts("aarch64", cpuinfo(KUNPENG_CPUINFO), root, "5.10.0")
    assert fingerprint.emulation(facts) is None
    assert set(verdicts(facts).values()) <= {"consistent", "note"}, facts
    assert facts["/proc/cpuinfo implementer against midr_el1"]["value"] == "0x48 against 0x48"


def test_an_arm_host_without_sys_mounted_is_not_flagged(tmp_path):
    """A chroot or container with no /sys: unknown, not foreign."""
    root = fake_host(tmp_path, {"/proc/sys/kernel/arch": "aarch64\n"})
    facts = fingerprint.emulation_facts("aarch64", cpuinfo(KUNPENG_CPUINFO), root, "6.1.0")
    assert fingerprint.emulation(facts) is None
    assert facts["Arm ID registers (sysfs midr_el1)"]["verdict"] == "unknown"


def test_qemu_user_7_is_caught_by_every_independent_fact(tmp_path):
    root = fake_host(tmp_path, X86_KERNEL)
    facts = fingerprint.emulation_facts("aarch64", cpuinfo(X86_CPUINFO), root, "6.1.0-27-amd64")
    foreign = {n for n, v in verdicts(facts).items() if v == "foreign"}
    assert foreign == {
        "kernel architecture (/proc/sys/kernel/arch)",
        "sysfs CPU type (/sys/devices/system/cpu/modalias)",
        "kernel build string (/proc/version)",
        "/proc/cpuinfo",
        "Arm ID registers (sysfs midr_el1)",
    }
    reason = fingerprint.emulation(facts)
    assert "the kernel is x86_64, the Python aarch64" in reason and "emulated" in reason


def test_qemu_user_8_and_later_fake_cpuinfo_and_are_still_caught(tmp_path):
    """The faked Arm /proc/cpuinfo looks consistent; the kernel and sysfs do not."""
    root = fake_host(tmp_path, X86_KERNEL)
    facts = fingerprint.emulation_facts("aarch64", cpuinfo(QEMU_MAX_CPUINFO), root, "6.1.0")
    assert facts["/proc/cpuinfo"]["verdict"] == "consistent"
    assert facts["kernel architecture (/proc/sys/kernel/arch)"]["verdict"] == "foreign"
    assert facts["sysfs CPU type (/sys/devices/system/cpu/modalias)"]["verdict"] == "foreign"
    assert facts["/proc/cpuinfo implementer"]["verdict"] == "foreign"
    assert fingerprint.emulation(facts) is not None


def test_an_x86_python_on_an_arm_kernel_is_caught(tmp_path):
    """The other direction (an x86-64 Python under qemu-x86_64 on an Arm server)."""
    root = fake_host(tmp_path, {"/proc/sys/kernel/arch": "aarch64\n"})
    facts = fingerprint.emulation_facts("x86_64", cpuinfo(KUNPENG_CPUINFO), root)
    assert "the kernel is aarch64, the Python x86_64" in fingerprint.emulation(facts)


def test_this_host_is_classified_as_expected():
    """Not emulated here (x86-64) nor on a real Arm host; .ci/arm64 runs the suite under qemu
    and says so with BANKBENCH_EXPECT_EMULATED=1."""
    facts = fingerprint.collect()
    expected = os.environ.get("BANKBENCH_EXPECT_EMULATED") == "1"
    assert facts["emulated"] is expected, facts["emulation_facts"]
    assert facts["emulation_facts"]["python architecture"]["verdict"] == "consistent"


def _qemu(generation: str) -> tuple[str, str]:
    """The emulator of a generation and its version, or skip with the reason."""
    if HOST != "x86_64":
        pytest.skip("runs the arm64 root under qemu-user from an x86-64 host")
    if not (ARM64_ROOT / "usr" / "bin" / "python3").exists():
        pytest.skip(f"no arm64 root at {ARM64_ROOT} (bash .ci/arm64 builds it)")
    emulator = QEMU[generation]
    if not emulator or not os.access(emulator, os.X_OK):
        pytest.skip(f"no qemu-user {generation} (bash .ci/qemu-current unpacks a current one)")
    text = subprocess.run([emulator, "--version"], capture_output=True, text=True).stdout
    version = re.search(r"version (\d+)\.(\d+)", text)
    assert version, text
    major = int(version.group(1))
    assert major == 7 if generation == "7" else major >= 8, text
    return emulator, version.group(0)


def emulated_python(emulator: str, code: str, *, path: str = str(ROOT)) -> str:
    """Run the arm64 root's Python under ``emulator`` (-L: the root's files first, the host's
    /proc and /sys as they are), with ``path`` importable."""
    result = subprocess.run(
        [emulator, "-L", str(ARM64_ROOT), str(ARM64_ROOT / "usr/bin/python3"), "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": path, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


FACTS_CODE = (
    "import json; from bench import fingerprint as f; a = f.machine(); "
    "facts = f.emulation_facts(a, f._cpuinfo()); "
    "print(json.dumps({'arch': a, 'facts': facts, 'why': f.emulation(facts)}))"
)


@pytest.mark.parametrize("generation", ["7", "current"])
def test_both_qemu_generations_are_caught(generation):
    emulator, version = _qemu(generation)
    seen = json.loads(emulated_python(emulator, FACTS_CODE))
    assert seen["arch"] == "aarch64", version
    assert seen["why"] and "emulated" in seen["why"], (version, seen)
    facts = seen["facts"]
    assert facts["kernel architecture (/proc/sys/kernel/arch)"]["verdict"] == "foreign"
    assert facts["sysfs CPU type (/sys/devices/system/cpu/modalias)"]["verdict"] == "foreign"
    # the difference between the generations: 7 shows the x86 cpuinfo, 8+ fakes an Arm one
    shown = facts["/proc/cpuinfo"]
    if generation == "7":
        assert shown["verdict"] == "foreign", (version, shown)
    else:
        assert shown["verdict"] == "consistent" and "implementer 0x00" in shown["value"], version
