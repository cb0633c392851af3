"""Instruction counts of measured calls under Valgrind's callgrind: deterministic counts for
``bankbench run --measure instructions``.

The worker process runs under ``valgrind --tool=callgrind`` (``command``). Callgrind counts
from the start but zeroes its counts on entry to the core's ``bb_measure_begin`` and writes
them to a numbered dump file on entry to ``bb_measure_end`` (``--zero-before`` /
``--dump-before``), so a dump holds exactly one measured call: interpreter start-up, data
generation and the output checks never count. ``Meter.measure`` brackets a call that way
and reads the dump back (``parse``).

What a count covers (``scope``):
  * C engine (``core``): the instructions executed inside the calls from Python into the
    core (each ``_cffi_f_<name>`` wrapper's call of ``<name>``, with everything it calls,
    libc included), on every thread, summed. Left out: waiting at the sharded loop's
    barrier (how long a thread spins there depends on the scheduler) and the allocator's
    malloc/free (their paths depend on the heap's history), neither being the work. Valgrind
    runs one thread at a time, so a count at N threads is the total work of N threads (the
    extra work of sharding shows; a speed-up cannot).
  * python and numpy engines (``call``): every instruction of the window, interpreter
    included, on every thread.
The cache and branch counts come from callgrind's simulators (a fixed model cache, not
this CPU's: ``MODEL_CACHES``), so they are deterministic too and comparable between hosts of
one architecture, but they are a model's, not the machine's.
"""

from __future__ import annotations

import collections
import gc
import glob
import os
import pathlib
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from typing import Any

import native
from bench.measure.counts import CALL, CORE, Counts
from workloads.errors import BankbenchError

# The counting method, recorded with every count as its source: bump COUNTING_METHOD whenever
# this module changes what it counts (which calls, which functions are left out, which
# events), so that compare refuses to read a change of method as a change of the code.
# 1: 564028d (everything inside the measured calls); 2: a26ceb7 (the allocator left out);
# 3: the worker pool's parts counted on its threads, its waits and thread starts left out;
# 4: a function callgrind names name'2 (entered again while on the stack) counted as itself:
# a worker's parts under bb_pool_worker'2 were left out of the core's count (scaling-bound -t
# 2,3,5 failed on it; a count it did not stop could be short).
# Runs stored before the version was recorded say plain "callgrind": 1 or 2, unknown.
COUNTING_METHOD = 4
SOURCE = f"callgrind/{COUNTING_METHOD}"
BEGIN, END = "bb_measure_begin", "bb_measure_end"
# the core's functions that wait for other threads; their cost is scheduling, not work
WAIT_FUNCTIONS = frozenset(
    {
        "bb_barrier_wait",
        # the worker pool (native/src/pool.c): the caller waiting for the workers, and the
        # first call's thread starts, neither the work
        "bb_pool_wait",
        "bb_pool_start_workers",
    }
)
# a pool worker's work: each part a worker runs (the caller's parts are inside its call)
WORKER_PARTS = ("bb_pool_worker", "bb_pool_run_part")
# the allocator: how many instructions malloc and free take depends on the heap's history
# (everything the interpreter allocated before), not on the work; measured: ledger.post in
# micro-batches of 128 differed by 0.31 % between two processes, all of it in _int_malloc,
# malloc_consolidate and _int_free. Calls from the core into these are left out.
ALLOCATOR_FUNCTIONS = frozenset(
    {"malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc", "memalign"}
)
WRAPPER_PREFIX = "_cffi_f_"  # cffi's wrapper of core function X is _cffi_f_X
# a fixed model of the caches (size, associativity, line bytes) instead of this host's, so
# that the simulated misses do not depend on which runner measured them
MODEL_CACHES = {"I1": "32768,8,64", "D1": "32768,8,64", "LL": "8388608,16,64"}
INSTALL_HINT = (
    "valgrind is not installed: `sudo apt-get install valgrind` (Debian and Ubuntu, x86-64 "
    "and arm64), then rerun"
)
# the worker learns where callgrind writes its dumps from this variable
DUMP_ENV = "BANKBENCH_CALLGRIND_OUT"


class MeasureUnavailable(BankbenchError):
    """This mode of measurement cannot run here (tool missing, emulated host)."""


