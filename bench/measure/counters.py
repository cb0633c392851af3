"""The CPU's own counters around a measured call, through Linux's perf_event_open: cycles,
instructions, branches and their misses, level-1 data and last-level cache misses — why one
machine is slower (more instructions, lower IPC, more misses), not only that it is.

Each event is opened once per worker process with ``inherit`` set, so the threads a call
starts (the workloads' worker threads) are counted too: their counts join the opener's when
they exit, which every workload's threads do before its call returns. Counting is limited to
user space (``exclude_kernel``), which ``perf_event_paranoid`` ≤ 2 allows without privileges.
A count covers the whole call, interpreter included (scope ``call``).

Where the kernel or VM exposes no PMU (perf_event_open fails with ENOENT, as in most cloud
VMs without vPMU), or perf_event_paranoid forbids counting, every event is stored as unknown
with the reason — never guessed, never 0. The kernel interface is one small class
(``LinuxKernel``) so that the plumbing is tested against a fake one.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import platform
import struct
from collections.abc import Callable
from typing import Any, Protocol

from bench.measure.counts import CALL, EVENTS, Counts

SOURCE = "perf"

# perf_event_attr type and config of each event (linux/perf_event.h)
_HARDWARE, _HW_CACHE = 0, 3
_L1D, _LL, _OP_READ, _RESULT_MISS = 0, 2, 0, 1
EVENT_CONFIG = {
    "instructions": (_HARDWARE, 1),
    "cycles": (_HARDWARE, 0),
    "branches": (_HARDWARE, 4),
    "branch_misses": (_HARDWARE, 5),
    "l1d_misses": (_HW_CACHE, _L1D | _OP_READ << 8 | _RESULT_MISS << 16),
    "llc_misses": (_HW_CACHE, _LL | _OP_READ << 8 | _RESULT_MISS << 16),
}
assert set(EVENT_CONFIG) == set(EVENTS)

_SYSCALL_NUMBER = {"x86_64": 298, "aarch64": 241, "arm64": 241}
_ATTR_SIZE = 64  # PERF_ATTR_SIZE_VER0: every kernel since 2.6.31 accepts it
_DISABLED, _INHERIT, _EXCLUDE_KERNEL, _EXCLUDE_HV = 1 << 0, 1 << 1, 1 << 5, 1 << 6
_TOTAL_TIME_ENABLED, _TOTAL_TIME_RUNNING = 1 << 0, 1 << 1
_IOC_ENABLE, _IOC_DISABLE, _IOC_RESET = 0x2400, 0x2401, 0x2403
_FD_CLOEXEC = 1 << 3


def attr_bytes(kind: int, config: int) -> bytes:
    """A perf_event_attr (version 0 layout): counting, not sampling; starts disabled;
    inherited by new threads; user space only."""
    flags = _DISABLED | _INHERIT | _EXCLUDE_KERNEL | _EXCLUDE_HV
    read_format = _TOTAL_TIME_ENABLED | _TOTAL_TIME_RUNNING
    return struct.pack("=IIQQQQQIIQ", kind, _ATTR_SIZE, config, 0, 0, read_format, flags, 0, 0, 0)


class Kernel(Protocol):
    """The four things asked of the kernel (a fake one in the tests)."""

    def open(self, attr: bytes) -> int: ...  # raises OSError with the errno

    def control(self, fd: int, request: int) -> None: ...

    def read(self, fd: int) -> tuple[int, int, int]: ...  # value, time enabled, time running

    def close(self, fd: int) -> None: ...


class LinuxKernel:
    """perf_event_open through libc's syscall(2) (Python has no binding of its own)."""

    def __init__(self) -> None:
        machine = platform.machine()
        if machine not in _SYSCALL_NUMBER:
            raise OSError(errno.ENOSYS, f"perf_event_open's number on {machine} is not known")
        self._number = _SYSCALL_NUMBER[machine]
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.syscall.restype = ctypes.c_long

    def open(self, attr: bytes) -> int:
        buffer = ctypes.create_string_buffer(attr, len(attr))
        fd = self._libc.syscall(
            ctypes.c_long(self._number),
            buffer,
            ctypes.c_int(0),  # this process (and, inherited, the threads it starts)
            ctypes.c_int(-1),  # on any CPU
            ctypes.c_int(-1),  # no group: inherited counters cannot be read as a group
            ctypes.c_ulong(_FD_CLOEXEC),
        )
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return int(fd)

    def control(self, fd: int, request: int) -> None:
        fcntl.ioctl(fd, request, 0)

    def read(self, fd: int) -> tuple[int, int, int]:
        value, enabled, running = struct.unpack("=QQQ", os.read(fd, 24))
        return value, enabled, running

    def close(self, fd: int) -> None:
        os.close(fd)


