"""The host fingerprint recorded with every run: what machine computed these numbers.

Arm CPUs are identified by the MIDR (implementer, part) pair, never by a model name (aarch64
/proc/cpuinfo has none, and lscpu's name for the same Kunpeng 920 changed three times across
util-linux versions; reference/migration.md §2.2, §6A). A field that cannot be read is None
("unknown"), never guessed. A kernel or CPU of another architecture than the Python's (an
aarch64 Python reading an x86 /proc/cpuinfo or an x86_64 /proc/sys/kernel/arch), or a CPU no
silicon carries, is emulation: timings from it are invalid, and the CPU it shows is the
emulator's, not the host's.
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


def labelled_identity(identity: dict, emulation_reason: str | None) -> dict:
    """The CPU identity as recorded: under emulation the CPU this Python sees is the
    emulator's (QEMU's "max" CPU, or nothing), never the host's, and its name says so."""
    model = identity.get("cpu_model")
    if emulation_reason is None or not model:  # an unknown model stays unknown (None)
        return identity
    return {**identity, "cpu_model": f"emulated: {model} (the emulator's CPU, not the host's)"}


# Architecture families, as each source spells them.
_FAMILIES = {
    "x86": ("x86_64", "amd64", "x86-64", "i386", "i486", "i586", "i686", "x86"),
    "arm": ("aarch64", "arm64", "armv8", "armv7", "armhf", "armel", "arm"),
}


def _family(text: str | None) -> str | None:
    """The architecture family a word or string names (x86, arm), or None."""
    if not text:
        return None
    words = set(re.findall(r"[a-z0-9_]+", text.lower().replace("x86-64", "x86_64")))
    found = {family for family, names in _FAMILIES.items() if words & set(names)}
    return found.pop() if len(found) == 1 else None


def _kernel_release(version: str | None, release: str) -> str:
    """The running kernel's release: the first word after "Linux version" in /proc/version (the
    rest names the builder's host and compiler, e.g. root@x86_64-build-07 or a cross gcc, which
    say nothing about this kernel), else uname's release."""
    match = re.match(r"Linux version (\S+)", version or "")
    return match.group(1) if match else release


def emulation_facts(
    arch: str, cpuinfo: list[dict[str, str]], root: str = "/", release: str | None = None
) -> dict[str, dict]:
    """Independent facts about which machine runs this Python, each with a verdict:
    ``foreign`` (decisive: the kernel or the CPU is of another architecture, or a CPU no
    silicon carries: emulated), ``absent`` (a fact a real host usually shows is missing:
    supporting evidence, never decisive alone: containers and old kernels lack it too),
    ``consistent``, or ``unknown`` (not readable here, or names no architecture).
    qemu-user fakes ``uname -m``, the auxiliary vector and, from version 8 on, an Arm
    ``/proc/cpuinfo`` (implementer 0x00); it does not fake what the host kernel says about
    itself in /proc/sys and /sys. ``root`` is a folder holding proc/ and sys/ (tests give a
    fake one); ``release`` is uname's, used when /proc/version cannot be read."""

    def read(path: str) -> str | None:
        return _read(os.path.join(root, path.lstrip("/")))

    own = _family(arch)
    facts: dict[str, dict] = {}

    def fact(name: str, value, verdict: str, why: str | None = None) -> None:
        facts[name] = {
            "value": value,
            "verdict": verdict,
            "why": why if verdict in ("foreign", "absent") else None,
        }

    def against(family: str | None) -> str:
        """The verdict of a fact naming ``family``, against this Python's architecture."""
        if family is None or own is None:
            return "unknown"
        return "consistent" if family == own else "foreign"

    fact(
        "python architecture",
        f"{arch} ({getattr(sys.implementation, '_multiarch', '') or platform.machine()})",
        against(own),
    )
    kernel_arch = read("/proc/sys/kernel/arch")
    fact(
        "kernel architecture (/proc/sys/kernel/arch)",
        kernel_arch,
        against(_family(kernel_arch)),
        f"the kernel is {kernel_arch}, the Python {arch}",
    )
    modalias = read("/sys/devices/system/cpu/modalias")
    cpu_type = (re.match(r"cpu:type:([^:,]+)", modalias or "") or [None, None])[1]
    fact(
        "sysfs CPU type (/sys/devices/system/cpu/modalias)",
        cpu_type,
        against(_family(cpu_type)),
        f"sysfs describes {cpu_type} CPUs",
    )
    kernel_release = _kernel_release(
        read("/proc/version"), release if release is not None else platform.release()
    )
    fact(
        "kernel release (/proc/version)",
        kernel_release or None,
        against(_family(kernel_release)),
        f"the kernel release {kernel_release} is built for {_family(kernel_release)}",
    )
    first = cpuinfo[0] if cpuinfo else {}
    implementer = _int(first.get("CPU implementer"), 16)
    if "vendor_id" in first:
        fact(
            "/proc/cpuinfo",
            " ".join(filter(None, (first["vendor_id"], first.get("model name")))),
            against("x86"),
            "an x86 /proc/cpuinfo (qemu-user 7 shows the host's)",
        )
    elif "CPU implementer" in first:
        shown = f"implementer {first['CPU implementer']} part {first.get('CPU part')}"
        if own == "arm" and implementer == 0:
            # Implementer 0x00 is reserved for software use (Arm ARM, MIDR_EL1): no silicon
            # carries it; QEMU's "max" CPU does (part 0x051).
            fact(
                "/proc/cpuinfo",
                f"{shown} (0x00: reserved for software use)",
                "foreign",
                "/proc/cpuinfo names implementer 0x00, reserved for software: no silicon "
                "carries it (QEMU's max CPU does)",
            )
        else:
            fact("/proc/cpuinfo", shown, against("arm"), "an Arm /proc/cpuinfo")
    else:
        fact("/proc/cpuinfo", None, "unknown")
    if own == "arm":
        midr = read("/sys/devices/system/cpu/cpu0/regs/identification/midr_el1")
        if midr:
            fact("Arm ID registers (sysfs midr_el1)", midr, "consistent")
        elif os.path.isdir(os.path.join(root, "sys/devices/system/cpu/cpu0")):
            # An arm64 kernel from 4.11 on shows midr_el1 here; a container's or sandbox's
            # sysfs, an older kernel, an x86 kernel under an emulator do not: supporting only.
            fact(
                "Arm ID registers (sysfs midr_el1)",
                "not in sysfs (cpu0 has no regs/identification/midr_el1)",
                "absent",
                "sysfs shows no Arm ID registers",
            )
        else:
            fact("Arm ID registers (sysfs midr_el1)", None, "unknown")
        if midr and implementer is not None:
            real = (_int(midr, 16) or 0) >> 24 & 0xFF
            fact(
                "/proc/cpuinfo implementer against midr_el1",
                f"{implementer:#04x} against {real:#04x}",
                "consistent" if implementer == real else "foreign",
                "/proc/cpuinfo names another CPU than the ID registers (faked)",
            )
    binfmt = read(f"/proc/sys/fs/binfmt_misc/qemu-{arch}")
    facts[f"binfmt_misc qemu-{arch}"] = {
        "value": binfmt.splitlines()[0] if binfmt else None,
        "verdict": "note",  # a host may register emulators it does not use for itself
        "why": None,
    }
    return facts


