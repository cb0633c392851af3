"""The cost model: what a unit of work costs on each machine class, and what a fleet costs.

A cost file is TOML (one file, or several merged: say one per site and one per machine class)::

    [site]
    currency = "CNY"
    electricity_per_kwh = 0.85       # currency per kWh
    pue = 1.4                        # power usage effectiveness, >= 1
    rack_unit_per_year = 1500        # space, currency per rack unit per year (default 0)

    [target]                         # the load the fleet must carry
    decisions_per_s = 50000
    p99_ms = 1.0                     # the latency SLO (default 1 ms)

    [machine.kunpeng-920]            # one table per machine class
    arch = "aarch64"                 # optional: only runs of this architecture match
    match = "*"                      # glob over run label, hostname or CPU model (default:
                                     # the table's name, or "*" when arch is given)
    price = 98000                    # currency per server
    power_w = 420                    # wall power at load (measured, or from TDP)
    rack_units = 2
    amortization_years = 5
    maintenance_pct_per_year = 8
    licence_per_core_per_year = 0    # optional, default 0
    licence_per_socket_per_year = 0  # optional, default 0
    licence_per_server_per_year = 0  # optional, default 0
    cores = 128                      # optional: the server's physical cores (default: the
                                     # run's host); more than the run measured: projected
    sockets = 2                      # optional: the server's sockets (default: the run's host)

A run matches the first class (in file order) whose arch (if given) is the run's and whose glob
matches. Rates per server are measured at the server's core count when the run measured that
many threads on as many cores; otherwise they are projected from the run's own thread scaling
(bench/scaling.py) and marked as projections wherever they appear.

Money here is planning arithmetic on prices, not ledger money: it is float on purpose.
"""

from __future__ import annotations

import fnmatch
import math
import sys
from dataclasses import MISSING, dataclass, fields, replace

from workloads.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HOURS_PER_YEAR = 8766  # 365.25 days
SECONDS_PER_YEAR = HOURS_PER_YEAR * 3600
TCO_YEARS = (3, 5)


@dataclass(frozen=True)
class Site:
    currency: str
    electricity_per_kwh: float
    pue: float
    rack_unit_per_year: float = 0.0


@dataclass(frozen=True)
class Target:
    decisions_per_s: float
    p99_ms: float = 1.0


@dataclass(frozen=True)
class MachineClass:
    name: str
    match: str
    price: float
    power_w: float
    rack_units: float
    amortization_years: float
    maintenance_pct_per_year: float
    licence_per_core_per_year: float = 0.0
    licence_per_socket_per_year: float = 0.0
    licence_per_server_per_year: float = 0.0
    cores: int | None = None
    sockets: int | None = None
    arch: str | None = None


@dataclass(frozen=True)
class CostModel:
    site: Site
    target: Target
    machines: dict[str, MachineClass]
    paths: tuple[str, ...]

    @property
    def source(self) -> str:
        """The cost files, for messages."""
        return " + ".join(self.paths)

    def machine_for(self, run: dict, fingerprint: dict) -> MachineClass:
        names = [run.get("label") or "", fingerprint.get("hostname") or "", run.get("cpu_model")]
        arch = fingerprint.get("arch")
        for machine in self.machines.values():
            if machine.arch and machine.arch != arch:
                continue
            if any(n and fnmatch.fnmatchcase(n, machine.match) for n in names):
                return machine
        raise InputError(
            f"{self.source}: run {run['run_id']} (label '{run.get('label')}', host "
            f"'{fingerprint.get('hostname')}') matches no [machine.*] table; set one's match = "
            f'"{run.get("label")}"'
        )


NUMBER_MAX = 1e15  # above any price, power, count or rate a cost file holds (and not inf)


def _number(table: dict, key: str, where: str, *, minimum=0.0, default=MISSING, whole=False):
    """A field's value, checked: present (unless it has a default), a number, not below
    ``minimum``, and not zero when the field must be positive."""
    if key not in table:
        if default is MISSING:
            raise InputError(f"{where}: missing field '{key}'")
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InputError(f"{where}: field '{key}' must be a number, got {value!r}")
    if math.isinf(value) or value > NUMBER_MAX:  # 1e300 decisions/s filled a page-one card
        raise InputError(
            f"{where}: field '{key}' must be a finite number at most {NUMBER_MAX:g}, got {value!r}"
        )
    if whole and value != int(value):
        raise InputError(f"{where}: field '{key}' must be a whole number, got {value!r}")
    if value < minimum or (key in _POSITIVE and value <= 0):
        bound = "positive" if key in _POSITIVE and minimum <= 0 else f"at least {minimum:g}"
        raise InputError(f"{where}: field '{key}' must be {bound}, got {value!r}")
    return int(value) if whole else float(value)


