"""What a run measures: one resolved ``Plan``, holding the only defaults.

``bankbench run`` (and calibrate) resolve a Plan once from the profile and the options, print
it, store it with the run, and hand it whole to each worker process as a JSON file (pyperf
style); the benchmark suite parametrizes itself from it (asv's ``params``), so the thread
counts, seed and scale a benchmark runs at are the ones the banner printed. A plain
``pytest bench/suite`` uses the smoke profile's plan.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import platform
from dataclasses import dataclass

from bench.measure import modes
from workloads import registry
from workloads._base import (
    BATCH,
    BATCHING,
    CANONICAL_SEED,
    CAPACITY,
    KINDS,
    ONLINE,
    SEED_LIMIT,
    Benchmark,
)
from workloads.errors import InputError

DEFAULT_SEED = CANONICAL_SEED  # the seed of the golden digests: one fixed, printed seed
DEFAULT_PROFILE = "quick"
DEFAULT_THREADS = (1, 2)
ENGINES = ("c", "numpy", "python")
# which thread-scaling curves a run measures: "strong" (the work fixed, today's sweep), "weak"
# (each thread gets a scale-sized share: the work grows with the threads, as a bank grows by
# customers per server) or both; weak cases are the C engine's plain batch benchmarks
SCALING_MODES = ("strong", "weak", "both")
WEAK_ENGINES = ("c",)
# how a benchmark is measured: "time" is wall-clock (the only mode that compares machines);
# "instructions" and "counters" (bench/measure/modes.py) plug into the suite's measure() seam
MEASURE_MODES = modes.MODES


@dataclass(frozen=True)
class Profile:
    scale: float
    rounds: int
    threads: tuple[int, ...] | None  # None: the sweep 1, 2, 4, … and every usable CPU
    purpose: str
    min_round_s: float  # a fast engine's round repeats the call until it lasts this long
    processes: int = 1
    open_loop: OpenLoop | None = None  # the latency-vs-load sweep (bench/openloop/sweep.py)


@dataclass(frozen=True)
class OpenLoop:
    """A profile's open-loop sweep: ``requests`` per load point (the workload generated at
    ``scale``, which must hold that many), ``points`` offered loads on the grid, the whole
    sweep ``repeats`` times (seeds seed, seed + 1, …) for a confidence interval."""

    requests: int
    scale: float
    points: int
    repeats: int


# loan.decide generates 200 000 applications per unit of scale: a point's requests are rows
OPEN_LOOP_SMOKE = OpenLoop(requests=20_000, scale=0.1, points=8, repeats=1)
OPEN_LOOP_QUICK = OpenLoop(requests=20_000, scale=0.1, points=8, repeats=1)
OPEN_LOOP_STANDARD = OpenLoop(requests=100_000, scale=0.5, points=10, repeats=3)

PROFILES = {
    "smoke": Profile(
        0.002, 3, DEFAULT_THREADS, "seconds: CI and first contact", 0.02, 1, OPEN_LOOP_SMOKE
    ),
    "quick": Profile(0.05, 5, DEFAULT_THREADS, "about 2 minutes", 0.1, 1, OPEN_LOOP_QUICK),
    "standard": Profile(
        0.2,
        9,
        DEFAULT_THREADS,
        "about 10 minutes: the default for comparisons",
        0.3,
        1,
        OPEN_LOOP_STANDARD,
    ),
    # the regression gate: 2 workers × 8 rounds of 0.2 s per benchmark give Mann-Whitney a
    # p-value floor far below 0.05, and a second process averages out one process's layout
    "ci": Profile(
        0.05,
        8,
        DEFAULT_THREADS,
        "the CI regression gate: a 5 % change on a quiet host",
        0.2,
        2,
        OPEN_LOOP_QUICK,
    ),
    "full": Profile(
        1.0, 9, None, "thread sweep 1, 2, 4, … all CPUs at full scale", 0.3, 1, OPEN_LOOP_STANDARD
    ),
}

# the kinds of benchmark a workload declares (workloads/_base.py: Workload.benchmarks); the
# suite (bench/suite/test_workloads.py) has one test function each
# the open-loop sweep: a plan's kind beside the workloads' own, one case per workload the
# driver serves (bench/openloop/driver.py: supports) and thread count, C engine only
OPEN_LOOP = modes.OPEN_LOOP
DEFAULT_SLO_MS = 1.0

__all__ = [
    "BATCH",
    "BATCHING",
    "CAPACITY",
    "ONLINE",
    "OPEN_LOOP",
    "SEED_LIMIT",
    "Case",
    "Plan",
    "resolve",
]


# an SLO below 1 µs is below what a request's two clock reads can resolve (0.1 ns was taken and
# failed in the benchmark worker, after the other benchmarks had run)
SLO_MS_MIN = 0.001
SLO_MS_LIMIT = 1e6


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def sweep(cpus: int) -> tuple[int, ...]:
    """1, 2, 4, … below ``cpus``, and ``cpus`` itself."""
    counts = {cpus}
    power = 1
    while power < cpus:
        counts.add(power)
        power *= 2
    return tuple(sorted(counts))


# the C core has no limit of its own; more threads than this is a typo (100000 for 1000),
# and each thread costs a stack and a slice of the batch
THREADS_MAX = 1024


def parse_threads(text: str) -> tuple[int, ...]:
    """'1,2,4', or 'max' (every usable CPU) alone or in a list ('1,max')."""
    counts = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            if text.strip():
                raise InputError(f"'{text}' has an empty item; thread counts are e.g. 1,2,4")
            continue
        if part == "max":
            counts.append(usable_cpus())
            continue
        try:
            value = int(part)
        except ValueError:
            raise InputError(
                f"'{text}' is not a list of thread counts, e.g. 1,2,4 or max"
            ) from None
        if value < 1:
            raise InputError("thread counts are whole numbers >= 1, e.g. 1,2")
        if value > THREADS_MAX:
            raise InputError(f"{value} threads is more than the maximum, {THREADS_MAX}")
        counts.append(value)
    if not counts:
        raise InputError("no thread counts given, e.g. 1,2,4 or max")
    return tuple(dict.fromkeys(counts))  # in the order given, once each


@dataclass(frozen=True)
class Case:
    """One benchmark of the plan: what the suite parametrizes and the progress line counts."""

    kind: str
    workload: str
    engine: str
    threads: int
    batch_size: int | None = None
    weak: bool = False  # weak scaling: the plan's scale per thread (scale_at)
    scale: float | None = None  # its own scale, not the plan's (an open-loop sweep's)

    def scale_at(self, scale: float) -> float:
        """The scale this case runs at, for a plan of ``scale``: its own when it has one,
        times the threads when weak (12 significant digits: 0.05 × 3 is 0.15, not
        0.15000000000000002)."""
        if self.scale is not None:
            return self.scale
        return float(f"{scale * self.threads:.12g}") if self.weak else scale

    def name(self, scale: float) -> str:
        """The benchmark's id in the store: ``<workload>[<engine>-<threads>t-<scale>…]``, its
        own scale in it (``-weak-`` before the threads of a weak case)."""
        batch = f"-batch{self.batch_size}" if self.batch_size is not None else ""
        kind = {ONLINE: "-online", CAPACITY: "-capacity", OPEN_LOOP: "-open-loop"}.get(
            self.kind, ""
        )
        kind += "-weak" if self.weak else ""
        return f"{self.workload}[{self.engine}{kind}-{self.threads}t-{self.scale_at(scale)}{batch}]"

    def test_id(self) -> str:
        """pytest's parameter id: the real thread count, never an index."""
        batch = f"-batch{self.batch_size}" if self.batch_size is not None else ""
        weak = "-weak" if self.weak else ""
        return f"{self.workload}-{self.engine}{weak}-{self.threads}t{batch}"

    @property
    def mode(self) -> str:
        """The samples' mode in the store: a weak case is a batch benchmark kept off the
        fixed-work curve; batching is batch throughput."""
        if self.weak:
            return "weak"
        return "batch" if self.kind in (BATCH, BATCHING) else self.kind


