"""Whether a run is still running: its owner (host, process id, boot id) is recorded with the
run, and a reader on the same host checks it. A run whose process died without a word
(SIGKILL, power loss, the OOM killer) reads as ``abandoned`` instead of ``running`` forever.
And the workers of a run die with their parent, so nothing writes into an abandoned run.
"""

from __future__ import annotations

import ctypes
import datetime
import os
import signal
import socket

# the run row's owner fields, filled by the process that writes a running run's row
OWNER_FIELDS = ("owner_host", "owner_pid", "owner_boot_id")
PARENT_PID_VARIABLE = "BANKBENCH_PARENT_PID"  # tells a worker whose child it must stay

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def boot_id() -> str | None:
    """This boot of this machine (Linux); a run owned by another boot is dead."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip() or None
    except OSError:
        return None


def owner() -> dict:
    return dict(zip(OWNER_FIELDS, (socket.gethostname(), os.getpid(), boot_id()), strict=True))


def _alive_since(pid: int, started_at: datetime.datetime | None) -> bool:
    """Whether ``pid`` is a live process that already existed when the run started (a process
    that started later only reuses the number)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        created = process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    if started_at is None:
        return True
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=datetime.timezone.utc)
    return created <= started_at.timestamp() + 1.0  # create_time is rounded to clock ticks


def status(run: dict) -> str:
    """The run's status as a reader should see it: ``abandoned`` for a running run whose
    owner on this host is gone (or whose host rebooted since); a run owned by another host
    cannot be checked from here and stays ``running``."""
    if run.get("status") != "running" or not run.get("owner_pid"):
        return run.get("status") or "unknown"
    if run.get("owner_host") != socket.gethostname():
        return "running"
    if run.get("owner_boot_id") and boot_id() and run["owner_boot_id"] != boot_id():
        return "abandoned"
    return "running" if _alive_since(run["owner_pid"], run.get("started_at")) else "abandoned"


def die_with_parent(parent_pid: int) -> None:
    """In a worker (between fork and exec, or at its start): ask the kernel to kill this
    process when its parent dies, then make sure the parent has not died already (the
    request only covers a parent alive at the time). Outside Linux the parent-pid check in
    ``parent_gone`` is what remains."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:
        os._exit(1)


def parent_gone() -> bool:
    """In a worker started by ``bankbench run``: whether the run's process is gone (this
    worker was handed to another parent), so it must not write into the run."""
    expected = os.environ.get(PARENT_PID_VARIABLE)
    return bool(expected) and str(os.getppid()) != expected
