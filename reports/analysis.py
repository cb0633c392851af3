"""Every number a report states, computed from stored runs: parity, comparisons, throughput
per core and socket, thread scaling, latency, capacity at the SLO, probe fractions, and cost
(reports.fleet). ``content`` and ``verdict`` only word these figures (with reports.numbers);
nothing there computes.

The first run is the baseline; every other run is a candidate compared against it.

Sections, each a function of the loaded machines (a new view — say instruction counts — adds
its own function and a field of Report): correctness (parity), speed (comparisons,
throughput, scaling, latency, probe fractions), cost (server figures, fleet).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import pyarrow as pa

from bench import calibrate, compare, scaling, summary
from bench.compare import capacity as capacity_compare
from bench.records import RunRecord
from bench.store import SAMPLES, Store
from bench.text import LABEL_WIDTH, plural, truncate, visible
from reports import cost
from reports.fleet import CostFigures, cost_figures
from workloads.errors import InputError, UnknownNameError


def workload_words(name: str) -> str:
    """What a workload does, in words (its declared title), or its id when this install does
    not know it (a run of a plugin that is not installed here) or it declares none."""
    from workloads import registry

    try:
        return registry.get(name).title or name
    except UnknownNameError:
        return name


ENGINE_WORDS = {"c": "", "python": "Python reference", "numpy": "NumPy"}
MODE_WORDS = {
    "batch": "batch",
    "online": "one at a time",
    "capacity": "micro-batches",
    "weak": "weak scaling (scale × threads)",
}


def describe(workload: str, engine: str | None, mode: str | None, threads, batch_size) -> str:
    """A benchmark in words: 'loan decisions, batch, 2 threads'."""
    parts = [workload_words(workload)]
    if ENGINE_WORDS.get(engine or "c", engine):
        parts.append(ENGINE_WORDS.get(engine or "c", engine or ""))
    mode_words = MODE_WORDS.get(mode or "batch", mode or "")
    if batch_size and mode == "capacity":
        mode_words = f"micro-batches of {batch_size:,}"
    elif batch_size:
        mode_words = f"batches of {batch_size:,}"
    parts.append(mode_words)
    if threads:
        parts.append(plural(int(threads), "thread"))
    return ", ".join(p for p in parts if p)


def describe_row(row) -> str:
    """A compared benchmark in words, with the threads it ran on where fewer than asked."""
    words = describe_key(row.key)
    threads, used = row.threads, row.threads_used
    if threads and used and used < threads:
        words += f" (ran on {plural(used, 'thread')})"
    return words


def describe_key(key: tuple) -> str:
    fields = dict(zip(compare.KEY, key, strict=True))
    return describe(
        fields["workload"],
        fields["engine"],
        fields["mode"],
        fields["threads"],
        fields["batch_size"],
    )


def _plain_batch(row: dict, workload: str, engine: str) -> bool:
    """Whether a summary row or sample is one of the workload's plain batch benchmarks (not
    micro-batches, not capacity) on that engine."""
    return (
        row["workload"] == workload
        and row["engine"] == engine
        and row["mode"] == "batch"
        and row["batch_size"] is None
    )


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
    open_loop_points: list[dict] = field(default_factory=list)  # mode "open-loop"

    @property
    def name(self) -> str:
        """The run's label (else its id), cut to a length prose and tables can hold."""
        return truncate(self.run["label"] or self.run["run_id"], LABEL_WIDTH)

    @property
    def cores(self) -> int:
        """Physical cores (logical CPUs only when the host did not say)."""
        return self.fingerprint.get("physical_cores") or self.fingerprint.get("logical_cpus") or 1

    @property
    def sockets(self) -> int:
        return self.fingerprint.get("sockets") or 1

    @functools.cached_property
    def timed_under_valgrind(self) -> bool:
        """Measured by counting instructions: its clock timed Valgrind, so (as an emulated
        run's) it gives no rate, capacity or cost; its counts still feed the "why" table."""
        return compare.timed_under_valgrind(self.samples)

    def batch_rows(self, workload: str, engine: str = "c") -> list[dict]:
        """Summary rows of a workload's plain batch benchmarks, by thread count."""
        if self.timed_under_valgrind:
            return []
        rows = [r for r in self.summary if _plain_batch(r, workload, engine) and r["units_per_s"]]
        return sorted(rows, key=lambda r: r["threads"])

    def per_core(self, workload: str) -> float | None:
        """The one definition of a rate per core: the C engine's one-thread batch rate (one
        thread keeps one core busy), measured; the report's every per-core figure is this."""
        return next(
            (r["units_per_s"] for r in self.batch_rows(workload) if r["threads"] == 1), None
        )

    def curve(self, workload: str, engine: str = "c") -> list[tuple[int, float]]:
        """(threads, units/s) of every sample of the workload's plain batch benchmarks at
        the largest scale run: its thread-scaling curve."""
        if self.timed_under_valgrind:
            return []
        rows = [s for s in self.samples if _plain_batch(s, workload, engine)]
        if not rows:
            return []
        scale = max(s["scale"] or 0 for s in rows)
        return scaling.points([s for s in rows if (s["scale"] or 0) == scale])

    def capacity_curve(self, slo_ms: float) -> tuple[dict | None, list[tuple[int, float]]]:
        """The best capacity configuration within the SLO and the (threads, decisions/s)
        points of its micro-batch size at every thread count that met the SLO."""
        best = None if self.timed_under_valgrind else summary.capacity(self.summary, slo_ms)
        if best is None:
            return None, []
        within = {
            r["benchmark"]
            for r in self.summary
            if r["mode"] == "capacity"
            and r["batch_size"] == best["batch_size"]
            and r["latency_us_p99"] is not None
            and r["latency_us_p99"] <= slo_ms * 1000
        }
        return best, scaling.points([s for s in self.samples if s["benchmark"] in within])

    def bandwidth_bytes_per_s(self, threads: int) -> float | None:
        """The triad probe at the closest measured thread count not above ``threads``."""
        measured = dict(
            scaling.per_thread(self.probes, "memory_bandwidth_bytes_per_s_", scaling.stored_rate)
        )
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
            # open-loop load points are read apart (reports/open_loop.py): they are curves,
            # not timed rounds of a benchmark to compare or summarise
            points, rows = capacity_compare.split(store.samples([run["run_id"]]).to_pylist())
            record = RunRecord.from_row(run)  # the one place the JSON columns are decoded
            machines.append(
                Machine(
                    run=run,
                    store=store,
                    fingerprint=record.fingerprint or {},
                    build=record.build or {},
                    probes=record.probes or {},
                    samples=rows,
                    summary=summary.summarize(pa.Table.from_pylist(rows, schema=SAMPLES)),
                    open_loop_points=points,
                )
            )
            break
        else:
            raise InputError("; ".join(errors))
    if len(machines) < 2:
        raise InputError("a report needs at least two runs: a baseline and a candidate")
    ids = [m.run["run_id"] for m in machines]
    if len(set(ids)) < len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise InputError(
            f"run {twice} is named twice: a report compares different runs "
            "(for this host's noise floor, run `bankbench calibrate`)"
        )
    return machines