# fields that must be above zero (the others may be zero but never negative)
_POSITIVE = {
    "electricity_per_kwh",
    "decisions_per_s",
    "p99_ms",
    "price",
    "power_w",
    "rack_units",
    "amortization_years",
    "cores",
    "sockets",
}


def _unknown_keys(table: dict, cls, where: str) -> None:
    known = {f.name for f in fields(cls)}
    for key in table:
        if key not in known:
            raise InputError(
                f"{where}: unknown field '{key}'; known: {', '.join(sorted(known - {'name'}))}"
            )


def parse(document: dict, paths: tuple[str, ...]) -> CostModel:
    source = " + ".join(paths)
    for section in ("site", "target", "machine"):
        if not isinstance(document.get(section), dict):
            raise InputError(
                f"{source}: missing table [{section}{'.NAME' * (section == 'machine')}]"
            )
    raw = document["site"]
    where = f"{source} [site]"
    _unknown_keys(raw, Site, where)
    currency = raw.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        raise InputError(f"{where}: missing field 'currency' (e.g. currency = \"CNY\")")
    site = Site(
        currency=currency,
        electricity_per_kwh=_number(raw, "electricity_per_kwh", where),
        pue=_number(raw, "pue", where, minimum=1),
        rack_unit_per_year=_number(raw, "rack_unit_per_year", where, default=0.0),
    )
    raw = document["target"]
    where = f"{source} [target]"
    _unknown_keys(raw, Target, where)
    target = Target(
        decisions_per_s=_number(raw, "decisions_per_s", where),
        p99_ms=_number(raw, "p99_ms", where, default=1.0),
    )
    machines = {}
    for name, raw in document["machine"].items():
        where = f"{source} [machine.{name}]"
        if not isinstance(raw, dict):
            raise InputError(f"{where}: must be a table of fields")
        _unknown_keys(raw, MachineClass, where)
        arch = raw.get("arch")
        if arch is not None and (not isinstance(arch, str) or not arch.strip()):
            raise InputError(f"{where}: field 'arch' must be an architecture, e.g. \"aarch64\"")
        match = raw.get("match", "*" if arch else name)
        if not isinstance(match, str):
            raise InputError(f"{where}: field 'match' must be a text glob, got {match!r}")
        values = {
            f.name: _number(
                raw, f.name, where, default=f.default, whole=f.name in ("cores", "sockets")
            )
            for f in fields(MachineClass)
            if f.name not in ("name", "match", "arch")
        }
        machines[name] = MachineClass(name=name, match=match, arch=arch, **values)
    if not machines:
        raise InputError(f"{source}: no [machine.NAME] table")
    return CostModel(site, target, machines, paths)