@dataclass(frozen=True)
class Plan:
    profile: str
    workloads: tuple[str, ...]
    engines: tuple[str, ...]
    threads: tuple[int, ...]
    scale: float
    seed: int
    rounds: int
    min_round_s: float
    processes: int
    pin: bool
    measure: str
    label: str = ""  # the run's name; resolve() gives the one default (default_label)
    scaling: str = "strong"  # SCALING_MODES: which thread-scaling curves the run measures
    slo_ms: float = DEFAULT_SLO_MS  # the p99 target capacity is measured at
    open_loop: OpenLoop | None = None  # the profile's sweep; None: no open-loop cases

    @property
    def mode(self) -> modes.Mode:
        """The measurement mode's object (bench/measure/modes.py), chosen once by ``measure``."""
        return modes.of(self.measure)

    def cases(self) -> list[Case]:
        """Every benchmark this plan runs, in the suite's order."""
        return [c for c in self.every_case() if not self.mode.skip_reason(self, c)]

    def skipped(self) -> list[tuple[Case, str]]:
        """The benchmarks the measurement mode cannot measure, and why."""
        return [(c, why) for c in self.every_case() if (why := self.mode.skip_reason(self, c))]

    def every_case(self) -> list[Case]:
        """Every benchmark of the plan's selection, whatever the measurement mode."""
        cases = []
        for kind in KINDS:  # the suite's order: every batch benchmark first
            for name in self.workloads:
                workload = registry.get(name)
                weak: list[Case] = []  # after the workload's other engines: inputs made once
                for declared in workload.benchmarks:
                    if declared.kind != kind:
                        continue
                    for engine in declared.engines or workload.engines:
                        if engine not in self.engines:
                            continue
                        # the reference is the oracle, not a parallel engine: one thread
                        threaded = declared.threaded and engine != "python"
                        for size in declared.batch_sizes or (None,):
                            for threads in self.threads if threaded else (1,):
                                if self._strong(kind, engine, threads, size, threaded):
                                    cases.append(Case(kind, name, engine, threads, size))
                        weak += self._weak_cases(kind, name, engine, declared, threaded)
                cases += weak
        return cases + self._open_loop_cases()

    def _open_loop_cases(self) -> list[Case]:
        """One sweep per workload the open-loop driver serves and thread count (C engine)."""
        from bench.openloop import driver

        if self.open_loop is None or "c" not in self.engines:
            return []
        return [
            Case(OPEN_LOOP, name, "c", threads, scale=self.open_loop.scale)
            for name in self.workloads
            if driver.supports(name)
            for threads in self.threads
        ]

    def _strong(
        self, kind: str, engine: str, threads: int, size: int | None, threaded: bool
    ) -> bool:
        """Whether the fixed-work case runs: always, but under weak scaling alone only the
        one-thread plain batch case of an engine with a weak curve (its base: at one thread
        the two curves are one benchmark)."""
        weak_alone = self.scaling == "weak" and engine in WEAK_ENGINES and threaded
        return not weak_alone or kind != BATCH or size is not None or threads == 1

    def _weak_cases(
        self, kind: str, name: str, engine: str, declared: Benchmark, threaded: bool
    ) -> list[Case]:
        """The weak-scaling cases of one declared plain batch benchmark: one per thread count
        above one (the scale times the threads)."""
        if (
            self.scaling == "strong"
            or kind != BATCH
            or declared.batch_sizes
            or not threaded
            or engine not in WEAK_ENGINES
        ):
            return []
        return [Case(kind, name, engine, t, None, weak=True) for t in self.threads if t > 1]

    def rounds_of(self, engine: str) -> int:
        """The reference engine is slow and only a correctness anchor: one round."""
        return 1 if engine == "python" else self.rounds

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("workloads", "engines", "threads"):
            values[key] = tuple(values[key])
        if values.get("open_loop") is not None:
            values["open_loop"] = OpenLoop(**values["open_loop"])
        return cls(**values)

    def write(self, path: pathlib.Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def read(cls, path: pathlib.Path) -> Plan:
        return cls.from_dict(json.loads(path.read_text()))

    def banner(self) -> str:
        return (
            f"profile {self.profile}, scale {self.scale}, seed {self.seed}, "
            f"threads {','.join(map(str, self.threads))}, engines {','.join(self.engines)}, "
            f"{self.rounds} rounds, {self.processes} process(es), measure {self.measure}"
            + (", pinned" if self.pin else "")
            + (f", scaling {self.scaling}" if self.scaling != "strong" else "")
            + (
                f", open loop {self.open_loop.points}+ loads × {self.open_loop.requests:,} "
                f"requests × {self.open_loop.repeats} at p99 ≤ {self.slo_ms:g} ms"
                if self.open_loop and any(c.kind == OPEN_LOOP for c in self.cases())
                else ""
            )
        )


def default_label(profile: str) -> str:
    """A run's name when none is given: this host and the profile (``kunpeng-a-quick``)."""
    return f"{platform.node() or 'host'}-{profile}"


def resolve(
    profile: str | None = None,
    workloads: list[str] | None = None,
    engines: list[str] | None = None,
    threads: tuple[int, ...] | list[int] | None = None,
    scale: float | None = None,
    seed: int | None = None,
    rounds: int | None = None,
    processes: int | None = None,
    pin: bool = False,
    measure: str = "time",
    label: str | None = None,
    scaling: str = "strong",
    slo_ms: float = DEFAULT_SLO_MS,
) -> Plan:
    """The plan for these options; what is not given comes from the profile (or the default
    seed). Unknown workloads, engines, profiles and modes are refused here, before anything
    runs."""
    name = profile or DEFAULT_PROFILE
    if name not in PROFILES:
        raise InputError(f"unknown profile '{name}'; valid: {', '.join(PROFILES)}")
    if measure not in MEASURE_MODES:
        raise InputError(f"unknown measurement mode '{measure}'; valid: {', '.join(MEASURE_MODES)}")
    if scaling not in SCALING_MODES:
        raise InputError(f"unknown scaling '{scaling}'; valid: {', '.join(SCALING_MODES)}")
    chosen = PROFILES[name]
    if not (isinstance(slo_ms, (int, float)) and SLO_MS_MIN <= slo_ms < SLO_MS_LIMIT):
        raise InputError(
            f"the SLO is a number of milliseconds in [{SLO_MS_MIN}, {SLO_MS_LIMIT:.0f}), "
            f"got {slo_ms!r}"
        )
    if seed is not None and not (isinstance(seed, int) and 0 <= seed < SEED_LIMIT):
        raise InputError(f"the seed is a whole number in [0, 2^63), got {seed!r}")
    unknown = [e for e in engines or () if e not in ENGINES]
    if unknown:
        raise InputError(f"unknown engine '{unknown[0]}'; valid: {', '.join(ENGINES)}")
    plan = Plan(
        profile=name,
        workloads=tuple(w.name for w in registry.select(workloads)),
        engines=tuple(engines or ENGINES),
        threads=tuple(threads or chosen.threads or sweep(usable_cpus())),
        scale=scale or chosen.scale,
        seed=DEFAULT_SEED if seed is None else seed,
        rounds=rounds or chosen.rounds,
        min_round_s=chosen.min_round_s,
        processes=processes or chosen.processes,
        pin=pin,
        measure=measure,
        label=label or default_label(name),
        scaling=scaling,
        slo_ms=float(slo_ms),
        open_loop=chosen.open_loop,
    )
    return plan.mode.adjust(plan, engines_given=bool(engines))
