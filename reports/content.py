"""What the report says, in order: verdict; machines; parity; speed; latency; scaling; probe
limits; cost (reports/cost_section.py); methodology and caveats; reproducibility manifest."""

from __future__ import annotations

import math
import shlex

from bench import compare, summary
from bench.scaling import dispatch_line, host_compute, pairs_range, stored_ns, stored_rate
from bench.text import plural
from reports import analysis, charts, cost_section, fleet, open_loop, verdict, why
from reports.document import Bullets, Code, Document, Figure, Heading, Paragraph, Table
from reports.numbers import (
    rate,
    rate_figure,
    server_rate_figure,
)

MACHINE_FACTS = (
    ("CPU", "cpu_model"),
    ("architecture", "arch"),
    ("MIDR implementer/part", None),
    ("sockets", "sockets"),
    ("physical cores", "physical_cores"),
    ("logical CPUs", "logical_cpus"),
    ("threads per core", "threads_per_core"),
    ("memory", "memory_bytes"),
    ("page size", "page_size_bytes"),
    ("transparent huge pages", "transparent_hugepages"),
    ("cpufreq governor", "cpufreq_governor"),
    ("kernel", "kernel"),
    ("OS", "os"),
    ("libc", "libc"),
    ("allocator", "allocator"),
    ("worker pool", "pool"),
    ("Python", "python"),
    ("hostname", "hostname"),
)


def _fact(fingerprint: dict, key: str | None) -> str:
    if key is None:
        implementer, part = fingerprint.get("midr_implementer"), fingerprint.get("midr_part")
        return f"{implementer}/{part}" if implementer else "–"
    value = fingerprint.get(key)
    if key == "memory_bytes" and value:
        return f"{value / 2**30:.1f} GiB"
    if key == "page_size_bytes" and value:
        return f"{value // 1024} KiB"
    return "unknown" if value is None else str(value)


def machines(report: analysis.Report) -> list:
    ms = report.machines
    header = ["", *[m.name for m in ms]]
    rows = [
        ["run", *[m.run["run_id"] for m in ms]],
        ["profile, status", *[f"{m.run['profile']}, {m.run['status']}" for m in ms]],
        [
            "emulated",
            *["YES: timings invalid" if compare.ran_emulated(m.run) else "no" for m in ms],
        ],
        [
            "measured by",
            *[
                "instruction counts (Valgrind): timings invalid"
                if m.timed_under_valgrind
                else "time"
                for m in ms
            ],
        ],
    ]
    rows += [[label, *[_fact(m.fingerprint, key) for m in ms]] for label, key in MACHINE_FACTS]
    rows += [
        ["compiler", *[str(m.build.get("compiler")) for m in ms]],
        ["build", *[f"{m.build.get('label')}: {m.build.get('flags')}" for m in ms]],
    ]
    differences = [r[0] for r in rows[3:] if len(set(r[1:])) > 1]
    blocks: list = [
        Heading("The machines"),
        Table(header, rows),
        Paragraph(
            "Differences: " + (", ".join(differences) if differences else "none recorded") + "."
        ),
    ]
    for result in report.comparisons:
        if result.differences:
            blocks.append(
                Bullets(
                    [
                        f"{k}: {' → '.join(compare.difference(a, b))}"
                        + (" (allowed)" if k in report.allow else "")
                        for k, (a, b) in result.differences.items()
                    ]
                )
            )
    return blocks


def parity(report: analysis.Report) -> list:
    rows = [[w, *[c or "not run" for c in cells]] for w, cells in report.parity.items()]
    return [
        Heading("Output parity"),
        Paragraph(
            "Each workload's output digest (SHA-256 over the canonical Arrow columns) on each "
            "machine, across its engines and thread counts, against the baseline's at the same "
            "scale and seed. 'same' means bit-identical; 'baseline' means the baseline's own "
            "engines and thread counts agree."
        ),
        Table(["workload", *[m.name for m in report.machines]], rows),
    ]


