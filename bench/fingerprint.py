"""The host fingerprint recorded with every run: what machine computed these numbers.

Arm CPUs are identified by the MIDR (implementer, part) pair, never by a model name (aarch64
/proc/cpuinfo has none, and lscpu's name for the same Kunpeng 920 changed three times across
util-linux versions; reference/migration.md §2.2, §6A). A field that cannot be read is None
("unknown"), never guessed. An aarch64 Python reading an x86 /proc/cpuinfo, or an Arm system
without its ID registers, is emulation: timings from it are invalid.
"""

from __future__ import annotations

import glob
import os
import platform
import re
import sys

# (implementer, part) → name. Parts are not unique across implementers (0xd02 is both an Arm
# Cortex-A34 and HiSilicon's TaiShan v120), hence the pair.
ARM_PARTS = {
    (0x48, 0xD01): "HiSilicon TSV110 (Kunpeng 920, hip08)",
    (0x48, 0xD02): "HiSilicon TaiShan v120 (Kunpeng 920B / 920 V200, hip09)",
    (0x48, 0xD03): "HiSilicon hip10",
    (0x48, 0xD22): "HiSilicon hip11",
    (0x48, 0xD06): "HiSilicon hip12 (Kunpeng 950)",
    (0x41, 0xD0C): "Arm Neoverse N1 (Graviton2, Ampere Altra)",
    (0x41, 0xD49): "Arm Neoverse N2 (Azure Cobalt 100)",
    (0x41, 0xD40): "Arm Neoverse V1 (Graviton3)",
    (0x41, 0xD4F): "Arm Neoverse V2 (Graviton4, Grace)",
    (0x41, 0xD8E): "Arm Neoverse N3",
    (0x41, 0xD84): "Arm Neoverse V3",
    (0x41, 0xD08): "Arm Cortex-A72",
    (0x41, 0xD0B): "Arm Cortex-A76",
    (0x41, 0xD02): "Arm Cortex-A34",
    (0xC0, 0xAC3): "Ampere AmpereOne",
    (0xC0, 0xAC4): "Ampere AmpereOne A",
    (0x51, 0x001): "Qualcomm Oryon",
    (0x61, 0x000): "Apple (virtualised)",
}
IMPLEMENTERS = {
    0x41: "Arm",
    0x42: "Broadcom",
    0x43: "Cavium",
    0x46: "Fujitsu",
    0x48: "HiSilicon",
    0x4E: "NVIDIA",
    0x50: "APM",
    0x51: "Qualcomm",
    0x61: "Apple",
    0xC0: "Ampere",
}


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _int(text: str | None, base: int = 10) -> int | None:
    try:
        return int(text, base) if text is not None else None
    except ValueError:
        return None


def _cpuinfo() -> list[dict[str, str]]:
    text = _read("/proc/cpuinfo") or ""
    blocks = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def machine() -> str:
    name = platform.machine().lower()
    return {"arm64": "aarch64", "amd64": "x86_64"}.get(name, name)


def cpu_identity(arch: str, cpuinfo: list[dict[str, str]]) -> dict:
    first = cpuinfo[0] if cpuinfo else {}
    implementer: int | None
    part: int | None
    variant: int | None
    revision: int | None
    if arch == "aarch64":
        midr = _int(_read("/sys/devices/system/cpu/cpu0/regs/identification/midr_el1"), 16)
        if midr is not None:
            implementer, part = (midr >> 24) & 0xFF, (midr >> 4) & 0xFFF
            variant, revision = (midr >> 20) & 0xF, midr & 0xF
        else:
            implementer = _int(first.get("CPU implementer"), 16)
            part = _int(first.get("CPU part"), 16)
            variant = _int(first.get("CPU variant"), 16)
            revision = _int(first.get("CPU revision"))
        known = (
            ARM_PARTS.get((implementer, part))
            if implementer is not None and part is not None
            else None
        )
        vendor = IMPLEMENTERS.get(implementer) if implementer is not None else None
        return {
            "cpu_model": known
            or (f"{vendor or 'unknown vendor'} part {part:#x}" if part is not None else None),
            "midr_implementer": f"{implementer:#04x}" if implementer is not None else None,
            "midr_part": f"{part:#05x}" if part is not None else None,
            "midr_variant": variant,
            "midr_revision": revision,
            "isa_features": first.get("Features"),
        }
    return {
        "cpu_model": first.get("model name"),
        "cpu_vendor": first.get("vendor_id"),
        "isa_features": first.get("flags"),
    }