def check_available(emulated_reason: str | None, which=None) -> str:
    """The valgrind executable, or why instruction counts cannot be taken on this host."""
    which = which or shutil.which
    if emulated_reason:
        raise MeasureUnavailable(
            f"--measure instructions refused: this host is emulated ({emulated_reason}) and "
            "Valgrind cannot run under qemu-user; count instructions on the real machine"
        )
    valgrind = which("valgrind")
    if not valgrind:
        raise MeasureUnavailable(f"--measure instructions: {INSTALL_HINT}")
    if native.is_sanitizer_build():
        raise MeasureUnavailable(
            "--measure instructions refused: this core is a sanitizer build (AddressSanitizer "
            "cannot run under Valgrind); rebuild it without -fsanitize "
            "(python native/build.py, or pip install . without BANKBENCH_EXTRA_CFLAGS)"
        )
    return valgrind


def core_starts_instrumentation() -> bool:
    """Whether this core was built with Valgrind's client requests, so the worker can run
    uninstrumented (~5x native time instead of ~50x) and instrument only around its calls."""
    from native import lib

    return bool(lib.bb_measure_instrumentation(0))  # outside Valgrind: no effect


def command(valgrind: str, dump_base: pathlib.Path, instrument_from_start: bool) -> list[str]:
    """The prefix that runs a worker under callgrind, writing dumps to dump_base.N."""
    return [
        valgrind,
        "--tool=callgrind",
        f"--instr-atstart={'yes' if instrument_from_start else 'no'}",
        f"--callgrind-out-file={dump_base}",
        f"--log-file={dump_base}.log",
        f"--zero-before={BEGIN}",
        f"--dump-before={END}",
        "--dump-instr=no",
        "--dump-line=no",
        "--compress-strings=no",
        "--compress-pos=no",
        "--cache-sim=yes",
        "--branch-sim=yes",
        *(f"--{cache}={geometry}" for cache, geometry in MODEL_CACHES.items()),
        # threads take the big lock in turn (a ticket lock), not in the kernel's order
        "--fair-sched=yes",
    ]


def worker_environment(dump_base: pathlib.Path) -> dict[str, str]:
    """What the worker's environment adds: where the dumps go, and a fixed hash seed (str
    hashes decide dict and set layouts, so the interpreter's instruction counts depend on
    it)."""
    return {DUMP_ENV: str(dump_base), "PYTHONHASHSEED": "0"}


# --- reading a dump -------------------------------------------------------------------------

_NAME = re.compile(r"^\((\d+)\)(?: (.*))?$")
# callgrind names a function entered again while it is on a thread's stack name'2, name'3
# (--separate-recs); a pool worker's loop is seen so (bb_pool_worker'2 ran parts in
# `scaling-bound -t 2,3,5`). The same function for every sum here.
_RECURSION = re.compile(r"'\d+$")


def _function(name: str) -> str:
    return _RECURSION.sub("", name)


def parse(lines: Iterable[str]) -> dict[str, Any]:
    """A callgrind dump (format version 1) → its event names, the window's total of each
    event (``call``: every thread, everything collected) and the core's (``core``: the
    inclusive cost of every call from a cffi wrapper into the core function it wraps, less
    the inclusive cost of every call into a WAIT_FUNCTIONS function), plus the wait cost
    left out (``waiting``) and which core functions were called (``entries``)."""
    names: dict[str, dict[str, str]] = collections.defaultdict(dict)
    events: list[str] = []
    positions = 1
    function = callee = obj = ""
    objects: dict[str, str] = {}  # function → its object file
    allocations: list[tuple[str, list[int]]] = []  # (caller's object, inclusive cost)
    window: list[int] = []
    core: list[int] = []
    waiting: list[int] = []
    entries: collections.Counter[str] = collections.Counter()
    pending_call = False

    def name(kind: str, text: str) -> str:
        match = _NAME.match(text)
        if not match:  # uncompressed
            return text
        number, given = match.groups()
        if given is not None:
            names[kind][number] = given
            return given
        return names[kind][number]

    def add(total: list[int], costs: list[int]) -> None:
        total.extend([0] * (len(costs) - len(total)))
        for i, value in enumerate(costs):
            total[i] += value

    for raw in lines:
        line = raw.rstrip("\n")
        if pending_call:  # the line after calls=: the call's inclusive cost
            pending_call = False
            costs = [int(v) for v in line.split()[positions:]]
            if function.startswith(WRAPPER_PREFIX) and callee == function[len(WRAPPER_PREFIX) :]:
                if callee not in (BEGIN, END):
                    add(core, costs)
                    entries[callee] += 1
            if (function, callee) == WORKER_PARTS:
                add(core, costs)
            # a worker's own wait for its next part is outside every counted call: not
            # taken off the count
            if callee in WAIT_FUNCTIONS and function not in (*WAIT_FUNCTIONS, WORKER_PARTS[0]):
                add(waiting, costs)
            if callee in ALLOCATOR_FUNCTIONS and not function.startswith(WRAPPER_PREFIX):
                allocations.append((objects.get(function, ""), costs))
            continue
        if not line or line.startswith("#"):
            continue
        head = line[0]
        if head.isdigit() or head in "+-*":
            add(window, [int(v) for v in line.split()[positions:]])
        elif line.startswith("ob="):
            obj = name("ob", line[3:])
        elif line.startswith("fn="):
            function = _function(name("fn", line[3:]))
            objects.setdefault(function, obj)
        elif line.startswith("cfn="):
            callee = _function(name("fn", line[4:]))
        elif line.startswith("calls="):
            pending_call = True
        elif line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("positions:"):
            positions = len(line.split()) - 1
    assert events, "not a callgrind dump: no events line"
    # the allocator's share of the core's cost: calls into it from the core's own object
    core_objects = {objects.get(WRAPPER_PREFIX + entry, None) for entry in entries} - {None}
    for caller_object, costs in allocations:
        if caller_object in core_objects:
            add(waiting, costs)
    pad = lambda costs: costs + [0] * (len(events) - len(costs))  # noqa: E731
    core_less_waiting = [c - w for c, w in zip(pad(core), pad(waiting), strict=True)]
    assert all(c >= 0 for c in core_less_waiting), (core, waiting)
    return {
        "events": events,
        CALL: dict(zip(events, pad(window), strict=True)),
        CORE: dict(zip(events, core_less_waiting, strict=True)),
        "left_out": dict(zip(events, pad(waiting), strict=True)),
        "entries": dict(entries),
    }


