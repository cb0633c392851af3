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


def arm_host(cpu: str, release: str, builder: str) -> dict[str, str]:
    """A real arm64 host's proc/sys: its kernel, its sysfs CPUs and ID registers."""
    midr = {
        "kunpeng": "0x00000000481fd010",  # HiSilicon 0x48, variant 1, part 0xd01, revision 0
        "altra": "0x00000000413fd0c1",  # Arm 0x41, Neoverse N1 0xd0c, r3p1
        "graviton3": "0x00000000411fd401",  # Arm 0x41, Neoverse V1 0xd40, r1p1
    }
    return {
        "/proc/sys/kernel/arch": "aarch64\n",
        "/sys/devices/system/cpu/modalias": "cpu:type:aarch64:feature:,0000,0001\n",
        "/sys/devices/system/cpu/cpu0/regs/identification/midr_el1": midr[cpu] + "\n",
        "/proc/version": f"Linux version {release} ({builder}) #1 SMP\n",
    }


ARM_CPUINFO = {
    "kunpeng": KUNPENG_CPUINFO,
    "altra": KUNPENG_CPUINFO.replace("0x48", "0x41")
    .replace("0xd01", "0xd0c")
    .replace("variant\t: 0x1", "variant\t: 0x3"),
    "graviton3": KUNPENG_CPUINFO.replace("0x48", "0x41").replace("0xd01", "0xd40"),
}
REAL_ARM_HOSTS = {
    "Kunpeng 920, openEuler": (
        "kunpeng",
        "5.10.0-60.18.0.50.oe2203.aarch64",
        "root@dc-64g.compass-ci) (gcc_old (GCC) 10.3.1, GNU ld (GNU Binutils) 2.37",
    ),
    "Kunpeng 920, kernel built on an x86 host": (
        "kunpeng",
        "5.10.0",
        "jenkins@x86_64-build-07) (gcc (GCC) 10.3.1, GNU ld (GNU Binutils) 2.37",
    ),
    "Kunpeng 920, kernel cross-built by an x86-64 gcc": (
        "kunpeng",
        "4.19.90-2003.4.0.0036.oe1.aarch64",
        "abuild@build-x86-64) (x86_64-linux-gnu-gcc (GCC) 7.3.0",
    ),
    "Ampere Altra, Ubuntu": (
        "altra",
        "5.15.0-91-generic",
        "buildd@bos02-arm64-032) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0",
    ),
    "Graviton3, Amazon Linux": (
        "graviton3",
        "6.1.109-118.189.amzn2023.aarch64",
        "mockbuild@ip-10-0-41-187) (gcc (GCC) 11.4.1 20230605",
    ),
}


@pytest.mark.parametrize("sysfs", ["bare metal", "container sysfs without regs/"])
@pytest.mark.parametrize("host", REAL_ARM_HOSTS)
def test_real_arm_hosts_are_not_emulated(tmp_path, host, sysfs):
    """Neither the builder's host or compiler named in /proc/version nor a sysfs without the
    ID registers (a container's or sandbox's sysfs, a kernel before 4.11) decides."""
    cpu, release, builder = REAL_ARM_HOSTS[host]
    files = arm_host(cpu, release, builder)
    if sysfs != "bare metal":
        del files["/sys/devices/system/cpu/cpu0/regs/identification/midr_el1"]
        files["/sys/devices/system/cpu/cpu0/uevent"] = ""
    root = fake_host(tmp_path, files)
    facts = fingerprint.emulation_facts("aarch64", cpuinfo(ARM_CPUINFO[cpu]), root, release)
    assert fingerprint.emulation(facts) is None, facts
    assert "foreign" not in verdicts(facts).values(), facts
    registers = facts["Arm ID registers (sysfs midr_el1)"]["verdict"]
    assert registers == ("consistent" if sysfs == "bare metal" else "absent")


def test_an_x86_64_host_is_not_emulated(tmp_path):
    root = fake_host(tmp_path, X86_KERNEL)
    facts = fingerprint.emulation_facts("x86_64", cpuinfo(X86_CPUINFO), root, "6.1.0-27-amd64")
    assert fingerprint.emulation(facts) is None
    assert set(verdicts(facts).values()) <= {"consistent", "note"}, facts


