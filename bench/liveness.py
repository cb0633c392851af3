"""Whether a run is still running: its owner (host, process id, boot id) is recorded with the
run, and a reader on the same host checks it. A run whose process died without a word
(SIGKILL, power loss, the OOM killer) reads as ``abandoned`` instead of ``running`` forever.
And the workers of a run die with their parent, so nothing writes into an abandoned run.
"""

from __future__ import annotations

import ctypes
import datetime
import os
import re
import shutil
import signal
import socket
import stat
from collections.abc import Callable

# the run row's owner fields, filled by the process that writes a running run's row
OWNER_FIELDS = ("owner_host", "owner_pid", "owner_boot_id")
PARENT_PID_VARIABLE = "BANKBENCH_PARENT_PID"  # tells a worker whose child it must stay

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# a run's scratch folder names its owner: bankbench-<boot and PID namespace>-<pid>-<start
# ticks>-<tempfile's random part>
SCRATCH = "bankbench"
_SCRATCH_NAME = re.compile(rf"{SCRATCH}-([0-9a-f]{{8}})-(\d+)-(\d+)-")


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


# --- scratch folders of runs ----------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and start time (clock ticks after boot: /proc/PID/stat fields
    3 and 22), or None where they cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            after_name = f.read().rsplit(b")", 1)[1].split()
        return after_name[0].decode(), int(after_name[19])
    except (OSError, IndexError, ValueError):
        return None


def _scratch_tag() -> str | None:
    """This boot and PID namespace, in 8 hex digits: a pid means this process only within
    both (a container sharing /tmp numbers its processes apart), or None where unreadable."""
    import hashlib

    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    boot = boot_id()
    return hashlib.sha256(f"{boot} {namespace}".encode()).hexdigest()[:8] if boot else None


def scratch_prefix() -> str:
    """The prefix of this process's scratch folder: its boot, pid and start time, so a later
    run can tell the folder of a killed run (``remove_abandoned_scratch``); plain where they
    cannot be read (such a folder is never removed by another run)."""
    tag, own = _scratch_tag(), _stat(os.getpid())
    if not tag or own is None:
        return f"{SCRATCH}-"
    return f"{SCRATCH}-{tag}-{os.getpid()}-{own[1]}-"


def remove_abandoned_scratch(folder: str) -> list[str]:
    """Remove the scratch folders in ``folder`` of runs whose process is provably dead
    (SIGKILL leaves them behind). A live run's folder stays, and so do another boot's, PID
    namespace's or user's, and any whose owner cannot be read. The names removed."""
    tag = _scratch_tag()
    try:
        names = os.listdir(folder) if tag else []
    except OSError:
        return []
    removed = []
    for name in names:
        match = _SCRATCH_NAME.match(name)
        if not match or match.group(1) != tag:
            continue
        path = os.path.join(folder, name)
        try:
            facts = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(facts.st_mode) or facts.st_uid != os.getuid():
            continue  # tempfile made it a folder of ours: anything else is not a run's
        # its process is gone or a zombie; a live one keeps it whatever its start time (under
        # qemu-user a process's own /proc/self/stat is the emulator's, so the start time in the
        # name is not the one others read); unreadable: kept
        if not _alive_since(int(match.group(2)), None):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
    return removed
