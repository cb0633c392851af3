"""What a measured call cost besides time: one ``Counts`` record per call, whatever counted it.

Two sources fill it: Valgrind's callgrind (``bench/measure/callgrind.py``: executed
instructions, and the misses of a simulated cache and branch predictor, deterministic) and
the CPU's own counters through perf_event_open (``bench/measure/counters.py``: cycles too,
the real machine's behaviour, noisy). A count that a source cannot give is None, and
``unknown_reason`` says why: an unknown is never guessed, nor written as 0.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass

# the counted events, in the order tables show them
EVENTS = ("instructions", "cycles", "branches", "branch_misses", "l1d_misses", "llc_misses")

# what the counts of each scope cover
CORE = "core"  # inside the C core's calls, on every thread (bankbench's C engine)
CALL = "call"  # the whole call on the calling thread, interpreter included (python, numpy)


@dataclass(frozen=True)
class Counts:
    """The events of one measured call (totals, not per unit), and what counted them."""

    source: str  # "callgrind" (simulated, deterministic) | "perf" (this CPU) | a test double
    scope: str  # CORE or CALL
    instructions: int | None = None
    cycles: int | None = None
    branches: int | None = None
    branch_misses: int | None = None
    l1d_misses: int | None = None
    llc_misses: int | None = None
    unknown_reason: str | None = None  # why the events that are None are unknown

    def __post_init__(self) -> None:
        for event in EVENTS:
            value = getattr(self, event)
            assert value is None or (isinstance(value, int) and value >= 0), (event, value)
        missing = [event for event in EVENTS if getattr(self, event) is None]
        assert not missing or self.unknown_reason, f"{missing} unknown without a reason"

    @property
    def ipc(self) -> float | None:
        """Instructions per cycle (only where both were counted by the CPU itself)."""
        if self.instructions is None or not self.cycles:
            return None
        return self.instructions / self.cycles

    def per_unit(self, units: int) -> dict[str, float | None]:
        """Each event per unit of work (per transfer, per application, …)."""
        assert units > 0, units
        return {e: (None if getattr(self, e) is None else getattr(self, e) / units) for e in EVENTS}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Counts:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def unknown(cls, source: str, scope: str, reason: str) -> Counts:
        """Nothing counted, and why."""
        return cls(source=source, scope=scope, unknown_reason=reason)


def per_unit_of(samples: list[dict]) -> tuple[dict[str, float | None], str | None]:
    """One benchmark's stored samples → the median of each event per unit of work, and IPC
    (only from the CPU's own counts: a simulator has no cycles); and why the unknown ones
    are unknown."""
    units = samples[0].get("units")
    values: dict[str, float | None] = {}
    for event in EVENTS:
        counts = [s[event] for s in samples if s.get(event) is not None]
        values[event] = statistics.median(counts) / units if counts and units else None
    cycles, instructions = values["cycles"], values["instructions"]
    values["ipc"] = instructions / cycles if cycles and instructions else None
    reasons = {s.get("counts_unknown") for s in samples} - {None, ""}
    return values, "; ".join(sorted(reasons)) or None  # type: ignore[arg-type]