# ---- correctness ----
def parity(machines: list[Machine]) -> tuple[list[str], dict[str, list[str]]]:
    """Per workload, each machine's output status by compare.output_parity (the one
    definition): the baseline's column says whether its own engines and thread counts agree
    ('baseline' or 'inconsistent'); a candidate's says 'same', 'DIFFERS', 'inconsistent',
    'not comparable (other scale)' or '' (not run)."""
    base = machines[0]
    own = summary.digest_sets(base.samples)
    workloads = sorted({s["workload"] for m in machines for s in m.samples if s["digest"]})
    matrix: dict[str, list[str]] = {w: [] for w in workloads}
    for w in workloads:
        mine = [v for k, v in own.items() if k[0] == w]
        matrix[w].append(
            "" if not mine else "inconsistent" if any(len(v) > 1 for v in mine) else "baseline"
        )
    for m in machines[1:]:
        verdicts = compare.output_parity(base.samples, m.samples)
        ran = {k[0] for k in summary.digest_sets(m.samples)}
        for w in workloads:
            here = [v for k, v in verdicts.items() if k[0] == w]
            if w not in ran:
                matrix[w].append("")
            elif "DIFFERS" in here:
                matrix[w].append("DIFFERS")
            elif "inconsistent" in here:
                matrix[w].append("inconsistent")
            elif not here:
                matrix[w].append("not comparable (other scale)")
            else:
                matrix[w].append("same")
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


@dataclass(frozen=True)
class Throughput:
    """A workload's C-engine batch rates on one machine, by the one definition of
    bench.scaling: per core = one thread; per socket = a socket's physical cores."""

    threads: int  # the most threads run on real cores
    units_per_s: float  # at those threads
    per_core: float | None  # the one-thread rate
    per_socket: scaling.Rate | None