# the serial share (bench/serial_share.py): a pool part runs while the other threads run
# theirs; everything else the core does in a call runs on the calling thread alone, a call
# of one part too (pool.c runs it as bb_pool_run_alone: the other threads had nothing to do)
PART_FUNCTION = WORKER_PARTS[1]
# the waits inside a part: the sharded loop's threads meeting at its barrier
PART_WAIT_FUNCTIONS = frozenset({"bb_barrier_wait"})
# inside a part, but alone: the sharded loop's group 0 between two barriers (the cross-cell
# events, planning and opening a batch) while every other group waits (native/src/batches.c)
PART_ALONE_FUNCTIONS = frozenset({"bb_batches_alone"})


def parallel_split(lines: Iterable[str]) -> dict[str, int]:
    """A callgrind dump → instructions (Ir) of the core's work in the window (``total``: as
    ``parse``'s ``core``, but the allocator counted in wherever it runs) and of the part of
    it inside the pool's parts (``parallel``: every call of PART_FUNCTION, on any thread,
    less the PART_WAIT_FUNCTIONS waits and the PART_ALONE_FUNCTIONS sections inside).
    ``serial`` is the rest: the calling thread's work outside the parts while the workers
    wait (set-up, merges), and the sections inside parts that one thread runs while the
    others wait at a barrier (cross-cell steps). Every wait (WAIT_FUNCTIONS) is left out of
    both: it is scheduling, not work."""
    events: list[str] = []
    positions = 1
    function = callee = ""
    sums = collections.Counter[str]()
    pending_call = False
    for raw in lines:
        line = raw.rstrip("\n")
        if pending_call:
            pending_call = False
            instructions = int(line.split()[positions:][events.index("Ir")])
            is_entry = (
                function.startswith(WRAPPER_PREFIX) and callee == function[len(WRAPPER_PREFIX) :]
            )
            if (is_entry and callee not in (BEGIN, END)) or (function, callee) == WORKER_PARTS:
                sums["core"] += instructions
            if callee in WAIT_FUNCTIONS and function not in (*WAIT_FUNCTIONS, WORKER_PARTS[0]):
                sums["waiting"] += instructions
            if callee == PART_FUNCTION:
                sums["parts"] += instructions
            if callee in PART_WAIT_FUNCTIONS and function not in WAIT_FUNCTIONS:
                sums["part_waiting"] += instructions
            if callee in PART_ALONE_FUNCTIONS:
                sums["alone"] += instructions
            continue
        if line.startswith("fn="):
            function = _function(line[3:])  # uncompressed (``command``: --compress-strings=no)
        elif line.startswith("cfn="):
            callee = _function(line[4:])
        elif line.startswith("calls="):
            pending_call = True
        elif line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("positions:"):
            positions = len(line.split()) - 1
    assert "Ir" in events, "not a callgrind dump with instruction counts"
    total = sums["core"] - sums["waiting"]
    parallel = sums["parts"] - sums["part_waiting"] - sums["alone"]
    assert 0 <= parallel <= total, sums
    return {
        "total": total,
        "parallel": parallel,
        "serial": total - parallel,
        "serial_in_parts": sums["alone"],
    }