def test_only_the_kernel_release_of_proc_version_counts(tmp_path):
    """An x86-64 release decides; an x86-64 builder or compiler of an Arm kernel does not."""
    version = "Linux version 6.1.0-27-amd64 (debian-kernel@arm64-buildd) (aarch64-linux-gnu-gcc-12)"
    root = fake_host(tmp_path, {"/proc/version": version})
    facts = fingerprint.emulation_facts("aarch64", cpuinfo(KUNPENG_CPUINFO), root, "6.1.0")
    release = facts["kernel release (/proc/version)"]
    assert (release["value"], release["verdict"]) == ("6.1.0-27-amd64", "foreign")
    assert "6.1.0-27-amd64 is built for x86" in fingerprint.emulation(facts)


def test_missing_id_registers_support_a_decision_and_never_make_one(tmp_path):
    files = {"/sys/devices/system/cpu/cpu0/uevent": "", "/proc/sys/kernel/arch": "aarch64\n"}
    alone = fingerprint.emulation_facts(
        "aarch64", cpuinfo(KUNPENG_CPUINFO), fake_host(tmp_path / "arm", files), "6.1.0"
    )
    assert fingerprint.emulation(alone) is None
    files["/proc/sys/kernel/arch"] = "x86_64\n"
    with_foreign = fingerprint.emulation_facts(
        "aarch64", cpuinfo(KUNPENG_CPUINFO), fake_host(tmp_path / "x86", files), "6.1.0"
    )
    reason = fingerprint.emulation(with_foreign)
    assert "the kernel is x86_64" in reason
    assert "supporting: sysfs shows no Arm ID registers" in reason


def test_under_emulation_the_cpu_identity_is_labelled_the_emulators():
    identity = {"cpu_model": "unknown vendor part 0x51", "midr_implementer": "0x00"}
    assert fingerprint.labelled_identity(identity, None) == identity
    labelled = fingerprint.labelled_identity(identity, "the kernel is x86_64 (emulated)")
    assert labelled["cpu_model"] == (
        "emulated: unknown vendor part 0x51 (the emulator's CPU, not the host's)"
    )
    assert fingerprint.labelled_identity({"cpu_model": None}, "x")["cpu_model"] is None


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
        "kernel release (/proc/version)",
        "/proc/cpuinfo",
    }
    assert facts["Arm ID registers (sysfs midr_el1)"]["verdict"] == "absent"
    reason = fingerprint.emulation(facts)
    assert "the kernel is x86_64, the Python aarch64" in reason and "emulated" in reason
    assert "arm64 kernel" not in reason  # the kernel here is x86_64: say nothing else of it


def test_qemu_user_8_and_later_fake_cpuinfo_and_are_still_caught(tmp_path):
    """The faked Arm /proc/cpuinfo names implementer 0x00, which no silicon carries: one fact,
    one verdict (foreign), as are the kernel's and sysfs's."""
    root = fake_host(tmp_path, X86_KERNEL)
    facts = fingerprint.emulation_facts("aarch64", cpuinfo(QEMU_MAX_CPUINFO), root, "6.1.0")
    shown = facts["/proc/cpuinfo"]
    assert shown["verdict"] == "foreign" and "implementer 0x00" in shown["value"]
    assert [name for name in facts if "cpuinfo" in name] == ["/proc/cpuinfo"]
    assert facts["kernel architecture (/proc/sys/kernel/arch)"]["verdict"] == "foreign"
    assert facts["sysfs CPU type (/sys/devices/system/cpu/modalias)"]["verdict"] == "foreign"
    assert "reserved for software" in fingerprint.emulation(facts)


def test_qemu_max_cpu_alone_is_caught(tmp_path):
    """qemu-user >= 8 where the host kernel says nothing readable about itself."""
    facts = fingerprint.emulation_facts(
        "aarch64", cpuinfo(QEMU_MAX_CPUINFO), fake_host(tmp_path, {}), "6.18.44-fc-v857"
    )
    assert "implementer 0x00" in fingerprint.emulation(facts)


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
    assert shown["verdict"] == "foreign", (version, shown)
    if generation != "7":
        assert "implementer 0x00" in shown["value"], (version, shown)
    # every line true: this x86-64 kernel is not called an arm64 one
    assert "arm64 kernel" not in json.dumps(facts), (version, facts)