def speed(report: analysis.Report) -> list:
    blocks: list = [Heading("Speed: ratios with 95 % confidence intervals")]
    base = report.machines[0]
    for machine, result in zip(report.machines[1:], report.comparisons, strict=True):
        if not result.rows:
            blocks.append(
                Paragraph(f"{machine.name}: no speed comparison (see the verdict for why).")
            )
            continue
        rows = [(analysis.describe_row(r), r.ratio, r.low, r.high, r.verdict) for r in result.rows]
        blocks.append(
            Figure(
                f"forest-{report.machines.index(machine)}",
                charts.forest(rows, f"{machine.name} against {base.name}"),
                f"Work per second, {machine.name} / {base.name}, per benchmark, with 95 % "
                "confidence intervals (log scale; right of 1: the candidate is faster).",
            )
        )
        blocks.append(
            Table(
                ["benchmark", "ratio", "95 % CI", "p (BH)", "verdict", "id"],
                [
                    [
                        analysis.describe_row(r),
                        f"{r.ratio:.3f}×",
                        r.interval(),
                        "< 0.001" if r.p_adjusted < 0.001 else f"{r.p_adjusted:.3f}",
                        r.verdict,
                        r.benchmark,
                    ]
                    for r in result.rows
                ],
                small_columns=(5,),
            )
        )
        for side, names in (
            ("baseline", result.only_baseline),
            ("candidate", result.only_candidate),
        ):
            if names:
                blocks.append(
                    Paragraph(
                        f"Ran on the {side} only, not compared ({plural(len(names), 'benchmark')}"
                        f"): {', '.join(names)}."
                    )
                )
    blocks += per_core_and_socket(report)
    return blocks


def per_core_and_socket(report: analysis.Report) -> list:
    rows = []
    servers = report.cost.servers if report.cost else []
    priced = fleet.priced_workloads()
    for w in report.workloads:
        cells = [analysis.workload_words(w)]
        for i, t in enumerate(report.throughput.get(w, [])):
            if t is None:
                cells.append("–")
                continue
            socket = rate_figure(t.per_socket, unit="/s")
            cells.append(
                f"{rate(t.per_core)}/s per core; {socket} per socket; "
                f"{rate(t.units_per_s)}/s at {plural(t.threads, 'thread')}"
                + (  # the cost table's figure, for the class priced
                    f"; {server_rate_figure(servers[i], priced[w])} per server of "
                    f"{plural(servers[i].server.cores, 'core')}"
                    if servers and w in priced
                    else ""
                )
            )
        rows.append(cells)
    return [
        Heading("Per core and per socket", 3),
        Paragraph(
            "C engine, batch mode. Per core: the one-thread rate (one thread keeps one core "
            "busy). Per socket: the rate at as many threads as a socket has physical cores — "
            "measured when the run used that many, otherwise projected from the run's own "
            "thread scaling (Amdahl's law fitted to its samples) and marked (projected)."
        ),
        Table(["workload", *[m.name for m in report.machines]], rows),
    ]


def latency(report: analysis.Report) -> list:
    series = [
        (f"{m.name} ({engine})", q)
        for m in report.machines
        for engine, q in sorted(analysis.latency_quantiles(m).items())
    ]
    blocks: list = [Heading("Latency")]
    if series:
        blocks.append(
            Figure(
                "latency-cdf",
                charts.latency_cdf(series),
                "Per-request latency of the online benchmark, one request per call through "
                "Python: how long one customer waits for an answer.",
            )
        )
    else:
        blocks.append(Paragraph("No online latency was measured in these runs."))
    slo = report.slo_ms
    rows = []
    servers = report.cost.servers if report.cost else []
    for i, (m, (cap, measured)) in enumerate(zip(report.machines, report.capacity, strict=True)):
        rows.append(
            [
                m.name,
                ("no configuration met the SLO" if measured else "not measured in this run")
                if cap is None
                else f"{rate(cap['units_per_s'])} decisions/s",
                "–"
                if cap is None
                else f"{plural(cap['threads'], 'thread')}, micro-batches of "
                f"{cap['batch_size']:,}, p99 {cap['p99_us']:,.0f} µs",
                *(  # the cost table's figure, for the class priced
                    [
                        f"{server_rate_figure(servers[i], 'capacity')} decisions/s per server of "
                        f"{plural(servers[i].server.cores, 'core')}"
                    ]
                    if servers
                    else []
                ),
            ]
        )
    blocks.append(Heading(f"Capacity at p99 ≤ {slo:g} ms", 3))
    if not any(cap is not None or measured for cap, measured in report.capacity):
        # runs of workloads without a capacity benchmark (a plugin's, say): nothing to name
        blocks.append(Paragraph("No capacity benchmark was measured in these runs."))
        return blocks
    blocks += [
        Paragraph(
            f"The highest {fleet.priced('decisions') or 'decisions'} throughput over "
            "micro-batch sizes and thread counts whose "
            "p99 micro-batch service time stays within the SLO (closed loop; arrival queueing is "
            "not modelled)."
        ),
        Table(
            ["machine", "measured on this host", "at", *(["per server"] if servers else [])],
            rows,
        ),
    ]
    return blocks