# Architecture families, as each source spells them.
_FAMILIES = {
    "x86": ("x86_64", "amd64", "x86-64", "i386", "i486", "i586", "i686", "x86"),
    "arm": ("aarch64", "arm64", "armv8", "armv7", "armhf", "armel", "arm"),
}
# The kernel exposes MIDR_EL1 in sysfs from Linux 4.7 on (arm64 cpuinfo_regs_init).
_ARM_ID_REGISTERS_SINCE = (4, 7)


def _family(text: str | None) -> str | None:
    """The architecture family a word or string names (x86, arm), or None."""
    if not text:
        return None
    words = set(re.findall(r"[a-z0-9_]+", text.lower().replace("x86-64", "x86_64")))
    found = {family for family, names in _FAMILIES.items() if words & set(names)}
    return found.pop() if len(found) == 1 else None


def _kernel_release(release: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", release)
    return (int(match.group(1)), int(match.group(2))) if match else None


def emulation_facts(
    arch: str, cpuinfo: list[dict[str, str]], root: str = "/", release: str | None = None
) -> dict[str, dict]:
    """Independent facts about which machine runs this Python, each with a verdict:
    ``foreign`` (the kernel or the CPU is of another architecture: emulated), ``consistent``,
    or ``unknown`` (not readable here). qemu-user fakes ``uname -m``, the auxiliary vector and,
    from version 8 on, an Arm ``/proc/cpuinfo``; it does not fake what the host kernel says
    about itself in /proc/sys and /sys, nor the Arm ID registers in sysfs.
    ``root`` is a folder holding proc/ and sys/ (tests give a fake one)."""

    def read(path: str) -> str | None:
        return _read(os.path.join(root, path.lstrip("/")))

    own = _family(arch)
    facts: dict[str, dict] = {}

    def fact(name: str, value, family: str | None, why: str) -> None:
        verdict = (
            "unknown"
            if family is None or own is None
            else ("consistent" if family == own else "foreign")
        )
        facts[name] = {
            "value": value,
            "verdict": verdict,
            "why": why if verdict == "foreign" else None,
        }

    fact(
        "python architecture",
        f"{arch} ({getattr(sys.implementation, '_multiarch', '') or platform.machine()})",
        own,
        "",
    )
    kernel_arch = read("/proc/sys/kernel/arch")
    fact(
        "kernel architecture (/proc/sys/kernel/arch)",
        kernel_arch,
        _family(kernel_arch),
        f"the kernel is {kernel_arch}, the Python {arch}",
    )
    modalias = read("/sys/devices/system/cpu/modalias")
    cpu_type = re.match(r"cpu:type:([^:,]+)", modalias or "")
    fact(
        "sysfs CPU type (/sys/devices/system/cpu/modalias)",
        cpu_type.group(1) if cpu_type else None,
        _family(cpu_type.group(1)) if cpu_type else None,
        f"sysfs describes {cpu_type.group(1) if cpu_type else '?'} CPUs",
    )
    version = read("/proc/version")
    fact(
        "kernel build string (/proc/version)",
        version,
        _family(version),
        f"the kernel was built for {_family(version)}",
    )
    first = cpuinfo[0] if cpuinfo else {}
    cpuinfo_family = (
        "x86" if "vendor_id" in first else "arm" if "CPU implementer" in first else None
    )
    fact(
        "/proc/cpuinfo",
        first.get("vendor_id")
        or (
            f"implementer {first['CPU implementer']} part {first.get('CPU part')}"
            if "CPU implementer" in first
            else None
        ),
        cpuinfo_family,
        "an x86 /proc/cpuinfo (qemu-user 7 shows the host's)",
    )
    if own == "arm":
        midr = read("/sys/devices/system/cpu/cpu0/regs/identification/midr_el1")
        release = release if release is not None else platform.release()
        has_cpus = os.path.isdir(os.path.join(root, "sys/devices/system/cpu/cpu0"))
        new_kernel = (_kernel_release(release) or (0, 0)) >= _ARM_ID_REGISTERS_SINCE
        fact(
            "Arm ID registers (sysfs midr_el1)",
            midr,
            "arm" if midr else ("x86" if has_cpus and new_kernel else None),
            f"an arm64 kernel {release} exposes midr_el1 in sysfs; this one does not",
        )
        claimed = _int(first.get("CPU implementer"), 16)
        if midr and claimed is not None:
            real = (_int(midr, 16) or 0) >> 24 & 0xFF
            fact(
                "/proc/cpuinfo implementer against midr_el1",
                f"{claimed:#04x} against {real:#04x}",
                "arm" if claimed == real else "x86",
                "/proc/cpuinfo names another CPU than the ID registers (faked)",
            )
        elif claimed == 0:
            # Implementer 0x00 is reserved for software use (Arm ARM, MIDR_EL1): no silicon
            # carries it; QEMU's "max" CPU does (part 0x051).
            fact(
                "/proc/cpuinfo implementer",
                "0x00 (reserved for software use)",
                "x86",
                "/proc/cpuinfo names implementer 0x00, reserved for software (QEMU's max CPU)",
            )
    binfmt = read(f"/proc/sys/fs/binfmt_misc/qemu-{arch}")
    facts[f"binfmt_misc qemu-{arch}"] = {
        "value": binfmt.splitlines()[0] if binfmt else None,
        "verdict": "note",  # a host may register emulators it does not use for itself
        "why": None,
    }
    return facts


def emulation(facts: dict[str, dict]) -> str | None:
    """Why this run is emulated (timings invalid), or None: every foreign fact."""
    foreign = [f["why"] for f in facts.values() if f["verdict"] == "foreign"]
    return "; ".join(foreign) + " (emulated: qemu-user or similar)" if foreign else None


def host_emulation() -> str | None:
    """Why this host is emulated, or None (the facts as ``collect`` records them)."""
    return emulation(emulation_facts(machine(), _cpuinfo()))


def topology() -> dict:
    cpus = sorted(glob.glob("/sys/devices/system/cpu/cpu[0-9]*"))
    packages, cores = set(), set()
    for cpu in cpus:
        package = _read(f"{cpu}/topology/physical_package_id")
        core = _read(f"{cpu}/topology/core_id")
        if package is not None and core is not None:
            packages.add(package)
            cores.add((package, core))
    logical = os.cpu_count()
    nodes = {}
    for node in sorted(glob.glob("/sys/devices/system/node/node[0-9]*")):
        meminfo = _read(f"{node}/meminfo") or ""
        total = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
        nodes[os.path.basename(node)] = {
            "cpus": _read(f"{node}/cpulist"),
            "memory_bytes": int(total.group(1)) * 1024 if total else None,
        }
    caches = {}
    for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index[0-9]*")):
        level, kind, size = (_read(f"{index}/{f}") for f in ("level", "type", "size"))
        if level and kind:
            caches[f"L{level}{'d' if kind == 'Data' else 'i' if kind == 'Instruction' else ''}"] = (
                size
            )
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "sockets": len(packages) or None,
        "physical_cores": len(cores) or None,
        "logical_cpus": logical,
        "threads_per_core": (logical // len(cores)) if cores and logical else None,
        "usable_cpus": affinity,
        "numa_nodes": nodes or None,
        "caches": caches or None,
    }


def memory_and_os() -> dict:
    try:
        import psutil

        memory = psutil.virtual_memory().total
    except Exception:  # noqa: BLE001 - psutil is optional here: unknown, not an error
        memory = None
    thp = _read("/sys/kernel/mm/transparent_hugepage/enabled")
    os_release = _read("/etc/os-release") or ""
    pretty = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', os_release, re.M)
    quota = _read("/sys/fs/cgroup/cpu.max")
    cpu_quota = None
    if quota and quota.split()[0] != "max":
        limit, period = quota.split()
        cpu_quota = int(limit) / int(period)
    libc, libc_version = platform.libc_ver()
    return {
        "memory_bytes": memory,
        "page_size_bytes": os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else None,
        "transparent_hugepages": match.group(1)
        if thp and (match := re.search(r"\[(\w+)\]", thp))
        else None,
        "cpufreq_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "cpufreq_min_khz": _int(_read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_min_freq")),
        "cpufreq_max_khz": _int(_read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")),
        "kernel": platform.release() or None,
        "os": pretty.group(1) if pretty else None,
        "libc": f"{libc} {libc_version}".strip() or None,
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "cgroup_cpu_limit": cpu_quota,
        "hostname": platform.node() or None,
    }


def collect() -> dict:
    """The whole fingerprint, one flat-ish dict ready for JSON."""
    import native

    arch = machine()
    cpuinfo = _cpuinfo()
    facts = emulation_facts(arch, cpuinfo)
    why = emulation(facts)
    return {
        "arch": arch,
        "emulated": why is not None,
        "emulation_reason": why,
        "emulation_facts": facts,
        **cpu_identity(arch, cpuinfo),
        **topology(),
        **memory_and_os(),
        "build": native.build_info(),
    }