def counts_of(totals: dict[str, int], scope: str) -> Counts:
    """callgrind's events → Counts: Ir instructions, Bc + Bi branches, Bcm + Bim
    mispredicted, D1mr + D1mw level-1 data misses, ILmr + DLmr + DLmw last-level misses.
    Cycles are not simulated."""

    def total(*events: str) -> int | None:
        if not all(e in totals for e in events):
            return None
        return sum(totals[e] for e in events)

    counts = {
        "instructions": total("Ir"),
        "branches": total("Bc", "Bi"),
        "branch_misses": total("Bcm", "Bim"),
        "l1d_misses": total("D1mr", "D1mw"),
        "llc_misses": total("ILmr", "DLmr", "DLmw"),
    }
    missing = [k for k, v in counts.items() if v is None]
    reason = "callgrind does not simulate cycles (a model has no clock)"
    if missing:
        reason += f"; {', '.join(missing)}: not simulated in this dump"
    return Counts(source=SOURCE, scope=scope, cycles=None, unknown_reason=reason, **counts)


# --- the worker's side ----------------------------------------------------------------------


class Meter:
    """In a worker running under callgrind: measure one call, read back its dump."""

    def __init__(self, dump_base: str | None = None):
        dump_base = dump_base or os.environ.get(DUMP_ENV)
        if not dump_base:
            raise MeasureUnavailable(
                "instruction counts need the worker to run under Valgrind: use "
                "`bankbench run --measure instructions`"
            )
        self.dump_base = dump_base
        from native import lib

        # resolve the markers' symbols now, outside any window (the first call of a
        # function binds it lazily, a few thousand instructions that are not the work)
        self._begin, self._end = lib.bb_measure_begin, lib.bb_measure_end
        self._instrument = lib.bb_measure_instrumentation
        self._begin()
        self._end()
        for path in self._dumps().values():  # instrumented from the start: that one dumped
            os.unlink(path)

    def _dumps(self) -> dict[int, str]:
        found = {}
        for path in glob.glob(glob.escape(self.dump_base) + ".*"):
            suffix = path.rsplit(".", 1)[1]
            if suffix.isdigit():
                found[int(suffix)] = path
        return found

    def measure(self, call: Callable[[], Any], scope: str, warmup: bool) -> tuple[Any, Counts]:
        """call() between the two markers; its result and what it cost. With ``warmup``,
        call() once before, instrumented but not counted: the first call binds symbols
        and faults pages in, and it fills the simulated caches (emptied when
        instrumentation starts) as the measured call will find them."""
        assert scope in (CORE, CALL), scope
        result, parsed = self.measure_dump(call, warmup, parse)
        if scope == CORE and not parsed["entries"]:
            raise MeasureUnavailable("the measured call made no call into the C core")
        return result, counts_of(parsed[scope], scope)

    def measure_dump(self, call: Callable[[], Any], warmup: bool, read: Callable[[Any], Any]):
        """call() between the two markers, as ``measure``; its result and ``read`` of the
        window's dump (an open file of it)."""
        before = set(self._dumps())
        self._instrument(1)
        try:
            if warmup:
                call()
            gc.collect()
            gc.disable()  # a collection inside the window would count other work
            try:
                self._begin()
                result = call()
                self._end()
            finally:
                gc.enable()
        finally:
            self._instrument(0)
        new = sorted(set(self._dumps()) - before)
        if len(new) != 1:
            raise MeasureUnavailable(
                f"callgrind wrote {len(new)} dumps for one measured call (expected 1): is the "
                "worker running under `valgrind --tool=callgrind` with --dump-before="
                f"{END}?"
            )
        path = self._dumps()[new[0]]
        with open(path) as dump:
            parsed = read(dump)
        os.unlink(path)  # one dump per call; the run can have hundreds
        return result, parsed


def valgrind_log_tail(dump_base: pathlib.Path, lines: int = 5) -> str:
    """The end of Valgrind's own log, for the error line when a worker failed."""
    try:
        text = pathlib.Path(f"{dump_base}.log").read_text(errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip("= 0123456789")]
    return " | ".join(kept[-lines:])


def version(valgrind: str) -> str | None:
    try:
        result = subprocess.run([valgrind, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None