def _scaling_point(p) -> str:
    """One point of the scaling table: its rate and efficiency, and the threads it ran on
    when its work split into fewer parts than it asked for."""
    ran_on = (
        f" (ran on {p.threads_used}: {summary.SPLITS_NO_FURTHER})"
        if p.threads_used is not None and p.threads_used < p.threads
        else ""
    )
    efficiency = "no 1-thread run" if math.isnan(p.efficiency) else f"{p.efficiency * 100:.0f} %"
    measured = f"{rate(p.units_per_s)}/s ({efficiency})"
    return f"{plural(p.threads, 'thread')}{ran_on}: {measured}"


def scaling(report: analysis.Report) -> list:
    """Strong scaling (the work fixed) and, where a run measured it, weak scaling (the work
    per thread fixed: ``bankbench run --scaling weak|both``), side by side per workload."""
    curves: dict[str, list] = {}
    weak_curves: dict[str, list] = {}
    rows = []
    for w in report.workloads:
        for m in report.machines:
            points = analysis.scaling_points(m, w)
            weak = analysis.weak_scaling_points(m, w)
            words = analysis.workload_words(w)
            for points_of, shown in ((points, curves), (weak, weak_curves)):
                if len(points_of) > 1:
                    shown.setdefault(words, []).append(
                        (m.name, [p.threads for p in points_of], [p.efficiency for p in points_of])
                    )
            if points or weak:
                rows.append(
                    [
                        words,
                        m.name,
                        *(
                            "; ".join(_scaling_point(p) for p in curve) or "not measured"
                            for curve in (points, weak)
                        ),
                    ]
                )
    blocks: list = [Heading("Thread scaling")]
    if curves or weak_curves:
        blocks.append(
            Figure(
                "scaling",
                charts.scaling(curves, weak_curves),
                "Parallel efficiency per workload, C engine, rate(t) / (t × rate(1)). Strong "
                "(solid): the same work on more threads, 100 % means twice the threads did it "
                "in half the time. Weak (dotted, open markers): each thread gets the run's "
                "scale of work, 100 % means twice the threads did twice the work in the same "
                "time — how a server holds up as a bank grows. A point whose work was too small "
                "to split over every thread asked for is judged over the threads it ran on "
                "(the table names them).",
            )
        )
    blocks.append(
        Table(
            [
                "workload",
                "machine",
                "strong: rate (efficiency) by threads",
                "weak: rate (efficiency) by threads",
            ],
            rows,
        )
    )
    if not weak_curves:
        blocks.append(
            Paragraph(
                "No run measured weak scaling (bankbench run --scaling both times each C "
                "workload at the scale times the threads as well)."
            )
        )
    # what each point pays before any work: a call not many times longer cannot scale
    for m in report.machines:
        dispatch = dispatch_line(m.probes)
        if dispatch:
            blocks.append(Paragraph(f"{m.name}: {dispatch}"))
    return blocks


def _shown(value: float | None, unit: float, spec: str) -> str:
    """A stored probe's value times ``unit`` in ``spec``; "–" where the store holds none."""
    return "–" if value is None else format(value * unit, spec)


def _compute_ceiling(probes: dict) -> str:
    """Shared-nothing compute's 2-thread efficiency on the machine (its probe), with the
    lowest and the highest pair's: what the CPUs give 2 threads before any workload runs."""
    host = host_compute(probes)
    if host is None:
        return "–"
    swing = pairs_range(host)
    return f"{host['median'] * 100:.0f} %" + (f" (pairs {swing})" if swing else "")