def throughput(machine: Machine, workload: str) -> Throughput | None:
    rows = [r for r in machine.batch_rows(workload) if r["threads"] <= machine.cores]
    if not rows:
        return None
    top = rows[-1]
    return Throughput(
        top["threads"],
        top["units_per_s"],
        machine.per_core(workload),
        compare.per_socket_rate(machine.curve(workload), machine.fingerprint),
    )


def scaling_points(machine: Machine, workload: str) -> list[scaling.CurvePoint]:
    """The C engine's strong-scaling points by thread count: rate, efficiency = rate(t) /
    (u × rate(1)) (nan without a one-thread benchmark) and u, the threads each ran on."""
    rows = machine.batch_rows(workload)
    measured = {t: e for _, t, e, _ in summary.efficiency(rows)}
    if any(r["threads"] == 1 for r in rows):
        measured[1] = 1.0
    return [
        scaling.CurvePoint(
            r["threads"],
            r["units_per_s"],
            measured.get(r["threads"], math.nan),
            summary.threads_used(r),
        )
        for r in rows
    ]


def weak_scaling_points(machine: Machine, workload: str) -> list[scaling.CurvePoint]:
    """The C engine's weak-scaling points (the run's scale per thread, ``--scaling
    weak|both``), efficiency from its one-thread rate: rate(t) / (u × rate(1)); empty when
    the run measured no weak curve (or under Valgrind)."""
    if machine.timed_under_valgrind:
        return []
    return scaling.efficiency_curves(machine.summary).get((workload, "c"), {}).get(scaling.WEAK, [])


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


NOISY_CV = compare.NOISY_CV


def noisy_benchmarks(machine: Machine) -> list[str]:
    """Benchmarks whose samples vary by more than NOISY_CV (none under Valgrind: counted)."""
    if machine.timed_under_valgrind:
        return []
    return [r["benchmark"] for r in machine.summary if r["cv"] is not None and r["cv"] > NOISY_CV]


def harness_overhead(machine: Machine) -> float | None:
    """The most the harness added to a measured time, as a fraction (None under Valgrind,
    whose clock says nothing of the harness on the machine)."""
    if machine.timed_under_valgrind:
        return None
    overheads = [
        r["harness_overhead"] for r in machine.summary if r["harness_overhead"] is not None
    ]
    return max(overheads) if overheads else None


def latency_quantiles(machine: Machine) -> dict[str, list[int]]:
    """Online latency distributions (ns at samples.LATENCY_QUANTILES) by engine: the online
    benchmark's (the workloads that declare one; today the decisions workload's)."""
    found: dict[str, list[int]] = {}
    for s in machine.samples:
        if s["mode"] == "online" and s["latency_ns_quantiles"]:
            found.setdefault(s["engine"], s["latency_ns_quantiles"])
    return found


# ---- cost ----
@dataclass
class Report:
    machines: list[Machine]
    workloads: list[str]
    parity: dict[str, list[str]]
    comparisons: list[compare.Comparison]
    allow: set[str]
    noise_floor: dict[str, float]  # the baseline host's, from its latest calibration
    model: cost.CostModel | None = None
    cost: CostFigures | None = None
    projection: bool = True
    throughput: dict[str, list[Throughput | None]] = field(default_factory=dict)
    slo_ms: float = 1.0  # the cost file's p99 target, else 1 ms
    # per machine: the best capacity configuration within the SLO, and whether any was run
    capacity: list[tuple[dict | None, bool]] = field(default_factory=list)


def analyse(
    machines: list[Machine],
    allow: set[str],
    model: cost.CostModel | None,
    projection: bool = True,
) -> Report:
    workloads, matrix = parity(machines)
    base = machines[0]
    floor = calibrate.noise_floor(base.store, base.run)
    compared = comparisons(machines, allow, floor)
    for machine, result in zip(machines[1:], compared, strict=True):
        if result.nothing_in_common:  # refused as compare refuses it: nothing to report
            raise compare.NotComparableError(
                f"{visible(machine.name)} ({visible(machine.run['run_id'])}) and the baseline "
                f"{visible(base.name)} ({visible(base.run['run_id'])}) have "
                f"{result.refusals[-1]}"
            )
    report = Report(
        machines,
        workloads,
        matrix,
        compared,
        allow,
        floor,
        model,
        projection=projection,
    )
    report.throughput = {w: [throughput(m, w) for m in machines] for w in workloads}
    report.slo_ms = model.target.p99_ms if model else 1.0
    report.capacity = [
        (
            m.capacity_curve(report.slo_ms)[0],
            any(r["mode"] == "capacity" for r in m.summary),
        )
        for m in machines
    ]
    if model is not None:
        report.cost = cost_figures(machines, model, projection)
    return report
