"""The measurement modes of ``bankbench run --measure``: what each needs from the plan, the
worker's command and environment, and the one seam in the suite where a mode takes the
measured call (``measured``). Each mode is one object (``of(plan.measure)``), chosen once;
the plan holds it (``plan.mode``), and the plan, the run and the suite call it there.

``time`` is pytest-benchmark's wall clock (the default; the only mode that compares
machines' speed). ``instructions`` runs the worker under Valgrind's callgrind: one counted
call per benchmark (the counts repeat, so rounds would add nothing), after a warm-up.
``counters`` is the time mode with this CPU's counters read around every timed call.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable
from typing import Any

from bench.measure.counts import CALL, CORE, EVENTS, Counts
from workloads._base import CAPACITY

# the open-loop sweep's kind of case (bench/plan.py re-exports it: plan imports this module)
OPEN_LOOP = "open-loop"

TIME, INSTRUCTIONS, COUNTERS = "time", "instructions", "counters"
MODES = (TIME, INSTRUCTIONS, COUNTERS)
# instruction counts of the interpreted engines: the python reference under callgrind runs
# ~100x slower than natively (ledger.eod at the smoke scale: ~0.9 s natively, minutes there)
INTERPRETED_SCALE_MAX = 0.002


# --- the parent: how the worker runs --------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Worker:
    """How a worker process of this mode starts: a command prefix and its environment."""

    prefix: tuple[str, ...] = ()
    environment: dict[str, str] = dataclasses.field(default_factory=dict)  # added to the parent's
    dump_base: pathlib.Path | None = None
    note: str | None = None  # one line for the user before the run


# --- the modes --------------------------------------------------------------------------------


class Mode:
    """Time, the default: pytest-benchmark's wall clock measures every benchmark of the plan,
    as the plan says, in a worker started as it is."""

    name = TIME

    def adjust(self, plan, engines_given: bool):
        """The plan as this mode runs it."""
        return plan

    def skip_reason(self, plan, case) -> str | None:
        """Why this mode does not measure this benchmark of the plan, or None."""
        return None

    def check_available(self, emulation_reason: str | None) -> None:
        """Refuses (one line) a mode that cannot run on this host, before anything is stored."""

    def prepare(self, folder: pathlib.Path) -> Worker:
        """What the parent needs to start workers in this mode (checked by check_available)."""
        return Worker()

    def measured(self, benchmark, engine: str, target: Callable, pedantic: dict) -> Any:
        """Run ``target`` as pytest-benchmark's pedantic would, and leave one Counts per round
        in ``benchmark.extra_info["counts"]``: counting modes only (time is the clock's)."""
        raise AssertionError(f"the {self.name} mode takes no measured call")


class Instructions(Mode):
    """Valgrind's callgrind counts one call per benchmark (the counts repeat, so rounds would
    add nothing), after a warm-up."""

    name = INSTRUCTIONS

    def __init__(self) -> None:
        self._meter: Any = None  # created in the worker, at its first measured call

    def adjust(self, plan, engines_given: bool):
        """One round, one process, no repetition within a round (a count does not vary);
        without -e, the C engine only (the gate's subject; numpy and python are counted when
        asked for, where affordable)."""
        engines = plan.engines if engines_given else ("c",)
        return dataclasses.replace(plan, rounds=1, processes=1, min_round_s=0.0, engines=engines)

    def skip_reason(self, plan, case) -> str | None:
        if case.kind == OPEN_LOOP:
            return (
                "an open-loop sweep is latency from each request's intended arrival, on the "
                "wall clock; instruction counts cannot tell it"
            )
        if case.kind == CAPACITY:
            return (
                "capacity is service latency under load (time spent waiting and running); "
                "instruction counts cannot tell it"
            )
        if case.engine != "c" and plan.scale > INTERPRETED_SCALE_MAX:
            return (
                f"the {case.engine} engine under Valgrind runs ~100x slower than natively: its "
                f"instructions are counted at scale ≤ {INTERPRETED_SCALE_MAX} (the smoke profile)"
            )
        if case.engine != "c" and case.threads > 1:
            return (
                "the interpreter's threads take turns at the GIL, and how often they wait for "
                "it is the scheduler's doing: interpreted engines are counted at 1 thread"
            )
        return None

    def check_available(self, emulation_reason: str | None) -> None:
        from bench.measure import callgrind

        callgrind.check_available(emulation_reason)

    def prepare(self, folder: pathlib.Path) -> Worker:
        from bench.measure import callgrind

        valgrind = callgrind.check_available(None)
        from_start = not callgrind.core_starts_instrumentation()
        base = folder / "callgrind.out"
        note = (
            "the C core was built without Valgrind's headers: the whole worker runs "
            "instrumented (the same counts, several times slower); reinstall bankbench "
            "now that valgrind is installed to instrument only the measured calls"
            if from_start
            else None
        )
        return Worker(
            tuple(callgrind.command(valgrind, base, from_start)),
            callgrind.worker_environment(base),
            base,
            note,
        )

    def measured(self, benchmark, engine: str, target: Callable, pedantic: dict) -> Any:
        if self._meter is None:
            from bench.measure.callgrind import Meter

            self._meter = Meter()
        meter, per_call = self._meter, []
        scope = CORE if engine == "c" else CALL
        warmup = pedantic.get("warmup_rounds", 0) > 0

        def counted(*args, **kwargs):
            result, counts = meter.measure(lambda: target(*args, **kwargs), scope, warmup)
            per_call.append(counts)
            return result

        options = {k: v for k, v in pedantic.items() if k in ("args", "kwargs", "setup")}
        result = benchmark.pedantic(counted, rounds=1, iterations=1, warmup_rounds=0, **options)
        benchmark.extra_info["counts"] = [per_call[-1].to_dict()]
        return result


class Counters(Mode):
    """The time mode with this CPU's counters read around every timed call."""

    name = COUNTERS

    def __init__(self) -> None:
        self._meter: Any = None  # created in the worker, at its first measured call

    def prepare(self, folder: pathlib.Path) -> Worker:
        from bench.measure.counters import CounterMeter

        with CounterMeter() as meter:
            if meter.counted_nothing:
                reason = next(iter(meter.reasons.values()))
                return Worker(note=f"hardware counters are stored as unknown: {reason}")
        return Worker()

    def measured(self, benchmark, engine: str, target: Callable, pedantic: dict) -> Any:
        if self._meter is None:
            from bench.measure.counters import CounterMeter

            self._meter = CounterMeter()
        meter, per_call = self._meter, []

        def counted_by_cpu(*args, **kwargs):
            result, counts = meter.measure(lambda: target(*args, **kwargs))
            per_call.append(counts)
            return result

        result = benchmark.pedantic(counted_by_cpu, **pedantic)
        # pytest-benchmark's calls: the warm-up rounds, the timed rounds, and one more to get
        # the result when a round repeats the call
        iterations = pedantic.get("iterations", 1)
        first = pedantic.get("warmup_rounds", 0) * iterations
        rounds = pedantic.get("rounds", 1)
        benchmark.extra_info["counts"] = [
            mean(per_call[first + r * iterations : first + (r + 1) * iterations]).to_dict()
            for r in range(rounds)
        ]
        return result


_MODES: dict[str, Mode] = {mode.name: mode for mode in (Mode(), Instructions(), Counters())}
assert tuple(_MODES) == MODES


def of(measure: str) -> Mode:
    """The mode object of ``--measure``'s value (one per process: its meter lives there)."""
    return _MODES[measure]


# --- what the run command asks of the mode ----------------------------------------------------


def unused_options(plan, rounds: int | None, processes: int | None) -> str | None:
    """One line naming the -r/--processes values the user gave that the mode's plan does not
    use (instructions: one round in one process), or None: nothing given is left unused."""
    unused = [
        f"{option} {given}"
        for option, given, used in (
            ("-r", rounds, plan.rounds),
            ("--processes", processes, plan.processes),
        )
        if given is not None and given != used
    ]
    if not unused:
        return None
    return (
        f"--measure {plan.measure} counts once: {' and '.join(unused)} "
        f"{'is' if len(unused) == 1 else 'are'} not used (the counts repeat exactly)"
    )


def skipped_lines(plan) -> list[str]:
    """One line per reason the mode leaves benchmarks of the plan out, naming them."""
    by_reason: dict[str, list[str]] = {}
    for case, reason in plan.skipped():
        by_reason.setdefault(reason, []).append(case.name(plan.scale))
    return [f"not measured ({reason}): {', '.join(names)}" for reason, names in by_reason.items()]


def failure_detail(worker: Worker) -> str:
    """What Valgrind said, when a worker under it failed."""
    if worker.dump_base is None:
        return ""
    from bench.measure import callgrind

    return callgrind.valgrind_log_tail(worker.dump_base)


# --- the worker: the counts of a round ---------------------------------------------------------


def mean(calls: list[Counts]) -> Counts:
    """The counts of one round: the mean per call of its calls."""
    assert calls
    values: dict[str, int | None] = {}
    for event in EVENTS:
        seen = [getattr(c, event) for c in calls]
        known = [v for v in seen if v is not None]
        values[event] = round(sum(known) / len(known)) if len(known) == len(seen) else None
    first = calls[0]
    return Counts(first.source, first.scope, unknown_reason=first.unknown_reason, **values)


def sample_fields(counts: dict | None) -> dict:
    """A round's Counts as the Sample's columns."""
    if not counts:
        return {}
    return {
        **{event: counts.get(event) for event in EVENTS},
        "counts_source": counts.get("source"),
        "counts_scope": counts.get("scope"),
        "counts_unknown": counts.get("unknown_reason"),
    }
