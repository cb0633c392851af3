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
from collections.abc import Callable

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
    that started later only reuses the number). Alive unless provably not: without /proc (a
    chroot) psutil sees no process at all, while the kernel still knows the number."""
    import psutil

    if not _pid_exists(pid):
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        created = process.create_time()
    except psutil.ZombieProcess:
        return False
    except (psutil.Error, OSError):  # it exists, but when it started cannot be read here
        return True
    if started_at is None:
        return True
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=datetime.timezone.utc)
    return created <= started_at.timestamp() + 1.0  # create_time is rounded to clock ticks


def _pid_exists(pid: int) -> bool:
    """Whether the kernel has a process of this number (signal 0 tests it, /proc or not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: another user's process
        return True
    return True


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


def worker_start(also: Callable[[], None] | None = None) -> Callable[[], None]:
    """A ``preexec_fn`` for a worker process of this one: between fork and exec it asks the
    kernel to kill the worker when this process dies (PR_SET_PDEATHSIG, Linux), then exits at
    once if this process died already (the request only covers a parent alive at the time),
    then runs ``also`` (CPU pinning). libc is looked up here, before the fork. Elsewhere the
    parent-pid check of ``parent_gone`` is what remains."""
    parent = os.getpid()
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        prctl = None

    def start() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
        if also is not None:
            also()

    return start


def worker_environment() -> dict[str, str]:
    """The environment of a worker: this one, plus whose child it must stay."""
    return {**os.environ, PARENT_PID_VARIABLE: str(os.getpid())}


def parent_gone() -> bool:
    """In a worker started by ``bankbench run``: whether the run's process is gone (this
    worker was handed to another parent), so it must not write into the run."""
    expected = os.environ.get(PARENT_PID_VARIABLE)
    return bool(expected) and str(os.getppid()) != expected
