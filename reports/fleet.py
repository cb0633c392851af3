"""What each machine class costs as bought, and a fleet of it for the target load: the rates
per server (measured at its physical cores, or projected from the run's own scaling), the
cost model's figures per server (reports.cost's arithmetic), servers needed, fleet TCO, the
saving and its sensitivity. One computation for the verdict's sentence and the cost table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench import scaling
from bench.text import plural
from reports import cost

if TYPE_CHECKING:
    from reports.analysis import Machine

DECISIONS = "loan.decide"
POSTINGS = "ledger.post"


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
    withheld: tuple[str, ...] = ()  # figures not given: projections were turned off
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
        return f"projected from {fewest} of {plural(self.server.cores, 'core')}"

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
    withheld: str | None  # why there is no cost verdict

    @property
    def projected(self) -> bool:
        return any(s.projected for s in self.servers[:2])

    @property
    def cheaper(self) -> Machine | None:
        if self.saving is None or self.saving.value == 0:
            return None
        return self.servers[1 if self.saving.value > 0 else 0].machine


def _rate(
    points,
    cores: int,
    host_cores: int,
    projection: bool,
    what: str,
    withheld: list,
    reference: list | None = None,
):
    rate = scaling.along(points, reference or points, cores, host_cores)
    if rate is not None and rate.projected and not projection:
        withheld.append(what)
        return None
    return rate


def server_figures(machine: Machine, model: cost.CostModel, projection: bool) -> ServerFigures:
    """The machine class bought: its cores (from the cost file, else the host's) at the rates
    measured at that thread count, or projected from the run's own scaling."""
    mclass = model.machine_for(machine.run, machine.fingerprint)
    cores = mclass.cores or machine.cores
    sockets = mclass.sockets or machine.sockets
    withheld: list[str] = []
    decision_curve = machine.curve(DECISIONS)
    decisions = _rate(decision_curve, cores, machine.cores, projection, "decisions", withheld)
    postings = _rate(
        machine.curve(POSTINGS), cores, machine.cores, projection, "postings", withheld
    )
    _, points = machine.capacity_curve(model.target.p99_ms)
    # capacity measured at one thread count scales as the batch decisions do
    capacity = _rate(points, cores, machine.cores, projection, "capacity", withheld, decision_curve)
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
        tuple(withheld),
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
    if any(f.withheld for f in figures[:2]):
        withheld = "projection"
    elif None in needed[:2]:
        withheld = "capacity"
    else:
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