def load(paths: list[str]) -> CostModel:
    """Read and merge the cost files; every error names the file and the field."""
    merged: dict = {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                document = tomllib.load(f)
        except OSError as error:
            raise InputError(f"cannot read cost file {path}: {error.strerror}") from None
        except tomllib.TOMLDecodeError as error:
            raise InputError(f"{path}: not valid TOML: {error}") from None
        for key, value in document.items():
            if key == "machine" and isinstance(value, dict):
                clash = set(value) & set(merged.get("machine", {}))
                if clash:
                    raise InputError(f"{path}: [machine.{sorted(clash)[0]}] is defined twice")
                merged.setdefault("machine", {}).update(value)
            elif key in merged:
                raise InputError(f"{path}: [{key}] is defined in more than one cost file")
            else:
                merged[key] = value
    return parse(merged, tuple(paths))


# ---- the arithmetic ----
@dataclass(frozen=True)
class Server:
    """One machine class as bought: its cost inputs and its measured work rates."""

    machine: MachineClass
    cores: int
    sockets: int
    decisions_per_s: float | None  # the server's loan decisions per second (batch, all cores)
    postings_per_s: float | None  # ledger postings per second (all cores)
    capacity_per_s: float | None  # decisions per second within the p99 SLO
    owner: str = ""  # the run (machine) these rates were measured on, for labels


def annual_cost(server: Server, site: Site) -> dict[str, float]:
    m = server.machine
    return {
        "capex": m.price / m.amortization_years,
        "energy": m.power_w / 1000 * HOURS_PER_YEAR * site.electricity_per_kwh * site.pue,
        "space": m.rack_units * site.rack_unit_per_year,
        "licences": m.licence_per_core_per_year * server.cores
        + m.licence_per_socket_per_year * server.sockets
        + m.licence_per_server_per_year,
        "maintenance": m.price * m.maintenance_pct_per_year / 100,
    }


def tco(server: Server, site: Site, years: int) -> float:
    """Purchase (again each amortization period begun) plus the running costs over ``years``."""
    running = {k: v for k, v in annual_cost(server, site).items() if k != "capex"}
    purchases = math.ceil(years / server.machine.amortization_years)
    return server.machine.price * purchases + years * sum(running.values())


def cost_per_million(server: Server, site: Site, units_per_s: float | None) -> float | None:
    """At full utilisation: a year's cost over a year's work, per million units."""
    if not units_per_s:
        return None
    return sum(annual_cost(server, site).values()) / (units_per_s * SECONDS_PER_YEAR) * 1e6


def servers_needed(server: Server, target: Target) -> int | None:
    if not server.capacity_per_s:
        return None
    return math.ceil(target.decisions_per_s / server.capacity_per_s)


def fleet_tco(server: Server, model: CostModel, years: int) -> float | None:
    count = servers_needed(server, model.target)
    return None if count is None else count * tco(server, model.site, years)


# inputs varied by the sensitivity analysis: (label, where, field)
SENSITIVITY_INPUTS = (
    ("price", "machine", "price"),
    ("power", "machine", "power_w"),
    ("maintenance", "machine", "maintenance_pct_per_year"),
    ("licences per core", "machine", "licence_per_core_per_year"),
    ("licences per socket", "machine", "licence_per_socket_per_year"),
    ("capacity", "server", "capacity_per_s"),
    ("electricity price", "site", "electricity_per_kwh"),
    ("PUE", "site", "pue"),
    ("target load", "target", "decisions_per_s"),
)


def _scaled(model: CostModel, servers: list[Server], which: int, where: str, key: str, k: float):
    """The model and servers with one input multiplied by k (for server ``which`` only, when
    the input belongs to a machine)."""
    site, target = model.site, model.target
    servers = list(servers)
    if where == "site":
        site = replace(site, **{key: getattr(site, key) * k})
    elif where == "target":
        target = replace(target, **{key: getattr(target, key) * k})
    elif where == "machine":
        m = servers[which].machine
        servers[which] = replace(servers[which], machine=replace(m, **{key: getattr(m, key) * k}))
    elif (capacity := servers[which].capacity_per_s) is not None:
        servers[which] = replace(servers[which], capacity_per_s=capacity * k)
    return replace(model, site=site, target=target), servers


def fleet_saving(model: CostModel, servers: list[Server], years: int) -> float | None:
    """The candidate's (servers[1]) fleet TCO saving over the baseline's (servers[0]), as a
    fraction of the baseline's: > 0 means the candidate fleet is cheaper."""
    base, cand = (fleet_tco(s, model, years) for s in servers[:2])
    if not base or cand is None:
        return None
    return (base - cand) / base


def sensitivity(
    model: CostModel, servers: list[Server], years: int, step: float = 0.2
) -> list[dict]:
    """Each input ±step (on each machine where it is a machine's): the fleet saving then.
    Sorted by swing, the widest first (a tornado chart's order)."""
    rows = []
    for label, where, key in SENSITIVITY_INPUTS:
        owners = range(len(servers[:2])) if where in ("machine", "server") else [0]
        for which in owners:
            low_model, low_servers = _scaled(model, servers, which, where, key, 1 - step)
            high_model, high_servers = _scaled(model, servers, which, where, key, 1 + step)
            low = fleet_saving(low_model, low_servers, years)
            high = fleet_saving(high_model, high_servers, years)
            if low is None or high is None:
                continue
            owner = servers[which].owner or servers[which].machine.name
            name = label if len(owners) == 1 else f"{label} ({owner})"
            rows.append({"input": name, "low": low, "high": high})
    return sorted(rows, key=lambda r: -abs(r["high"] - r["low"]))
