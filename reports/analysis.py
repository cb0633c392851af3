"""Everything a report says, computed from stored runs: parity, comparisons, throughput per
core and socket, thread scaling, latency, capacity at the SLO, probe fractions and cost.

The first run is the baseline; every other run is a candidate compared against it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from bench import calibrate, compare, summary
from bench.store import Store
from reports import cost
from workloads.errors import InputError

DECISIONS = "loan.decide"
POSTINGS = "ledger.post"


@dataclass
class Machine:
    """One run and what was measured in it."""

    run: dict
    store: Store
    fingerprint: dict
    build: dict
    probes: dict
    samples: list[dict]
    summary: list[dict]

    @property
    def name(self) -> str:
        return self.run["label"] or self.run["run_id"]

    @property
    def cores(self) -> int:
        return self.fingerprint.get("physical_cores") or self.fingerprint.get("logical_cpus") or 1

    @property
    def sockets(self) -> int:
        return self.fingerprint.get("sockets") or 1

    def batch_rows(self, workload: str, engine: str = "c") -> list[dict]:
        """Summary rows of a workload's plain batch benchmarks, by thread count."""
        rows = [
            r
            for r in self.summary
            if r["workload"] == workload
            and r["engine"] == engine
            and r["mode"] == "batch"
            and r["batch_size"] is None
            and r["units_per_s"]
        ]
        return sorted(rows, key=lambda r: r["threads"])

    def bandwidth_bytes_per_s(self, threads: int) -> float | None:
        """The triad probe at the closest measured thread count not above ``threads``."""
        measured = {
            int(k.rsplit("_", 1)[1][:-1]): v
            for k, v in self.probes.items()
            if k.startswith("memory_bandwidth_bytes_per_s_")
        }
        usable = [t for t in measured if t <= threads] or list(measured)
        return measured[max(usable)] if usable else None


def load(keys: list[str], stores: list[str]) -> list[Machine]:
    """The runs named by ``keys`` (ids, id prefixes or labels), each from the first store
    that has it."""
    opened = [Store(s) for s in stores]
    machines = []
    for key in keys:
        errors = []
        for store in opened:
            try:
                run = store.find_run(key)
            except InputError as error:
                errors.append(str(error))
                continue
            samples = store.samples([run["run_id"]])
            machines.append(
                Machine(
                    run=run,
                    store=store,
                    fingerprint=json.loads(run["fingerprint_json"] or "{}"),
                    build=json.loads(run["build_json"] or "{}"),
                    probes=json.loads(run["probes_json"] or "{}"),
                    samples=samples.to_pylist(),
                    summary=summary.summarize(samples),
                )
            )
            break
        else:
            raise InputError("; ".join(errors))
    if len(machines) < 2:
        raise InputError("a report needs at least two runs: a baseline and a candidate")
    return machines


# ---- correctness ----
def parity(machines: list[Machine]) -> tuple[list[str], dict[str, list[str]]]:
    """Per workload (at each scale, seed and batch size), each machine's output digest status:
    'same' as the baseline's, 'DIFFERS', 'inconsistent' (the machine's own engines disagree)
    or '' (not run). Returns (workloads, {workload: [status per machine]})."""
    keyed = [summary.digest_sets(m.samples) for m in machines]
    workloads = sorted({k[0] for d in keyed for k in d})
    matrix = {}
    for w in workloads:
        cells = []
        base = {k: v for k, v in keyed[0].items() if k[0] == w}
        for digests in keyed:
            mine = {k: v for k, v in digests.items() if k[0] == w}
            if not mine:
                cells.append("")
            elif any(len(v) > 1 for v in mine.values()):
                cells.append("inconsistent")
            elif any(k in base and base[k] != v for k, v in mine.items()):
                cells.append("DIFFERS")
            elif not set(mine) & set(base):
                cells.append("not comparable (other scale)")
            else:
                cells.append("same")
        matrix[w] = cells
    return workloads, matrix


# ---- speed ----
def comparisons(
    machines: list[Machine], allow: set[str], noise_floor: dict[str, float]
) -> list[compare.Comparison]:
    base = machines[0]
    return [
        compare.compare(base.run, m.run, base.samples, m.samples, allow, noise_floor=noise_floor)
        for m in machines[1:]
    ]