def probe_limits(report: analysis.Report) -> list:
    fractions = {
        w: [analysis.probe_fraction(m, w) for m in report.machines] for w in report.workloads
    }
    shown = {w: f for w, f in fractions.items() if any(v is not None for v in f)}
    blocks: list = [
        Heading("Against each machine's limits"),
        Paragraph(
            "Each workload's minimum memory traffic (its input and output Arrow bytes) at the "
            "measured rate, as a fraction of the machine's STREAM-triad bandwidth at the same "
            "thread count. Near 100 %: memory-bound, more cores will not help; far below: "
            "compute- or latency-bound; above 100 %: the data fit in cache (a small scale). "
            "The compute column is the CPUs' own 2-thread ceiling: shared-nothing integer work "
            "on 2 threads against twice one thread, in alternating pairs; a server with a core "
            "per thread gives about 100 %, a VM whose vCPUs share cores or a busy host less."
        ),
    ]
    rows = [
        [
            "machine",
            "triad GB/s (1 thread)",
            "random updates/s (1 thread)",
            "cffi call ns",
            "compute at 2 threads (host ceiling)",
        ],
        *[
            [
                m.name,
                _shown(stored_rate(m.probes.get("memory_bandwidth_bytes_per_s_1t")), 1e-9, ".1f"),
                rate(stored_rate(m.probes.get("random_updates_per_s_1t"))),
                _shown(stored_ns(m.probes.get("cffi_call_overhead_ns")), 1, ".0f"),
                _compute_ceiling(m.probes),
            ]
            for m in report.machines
        ],
    ]
    blocks.append(Table(rows[0], rows[1:]))
    if shown:
        percent = {w: [math.nan if v is None else v * 100 for v in f] for w, f in shown.items()}
        series = [(m.name, [percent[w][i] for w in shown]) for i, m in enumerate(report.machines)]
        blocks.append(
            Figure(
                "probe-fraction",
                charts.grouped_bars(
                    list(shown),
                    series,
                    "% of triad bandwidth",
                    "memory traffic as a share of the machine's bandwidth",
                ),
                "Share of the memory-bandwidth limit each workload reaches (C engine, most "
                "threads).",
            )
        )
        blocks.append(
            Table(
                ["workload", *[m.name for m in report.machines]],
                [
                    [w, *["–" if math.isnan(v) else f"{v:.1f} %" for v in values]]
                    for w, values in percent.items()
                ],
            )
        )
    return blocks