def emulation(facts: dict[str, dict]) -> str | None:
    """Why this run is emulated (timings invalid), or None. Only a foreign fact decides; an
    absent one (no ID registers in sysfs) supports a decision and never makes one."""
    foreign = [f["why"] for f in facts.values() if f["verdict"] == "foreign"]
    if not foreign:
        return None
    absent = [f["why"] for f in facts.values() if f["verdict"] == "absent"]
    also = f"; supporting: {'; '.join(absent)}" if absent else ""
    return "; ".join(foreign) + also + " (emulated: qemu-user or similar)"


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


# who first writes each worker's share of the inputs, which decides the NUMA node its pages
# live on (Linux places a page on the node of the thread that first touches it): today the
# inputs are generated and written by Python on the main thread before any parallel call
FIRST_TOUCH = "main thread"
# pinned, the row-parallel outputs (loan.score, loan.limit) are first touched by the worker
# that writes each range (workloads/_native.first_touch_rows: the pool's bb_parallel_first_touch)
OUTPUTS_FIRST_TOUCH_PINNED = "each pinned worker, its own rows (loan.score, loan.limit outputs)"


def placement_policy(
    threads: list[int], nodes: dict[str, list[int]], pinned_cpus: list[int] | None
) -> dict:
    """Where a run's threads and input pages are: who first touches each worker's share of
    the inputs, and the NUMA nodes its threads span (pinned: the nodes of the CPUs its widest
    call uses; unpinned: every node the scheduler may use). ``nodes`` maps each NUMA node to
    its usable CPUs (bench.run.numa_nodes)."""
    widest = max(threads)
    node_of = {cpu: node for node, cpus in nodes.items() for cpu in cpus}
    worker_nodes = None
    if pinned_cpus:
        # part i of every call runs on pinned_cpus[i % n] (the pool's placement): its node
        worker_nodes = [node_of.get(pinned_cpus[i % len(pinned_cpus)]) for i in range(widest)]
        spanned = sorted({n for n in worker_nodes if n is not None})
        threads_on = f"pinned, {widest} threads on CPUs in turn from each node"
    else:
        spanned = sorted(nodes)
        threads_on = "unpinned: the scheduler places the threads on any usable CPU"
    status = _read("/proc/self/status") or ""
    allowed = re.search(r"^Mems_allowed_list:\s*(\S+)", status, re.M)
    if len(nodes) == 1:
        summary = (
            f"one NUMA node ({spanned[0]}): every thread and every page on it; placement "
            "cannot change a result"
        )
    else:
        summary = (
            f"{len(spanned)} of {len(nodes)} NUMA nodes ({', '.join(spanned)}), {threads_on}; "
            f"inputs first touched by the {FIRST_TOUCH}, so on its node: the other nodes' "
            "threads read them remotely"
            + (f"; outputs first touched by {OUTPUTS_FIRST_TOUCH_PINNED}" if pinned_cpus else "")
        )
    return {
        "first_touch": FIRST_TOUCH,
        "outputs_first_touch": OUTPUTS_FIRST_TOUCH_PINNED if pinned_cpus else FIRST_TOUCH,
        "pinned": bool(pinned_cpus),
        "worker_nodes": worker_nodes,  # pinned: the NUMA node of part i of the widest call
        "threads_max": widest,
        "numa_nodes": len(nodes),
        "numa_nodes_spanned": spanned,
        "memory_nodes_allowed": allowed.group(1) if allowed else None,
        "summary": summary,
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
        **labelled_identity(cpu_identity(arch, cpuinfo), why),
        **topology(),
        **memory_and_os(),
        "build": {**native.build_info(), **plugin_builds()},
    }


def plugin_builds() -> dict:
    """The build records of the plugins' own C (native.plugin_build), under ``plugins`` in
    the run's build record beside the core's; nothing when no plugin brings C."""
    from workloads import registry

    records = registry.build_records()
    return {"plugins": records} if records else {}