def throughput(machine: Machine, workload: str) -> dict | None:
    """C-engine batch throughput at the most threads measured, per core and per socket (the
    per-thread rate times the socket's cores: an extrapolation when fewer threads ran)."""
    rows = machine.batch_rows(workload)
    if not rows:
        return None
    top = rows[-1]
    per_core = top["units_per_s"] / top["threads"]
    cores_per_socket = machine.cores / machine.sockets
    return {
        "threads": top["threads"],
        "units_per_s": top["units_per_s"],
        "per_core": per_core,
        "per_socket": per_core * cores_per_socket,
        "extrapolated": top["threads"] < cores_per_socket,
    }


def scaling(machine: Machine, workload: str) -> list[tuple[int, float, float]]:
    """(threads, units/s, parallel efficiency) of the C engine, efficiency = rate(t) /
    (t × rate(1))."""
    rows = machine.batch_rows(workload)
    measured = {t: e for _, t, e in summary.efficiency(rows)}
    if any(r["threads"] == 1 for r in rows):
        measured[1] = 1.0
    return [(r["threads"], r["units_per_s"], measured.get(r["threads"], math.nan)) for r in rows]


def probe_fraction(machine: Machine, workload: str) -> float | None:
    """The bytes each round must read and write (input + output Arrow bytes) at the measured
    rate, as a fraction of the triad bandwidth at that thread count: how close the workload
    runs to this machine's memory limit."""
    rows = machine.batch_rows(workload)
    if not rows:
        return None
    top = rows[-1]
    sample = next(
        (
            s
            for s in machine.samples
            if s["benchmark"] == top["benchmark"] and s["io_bytes"] and s["units"]
        ),
        None,
    )
    bandwidth = machine.bandwidth_bytes_per_s(top["threads"])
    if not sample or not bandwidth:
        return None
    return sample["io_bytes"] / top["median_s"] / bandwidth


def latency_quantiles(machine: Machine) -> dict[str, list[int]]:
    """Online loan.decide latency distributions (ns at samples.LATENCY_QUANTILES) by engine."""
    found: dict[str, list[int]] = {}
    for s in machine.samples:
        if s["mode"] == "online" and s["latency_ns_quantiles"]:
            found.setdefault(s["engine"], s["latency_ns_quantiles"])
    return found


# ---- cost ----
def server(machine: Machine, model: cost.CostModel) -> cost.Server:
    """The machine class bought: its cores (from the cost file, else the host) running at the
    measured per-thread rates."""
    mclass = model.machine_for(machine.run, machine.fingerprint)
    cores = mclass.cores or machine.cores
    sockets = mclass.sockets or machine.sockets

    def per_server(measured: dict | None) -> float | None:
        return measured["units_per_s"] / measured["threads"] * cores if measured else None

    return cost.Server(
        machine=mclass,
        cores=cores,
        sockets=sockets,
        decisions_per_s=per_server(throughput(machine, DECISIONS)),
        postings_per_s=per_server(throughput(machine, POSTINGS)),
        capacity_per_s=per_server(summary.capacity(machine.summary, model.target.p99_ms)),
    )


@dataclass
class Report:
    machines: list[Machine]
    workloads: list[str]
    parity: dict[str, list[str]]
    comparisons: list[compare.Comparison]
    allow: set[str]
    noise_floor: dict[str, float]  # the baseline host's, from its latest calibration
    model: cost.CostModel | None = None
    servers: list[cost.Server] = field(default_factory=list)
    sensitivity: list[dict] = field(default_factory=list)


def analyse(machines: list[Machine], allow: set[str], model: cost.CostModel | None) -> Report:
    workloads, matrix = parity(machines)
    base = machines[0]
    floor = calibrate.noise_floor(base.store, base.run)
    report = Report(
        machines, workloads, matrix, comparisons(machines, allow, floor), allow, floor, model
    )
    if model is not None:
        report.servers = [server(m, model) for m in machines]
        report.sensitivity = cost.sensitivity(model, report.servers, years=cost.TCO_YEARS[-1])
    return report