def _paranoid_level() -> str:
    try:
        with open("/proc/sys/kernel/perf_event_paranoid") as f:
            return f.read().strip()
    except OSError:
        return "unreadable"


def why_unopened(errors: dict[str, OSError], opened: int) -> dict[str, str]:
    """Why each event that failed to open cannot be counted, in words a user can act on.
    ENOENT for every event is a machine without a PMU; for some only, a PMU that lacks them."""
    if errors and not opened and all(e.errno == errno.ENOENT for e in errors.values()):
        reason = (
            "no PMU: perf_event_open fails with ENOENT (this kernel or VM exposes no hardware "
            "counters)"
        )
        return dict.fromkeys(errors, reason)
    reasons = {}
    for event, error in errors.items():
        code = error.errno
        if code in (errno.EACCES, errno.EPERM):
            reasons[event] = (
                "perf_event_open not permitted: kernel.perf_event_paranoid is "
                f"{_paranoid_level()} (2 or lower allows counting your own user-space code; "
                "or grant CAP_PERFMON)"
            )
        elif code in (errno.ENOENT, errno.EOPNOTSUPP, errno.ENODEV, errno.EINVAL):
            name = errno.errorcode.get(code or 0, str(code))
            reasons[event] = f"this CPU's PMU does not count {event} ({name})"
        else:
            reasons[event] = f"perf_event_open({event}) failed: {error.strerror}"
    return reasons


class CounterMeter:
    """The process's counters, opened once; ``measure`` counts one call."""

    def __init__(self, kernel: Kernel | None = None):
        self.fds: dict[str, int] = {}
        self.reasons: dict[str, str] = {}
        errors: dict[str, OSError] = {}
        try:
            self.kernel: Kernel | None = kernel or LinuxKernel()
        except OSError as error:
            self.kernel = None
            self.reasons = {
                e: f"perf_event_open is not available: {error.strerror}" for e in EVENTS
            }
            return
        for event, (kind, config) in EVENT_CONFIG.items():
            try:
                self.fds[event] = self.kernel.open(attr_bytes(kind, config))
            except OSError as error:
                errors[event] = error
        self.reasons = why_unopened(errors, len(self.fds))

    @property
    def available(self) -> bool:
        return bool(self.fds)

    @property
    def counted_nothing(self) -> bool:
        """No event could be opened (no PMU, forbidden, unknown syscall)."""
        return not self.fds

    def measure(self, call: Callable[[], Any]) -> tuple[Any, Counts]:
        """call() with the counters running; its result and its counts."""
        kernel = self.kernel
        if kernel is None or not self.fds:
            return call(), self._unknown_counts({})
        for fd in self.fds.values():
            kernel.control(fd, _IOC_RESET)
        for fd in self.fds.values():
            kernel.control(fd, _IOC_ENABLE)
        try:
            result = call()
        finally:
            for fd in self.fds.values():
                kernel.control(fd, _IOC_DISABLE)
        values: dict[str, int] = {}
        reasons = dict(self.reasons)
        for event, fd in self.fds.items():
            value, enabled, running = kernel.read(fd)
            if running == 0 and enabled > 0:
                reasons[event] = f"{event}: never scheduled on the PMU (too many events at once)"
            elif running < enabled:
                # the kernel time-shared the counter with other events: scale up, as perf does
                values[event] = round(value * enabled / running)
            else:
                values[event] = value
        return result, self._unknown_counts(values, reasons)

    def _unknown_counts(self, values: dict[str, int], reasons: dict | None = None) -> Counts:
        reasons = self.reasons if reasons is None else reasons
        unique = list(dict.fromkeys(reasons[e] for e in EVENTS if e in reasons))
        return Counts(source=SOURCE, scope=CALL, unknown_reason="; ".join(unique) or None, **values)

    def close(self) -> None:
        if self.kernel is not None:
            for fd in self.fds.values():
                self.kernel.close(fd)
        self.fds = {}

    def __enter__(self) -> CounterMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
