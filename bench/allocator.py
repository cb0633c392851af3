"""The benchmark worker's memory allocator: freed memory kept for the next call.

Every workload call returns new output arrays. With glibc's defaults the arrays of one timed
call are handed back to the kernel when freed (trimmed from the heap's top, or unmapped), so
the next call's arrays fault in fresh zeroed pages: loan.schedule at the quick profile spent
more than half of each call on ~1,100 page faults (2.5-3 µs each on this VM). That is the
kernel's and the hypervisor's cost, and it differs with the page size (4 KiB on most x86-64
kernels, 64 KiB on many Arm server kernels): a migration comparison would credit the CPU with
the kernel's page size. The worker therefore keeps freed memory (glibc tunables, set before
the worker starts): blocks up to MMAP_THRESHOLD_BYTES come from the heap and the heap is
never trimmed, so the warm-up call faults the pages in and the timed calls reuse them. Larger
blocks are still mapped per call (glibc's ceiling for the threshold on 64-bit).

The policy is recorded with every run (``allocator``), shown by ``show`` and the report, and
two runs whose policies differ compare only with ``--allow allocator``.
"""

from __future__ import annotations

import platform

MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest mmap threshold on 64-bit (HEAP_MAX / 2)
TRIM_THRESHOLD_BYTES = 1 << 62  # never trim the heap's top
TUNABLES = {
    "glibc.malloc.mmap_threshold": MMAP_THRESHOLD_BYTES,
    "glibc.malloc.trim_threshold": TRIM_THRESHOLD_BYTES,
}
DEFAULT = "the C library's default (freed memory may go back to the kernel between calls)"


def is_glibc() -> bool:
    return platform.libc_ver()[0] == "glibc"


def _tunables(text: str) -> dict[str, str]:
    """GLIBC_TUNABLES' name=value pairs (colon-separated), in order."""
    pairs = (item.split("=", 1) for item in text.split(":") if "=" in item)
    return {name: value for name, value in pairs}


def worker_environment(environment: dict[str, str]) -> dict[str, str]:
    """``environment`` with the tunables that keep freed memory, on glibc. A malloc tunable
    the user set already is theirs and stays (policy() names it)."""
    if not is_glibc():
        return dict(environment)
    given = _tunables(environment.get("GLIBC_TUNABLES", ""))
    kept = {**{name: str(value) for name, value in TUNABLES.items()}, **given}
    return {**environment, "GLIBC_TUNABLES": ":".join(f"{k}={v}" for k, v in kept.items())}


def policy(environment: dict[str, str]) -> str:
    """In words, what a worker started from ``environment`` (before worker_environment)
    does with freed memory: the run's record. A malloc tunable the user gave is named as
    given, beside bankbench's that it leaves in force."""
    if not is_glibc():
        return DEFAULT
    preloaded = environment.get("LD_PRELOAD")
    if preloaded:  # a sanitizer's runtime, jemalloc, tcmalloc: its own malloc, not glibc's
        return f"preloaded (LD_PRELOAD={preloaded}): glibc's tunables may not apply"
    users = {
        name: value
        for name, value in _tunables(environment.get("GLIBC_TUNABLES", "")).items()
        if name.startswith("glibc.malloc.")
    }
    if not users:
        return (
            f"glibc, freed memory kept: blocks up to {MMAP_THRESHOLD_BYTES >> 20} MiB from the "
            "heap, which is never trimmed; the timed calls reuse pages the warm-up faulted in"
        )
    ours = {name: value for name, value in TUNABLES.items() if name not in users}
    return (
        "glibc, malloc tunables of the user: "
        + ", ".join(f"{name}={value}" for name, value in users.items())
        + ("; of bankbench: " + ", ".join(f"{k}={v}" for k, v in ours.items()) if ours else "")
    )