def methodology(report: analysis.Report) -> list:
    caveats = []
    for m in report.machines:
        if compare.ran_emulated(m.run):
            caveats.append(
                f"{m.name} ran under emulation ({m.fingerprint.get('emulation_reason')}): its "
                "timings are invalid and were not compared."
            )
        if m.timed_under_valgrind:
            caveats.append(
                f"{m.name} was measured by counting instructions under Valgrind: its timings "
                "are not the machine's and were not compared; its counts are in the table of "
                "instructions per unit."
            )
        if m.run["status"] != "complete":
            caveats.append(
                f"{m.name} is {m.run['status']}: only its completed benchmarks are shown."
            )
        noisy = analysis.noisy_benchmarks(m)
        if noisy:
            caveats.append(
                f"{m.name}: {plural(len(noisy), 'benchmark')} whose samples vary by more than "
                f"{analysis.NOISY_CV * 100:.0f} % (a noisy host), e.g. {', '.join(noisy[:3])}."
            )
        if m.fingerprint.get("cpufreq_governor") not in (None, "performance"):
            caveats.append(
                f"{m.name}: cpufreq governor '{m.fingerprint.get('cpufreq_governor')}', not "
                "'performance'."
            )
    for m in report.machines:
        overhead = analysis.harness_overhead(m)
        if overhead is not None and overhead > 0.01:
            caveats.append(
                f"{m.name}: the harness added up to {overhead * 100:.1f} % to a measured "
                "time (pytest-benchmark's time over the core's own clock)."
            )
    calibrated = [r.calibrated for r in report.comparisons]
    if any(calibrated):
        compared = [len(r.rows) for r in report.comparisons]
        caveats.append(
            f"Differences within {report.machines[0].name}'s calibrated noise floor "
            "(bankbench calibrate) are reported as no significant difference; "
            + ", ".join(
                f"{c} of {plural(n, 'compared benchmark')}"
                for c, n in zip(calibrated, compared, strict=True)
            )
            + " had a calibration."
        )
    else:
        caveats.append(
            f"No calibration of {report.machines[0].name} in its store: between-run drift is "
            "not measured (run bankbench calibrate on the baseline host)."
        )
    for result in report.comparisons:
        allowed = [k for k in result.differences if k in report.allow]
        if allowed:
            caveats.append("Software differences allowed by name: " + ", ".join(allowed) + ".")
    return [
        Heading("Methodology and caveats"),
        Bullets(
            [
                "Every benchmark runs the same generated inputs (seeded; generation is not timed) "
                "on each engine; each round's output digest is recorded, and speed is compared "
                "only where the digests agree.",
                "Ratio = baseline median time / candidate median time (> 1: candidate faster). "
                f"Interval: percentile bootstrap, {compare.BOOTSTRAP_RESAMPLES} resamples. Test: "
                "Mann–Whitney U, two-sided, Benjamini–Hochberg across all rows; a row is better "
                "or worse only when significant at 5 % and its interval excludes 1.",
                "Suite score: geometric mean of the ratios, with a bootstrap interval over all "
                "benchmarks resampled together. Results are estimates, not SPEC results.",
                "Runs are refused for timing when emulated, when the C sources differ, or when "
                "software differs and was not allowed by name.",
                "Per core: the one-thread rate. Per socket and per server: the rate at that many "
                "physical cores, measured where a run used that many threads on as many cores; "
                "otherwise projected with Amdahl's law, rate(n) = rate(1) · n / (1 + s · (n − 1)), "
                "the serial fraction s fitted by least squares to the run's samples on real "
                "cores, its 95 % range from the fit's standard error. A projection assumes the "
                "larger server's cores are as fast as the measured ones and that memory and "
                "latency keep up; it is marked (projected) wherever it appears, never falls "
                "below the best rate measured, never above the Amdahl bound of the workload's "
                "serial share counted in instructions, each parallel call held to the most "
                "parts it splits into (a ledger call, its 8 cells; bankbench scaling-bound: "
                "capped there and said so), is not made from a run where more threads did "
                "less work than fewer, and is withheld, with the reason, when its range spans "
                "more than "
                f"{fleet.MAX_PROJECTION_SPREAD:g}×.",
            ]
        ),
        Heading("Caveats", 3),
        Bullets(caveats or ["None recorded."]),
    ]


def manifest(report: analysis.Report) -> list:
    rows = [
        [
            m.name,
            m.run["run_id"],
            str(m.run["bankbench_version"]),
            str(m.run["git_commit"] or "–"),
            str(m.build.get("source_sha256") or "–")[:16],
            str(m.build.get("cffi_version")),
            m.store.location,
        ]
        for m in report.machines
    ]
    commands = [m.run["command_line"] or "" for m in report.machines]
    keys = " ".join(shlex.quote(m.run["run_id"]) for m in report.machines)
    return [
        Heading("Reproducibility manifest"),
        Table(
            ["machine", "run", "bankbench", "git commit", "C sources (sha256)", "cffi", "store"],
            rows,
        ),
        Paragraph("Each run was made by:"),
        Code(commands),
        Paragraph("This report was made by:"),
        Code(
            [
                f"bankbench report {keys}"
                + "".join(
                    f" --store {shlex.quote(s)}"
                    for s in dict.fromkeys(m.store.location for m in report.machines)
                )
                + "".join(
                    f" --cost {shlex.quote(p)}"
                    for p in (report.model.paths if report.model else ())
                )
                + (f" --allow {','.join(sorted(report.allow))}" if report.allow else "")
                + (" --no-projection" if not report.projection else "")
                + " -o DIR"
            ]
        ),
    ]


def build(report: analysis.Report) -> Document:
    def name(m: analysis.Machine) -> str:
        status = m.run.get("status") or "complete"
        return m.name if status == "complete" else f"{m.name} ({status.upper()})"

    names = " vs ".join(map(name, report.machines[1:])) + f" against {name(report.machines[0])}"
    document = Document("bankbench migration report", names)
    for section in (
        verdict.page_one,
        verdict.section,
        machines,
        parity,
        speed,
        why.section,
        latency,
        open_loop.section,
        scaling,
        probe_limits,
        cost_section.section,
        methodology,
        manifest,
    ):
        document.add(*section(report))
    return document
