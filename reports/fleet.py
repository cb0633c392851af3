"""What each machine class costs as bought, and a fleet of it for the target load: the rates
per core and per server (measured at its physical cores, or projected from the run's own
scaling), the cost model's figures per server (reports.cost's arithmetic), servers needed,
fleet TCO, the saving and its sensitivity. One computation for page one, the verdict's
sentence, the cost table and the detail tables: each figure has one definition, here.

- per core: the one-thread rate, measured (``Machine.per_core``);
- per server: the rate at the priced class's physical cores: measured when a run used that
  many threads on real cores, else projected (bench.scaling) — but never below the best rate
  measured (a bigger server can run what was measured), not from a run where more threads did
  less work than fewer (its scaling says nothing about more cores), and withheld when its 95 %
  range spans more than MAX_PROJECTION_SPREAD (a guess, not a figure); and never above the
  Amdahl bound of the workload's counted serial share (bench/serial_share.py, ``bankbench
  scaling-bound --write-model``) for the code the run ran: a projection above it is capped
  there, and the text says so ("capped by the serial-share bound of 52.2× at 64 threads");
- capacity: decisions/s per server within the SLO, by the same rules along the batch scaling
  (bounded by the decisions workload's serial share).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bench import scaling, serial_share
from bench.serial_share import Bound
from bench.text import plural
from reports import cost, numbers

if TYPE_CHECKING:
    from reports.analysis import Machine

# a projection whose 95 % range spans more than this (high / low) is withheld, with the reason
MAX_PROJECTION_SPREAD = 2.0


@dataclass(frozen=True)
class PerMillion:
    """Cost per million units at full utilisation: at the rate's point estimate and at its
    interval's ends (a higher rate costs less: ``low`` is at the rate's high end); None where
    that rate is zero."""

    value: float | None
    low: float | None
    high: float | None
    projected: bool  # the rate is projected, not measured

    @classmethod
    def of(
        cls, server: cost.Server, site: cost.Site, rate: scaling.Rate | None
    ) -> PerMillion | None:
        if rate is None:
            return None
        return cls(
            cost.cost_per_million(server, site, rate.value),
            cost.cost_per_million(server, site, rate.high),
            cost.cost_per_million(server, site, rate.low),
            rate.projected,
        )


@dataclass(frozen=True)
class ServerFigures:
    """A machine class as bought, at the rates measured (or projected) for its cores."""

    machine: Machine
    server: cost.Server  # the point estimates, for the cost arithmetic
    decisions: scaling.Rate | None  # per server
    postings: scaling.Rate | None
    capacity: scaling.Rate | None  # decisions/s per server within the SLO
    # figures not given, with why: {"decisions": "projections are turned off ..."}
    withheld: dict[str, str] = field(default_factory=dict)
    # per projected figure: how the serial-share bound held it ("capped by …", "within …",
    # or why there is none), for the cost section's words
    bounds: dict[str, str] = field(default_factory=dict)
    decisions_per_core: float | None = None  # the one-thread rates, measured
    postings_per_core: float | None = None
    # the cost model's figures for one server (cost.annual_cost, cost.tco, cost_per_million)
    annual_cost: dict[str, float] = field(default_factory=dict)  # by item, currency a year
    tco: dict[int, float] = field(default_factory=dict)  # years → currency
    cost_per_million_decisions: PerMillion | None = None
    cost_per_million_postings: PerMillion | None = None

    @property
    def projected(self) -> bool:
        return any(
            r is not None and r.projected for r in (self.decisions, self.postings, self.capacity)
        )

    @property
    def projection_note(self) -> str | None:
        """'projected from 2 of 64 cores' when a figure of this server is projected."""
        rates = [r for r in (self.decisions, self.postings, self.capacity) if r and r.projected]
        if not rates:
            return None
        fewest = min(r.measured_threads for r in rates)
        capped = [r for r in rates if r.capped and r.ceiling is not None]
        return f"projected from {fewest} of {plural(self.server.cores, 'core')}" + (
            f", {bound_words(capped[0], capped=True)}" if capped else ""
        )

    def with_capacity(self, value: float) -> cost.Server:
        return cost.Server(
            self.server.machine,
            self.server.cores,
            self.server.sockets,
            self.server.decisions_per_s,
            self.server.postings_per_s,
            value,
        )


@dataclass(frozen=True)
class Range:
    value: float
    low: float
    high: float


@dataclass
class CostFigures:
    """The fleet comparison of the first two machines: one computation for the verdict's
    sentence and the cost table."""

    servers: list[ServerFigures]
    needed: list[Range | None]  # servers for the target load (low = the optimistic count)
    fleet_tco: dict[int, list[Range | None]]  # years → per machine
    saving: Range | None  # the candidate fleet's saving over the baseline's, a fraction
    sensitivity: list[dict]
    flips: list[str]  # inputs whose ±20 % flips the cheaper machine
    withheld: str | None  # why there is no cost verdict, in words

    @property
    def projected(self) -> bool:
        return any(s.projected for s in self.servers[:2])

    @property
    def cheaper(self) -> Machine | None:
        if self.saving is None or self.saving.value == 0:
            return None
        return self.servers[1 if self.saving.value > 0 else 0].machine


def _slower_with_more_threads(points: list[tuple[int, float]], host_cores: int) -> str | None:
    """'2 threads did 190 k/s, less than 1 thread's 315 k/s' when a thread count on real cores
    has a lower median rate than a smaller one: no scaling to project from."""
    medians = {
        t: float(np.median([r for u, r in points if u == t]))
        for t in sorted({t for t, _ in points if t <= host_cores})
    }
    counts = list(medians)
    for i, fewer in enumerate(counts):
        for more in counts[i + 1 :]:
            if medians[more] < medians[fewer]:
                return (
                    f"{plural(more, 'thread')} did {numbers.rate(medians[more])}/s, less than "
                    f"{plural(fewer, 'thread')}'s {numbers.rate(medians[fewer])}/s"
                )
    return None


def bound_words(rate: scaling.Rate, capped: bool) -> str:
    """'capped by the serial-share bound of 52.2× at 64 threads' (or 'within …'), and what
    holds it where the calls split into fewer parts than that ('…, its work in calls of at
    most 8 parts')."""
    assert rate.ceiling is not None
    held = (
        f", its work in calls of at most {plural(rate.ceiling_parts, 'part')}"
        if rate.ceiling_parts
        else ""
    )
    return (
        f"{'capped by' if capped else 'within'} the serial-share bound of {rate.ceiling:.1f}× "
        f"at {plural(rate.threads, 'thread')}{held}"
    )


def amdahl_cap(
    rate: scaling.Rate, points: list[tuple[int, float]], host_cores: int, counted: Bound
) -> scaling.Rate:
    """``rate`` no higher than the counted bound (``counted``: Amdahl's with each parallel
    call held to its most parts): the rate at the fewest threads measured on real cores (t₀,
    one thread for a batch curve) times the bound's growth from t₀ to the projected threads,
    S(T) / S(t₀), S(n) = 1 / (s + Σ pᵢ / min(n, mᵢ)); never below the best rate measured (a
    bigger server can run what was measured)."""
    real = [(t, r) for t, r in points if t <= host_cores]
    fewest = min(t for t, _ in real)
    base = float(np.median([r for t, r in real if t == fewest]))
    bound = counted.speedup(rate.threads)
    best = max(float(np.median([r for t, r in real if t == u])) for u in {t for t, _ in real})
    cap = max(base * float(bound / counted.speedup(fewest)), best)
    parts, _ = counted.most_parts()
    return dataclasses.replace(
        rate,
        value=min(rate.value, cap),
        low=min(rate.low, cap),
        high=min(rate.high, cap),
        ceiling=float(bound),
        capped=rate.value > cap,
        ceiling_parts=parts if serial_share.UNSPLIT < parts < rate.threads else None,
    )


def server_rate(
    points: list[tuple[int, float]],
    cores: int,
    host_cores: int,
    projection: bool,
    reference: list[tuple[int, float]] | None = None,
    counted: Bound | None = None,
) -> tuple[scaling.Rate | None, str | None]:
    """The rate per server of ``cores`` physical cores, or None and why it is withheld (see
    the module docstring). ``reference``: the curve whose scaling a benchmark measured at one
    thread count follows (capacity follows the batch decisions). ``counted``: the workload's
    counted bound (its serial share, its calls' parts), which caps a projection."""
    rate = scaling.along(points, reference or points, cores, host_cores)
    if rate is None or not rate.projected:
        return rate, None
    if not projection:
        return None, "projections are turned off (--no-projection)"
    slower = _slower_with_more_threads(reference or points, host_cores)
    if slower:
        return None, f"not projected: {slower}, no scaling to project from"
    counts = {t for t, _ in points if t <= host_cores}
    best = max((float(np.median([r for t, r in points if t == u])) for u in counts), default=0.0)
    rate = scaling.Rate(
        max(rate.value, best),
        max(rate.low, best),
        max(rate.high, best),
        rate.threads,
        rate.measured_threads,
        True,
        rate.serial_fraction,
    )
    if counted is not None:
        rate = amdahl_cap(rate, points, host_cores, counted)
    if rate.high > MAX_PROJECTION_SPREAD * rate.low:
        return None, (
            f"the projection to {plural(cores, 'core')} ranges "
            f"{numbers.rate(rate.low)}–{numbers.rate(rate.high)}/s, {rate.high / rate.low:.0f}× "
            f"wide (more than {MAX_PROJECTION_SPREAD:g}×): run on more cores"
        )
    return rate, None


def source_sha256(machine: Machine, workload: str) -> str | None:
    """The hash of the C the run ran ``workload`` on (its samples'), None when unknown or not
    one (an imported run, or samples of several builds)."""
    hashes = {s.get("workload_source_sha256") for s in machine.samples if s["workload"] == workload}
    return hashes.pop() if len(hashes) == 1 else None


def priced_workloads() -> dict[str, str]:
    """The workloads the cost figures price, by name: what each is priced as ("decisions",
    "postings"), as the workloads declare (Workload.priced_as)."""
    from workloads import registry

    return {w.name: w.priced_as for w in registry.select(None) if w.priced_as}


def priced(unit: str) -> str | None:
    """The workload priced as ``unit`` ("decisions" or "postings"), or None."""
    return next((name for name, what in priced_workloads().items() if what == unit), None)


def server_figures(machine: Machine, model: cost.CostModel, projection: bool) -> ServerFigures:
    """The machine class bought: its cores (from the cost file, else the host's) at the rates
    measured at that thread count, or projected from the run's own scaling."""
    mclass = model.machine_for(machine.run, machine.fingerprint)
    cores = mclass.cores or machine.cores
    sockets = mclass.sockets or machine.sockets
    withheld: dict[str, str] = {}
    bounds: dict[str, str] = {}
    rates: dict[str, scaling.Rate | None] = {}
    decides, posts = priced("decisions"), priced("postings")
    decision_curve = machine.curve(decides) if decides else []
    _, capacity_points = machine.capacity_curve(model.target.p99_ms)
    model_of_shares = serial_share.load_model()
    for what, workload, points, reference in (
        ("decisions", decides, decision_curve, None),
        ("postings", posts, machine.curve(posts) if posts else [], None),
        # capacity measured at one thread count scales as the batch decisions do
        ("capacity", decides, capacity_points, decision_curve),
    ):
        bound, counted = (
            serial_share.bound_for(model_of_shares, workload, source_sha256(machine, workload))
            if workload
            else (None, "")
        )
        rates[what], why = server_rate(points, cores, machine.cores, projection, reference, bound)
        if why:
            withheld[what] = why
        rate = rates[what]
        if rate is not None and rate.projected:
            bounds[what] = (
                bound_words(rate, rate.capped)
                + (f" (serial share counted {counted})" if counted else "")
                if rate.ceiling is not None
                else f"not bounded: {counted}"
            )
    decisions, postings, capacity = rates["decisions"], rates["postings"], rates["capacity"]
    server = cost.Server(
        machine=mclass,
        cores=cores,
        sockets=sockets,
        decisions_per_s=decisions.value if decisions else None,
        postings_per_s=postings.value if postings else None,
        capacity_per_s=capacity.value if capacity else None,
        owner=machine.name,
    )
    return ServerFigures(
        machine,
        server,
        decisions,
        postings,
        capacity,
        withheld,
        bounds,
        machine.per_core(decides) if decides else None,
        machine.per_core(posts) if posts else None,
        annual_cost=cost.annual_cost(server, model.site),
        tco={years: cost.tco(server, model.site, years) for years in cost.TCO_YEARS},
        cost_per_million_decisions=PerMillion.of(server, model.site, decisions),
        cost_per_million_postings=PerMillion.of(server, model.site, postings),
    )


def cost_figures(machines: list[Machine], model: cost.CostModel, projection: bool) -> CostFigures:
    figures = [server_figures(m, model, projection) for m in machines]
    years = cost.TCO_YEARS
    needed: list[Range | None] = []
    fleet: dict[int, list[Range | None]] = {y: [] for y in years}
    for f in figures:
        cap = f.capacity
        if cap is None or not cap.value:
            needed.append(None)
            for y in years:
                fleet[y].append(None)
            continue
        optimistic, pessimistic = f.with_capacity(cap.high), f.with_capacity(max(cap.low, 1e-9))
        count = cost.servers_needed(f.server, model.target)
        assert count is not None
        needed.append(
            Range(
                count,
                cost.servers_needed(optimistic, model.target) or count,
                cost.servers_needed(pessimistic, model.target) or count,
            )
        )
        for y in years:
            fleet[y].append(
                Range(
                    cost.fleet_tco(f.server, model, y) or 0.0,
                    cost.fleet_tco(optimistic, model, y) or 0.0,
                    cost.fleet_tco(pessimistic, model, y) or 0.0,
                )
            )
    last = years[-1]
    saving = None
    sensitivity: list[dict] = []
    flips: list[str] = []
    withheld = None
    for f, servers_for_target in zip(figures[:2], needed[:2], strict=True):
        if "capacity" in f.withheld and withheld is None:
            withheld = (
                f"capacity per server of {f.machine.name} ({plural(f.server.cores, 'core')}) "
                f"is not given: {f.withheld['capacity']}"
            )
        elif servers_for_target is None and withheld is None:
            decides = priced("decisions") or "the decisions workload"
            withheld = (
                f"no measured {decides} capacity configuration of {f.machine.name} met the "
                f"SLO (include {decides} in the runs: its capacity benchmarks size the fleet)"
            )
    if withheld is None:
        base, cand = fleet[last][0], fleet[last][1]
        assert base is not None and cand is not None
        saving = Range(
            (base.value - cand.value) / base.value,
            (base.low - cand.high) / base.low,  # the baseline at its best, the candidate worst
            (base.high - cand.low) / base.high,
        )
        servers = [f.server for f in figures[:2]]
        sensitivity = cost.sensitivity(model, servers, years=last)
        flips = [
            r["input"]
            for r in sensitivity
            if (r["low"] > 0) != (saving.value > 0) or (r["high"] > 0) != (saving.value > 0)
        ]
    return CostFigures(figures, needed, fleet, saving, sensitivity, flips, withheld)
