"""What the report says, in order: verdict; machines; parity; speed; latency; scaling; probe
limits; cost; methodology and caveats; reproducibility manifest."""

from __future__ import annotations

import math
import shlex

from bench import compare, summary
from reports import analysis, charts, cost
from reports.document import Bullets, Code, Document, Figure, Heading, Paragraph, Table

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
    ("Python", "python"),
    ("hostname", "hostname"),
)


def rate(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    for size, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def money(value: float | None, currency: str) -> str:
    return "–" if value is None else f"{value:,.0f} {currency}"


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


# ---- sections ----
def verdict(report: analysis.Report) -> list:
    blocks: list = [Heading("Verdict")]
    base = report.machines[0]
    for machine, result in zip(report.machines[1:], report.comparisons, strict=True):
        blocks.append(Paragraph(_speed_verdict(base, machine, result, report), emphasis=True))
    if report.servers:
        blocks.append(Paragraph(_cost_verdict(report), emphasis=True))
    return blocks


def _speed_verdict(
    base: analysis.Machine,
    machine: analysis.Machine,
    result: compare.Comparison,
    report: analysis.Report,
) -> str:
    who = f"{machine.name} (candidate) against {base.name} (baseline)"
    column = report.machines.index(machine)
    bad = ("DIFFERS", "inconsistent")
    differing = [w for w, cells in report.parity.items() if cells[column] in bad or cells[0] in bad]
    if result.outputs_differ or differing:
        names = ", ".join(sorted(set(result.outputs_differ) | set(differing)))
        return (
            f"{who}: NOT SAFE TO MIGRATE — the machines compute different outputs for {names}. "
            "This is a correctness finding; speed is not compared."
        )
    if not result.comparable:
        reasons = result.refusals + (
            [f"software differs in {', '.join(result.not_allowed)} (not allowed)"]
            if result.not_allowed
            else []
        )
        return f"{who}: outputs identical; NO SPEED VERDICT — " + "; ".join(reasons) + "."
    if not result.geomean:
        return f"{who}: outputs identical; no benchmark was run on both, so no speed verdict."
    g, low, high = result.geomean
    better = sum(r.verdict == "better" for r in result.rows)
    worse = sum(r.verdict == "worse" for r in result.rows)
    headline = {
        "faster": f"FASTER: {g:.2f}× the baseline's throughput",
        "slower": f"SLOWER: {g:.2f}× the baseline's throughput",
    }.get(result.suite_verdict or "", f"NO SIGNIFICANT DIFFERENCE in speed ({g:.2f}×)")
    drift = (
        " Every benchmark moved together but none significantly on its own: that is what "
        "host-wide drift between two runs looks like, not evidence."
        if result.suite_verdict == "no significant difference" and not low <= 1 <= high
        else ""
    )
    same = sum(cells[column] == "same" for cells in report.parity.values())
    return (
        f"{who}: {headline}, geometric mean over {len(result.rows)} benchmarks, 95 % confidence "
        f"interval {low:.2f}–{high:.2f}. {better} benchmarks significantly faster, {worse} "
        f"slower, {len(result.rows) - better - worse} without a significant difference "
        f"(Mann–Whitney U, Benjamini–Hochberg at 5 %). Outputs bit-identical on {same} of "
        f"{len(report.parity)} workloads.{drift}"
    )


def _cost_verdict(report: analysis.Report) -> str:
    model = report.model
    assert model is not None
    years = cost.TCO_YEARS[-1]
    base, cand = report.servers[:2]
    need = [cost.servers_needed(s, model.target) for s in (base, cand)]
    target = f"{model.target.decisions_per_s:,.0f} decisions/s at p99 ≤ {model.target.p99_ms:g} ms"
    if None in need:
        missing = [m.name for m, n in zip(report.machines, need, strict=False) if n is None]
        return (
            f"Cost: no fleet verdict for {target}: no measured loan.decide capacity "
            f"configuration of {', '.join(missing)} met the SLO (include loan.decide in the "
            "runs: its capacity benchmarks size the fleet)."
        )
    saving = cost.fleet_saving(model, report.servers, years)
    assert saving is not None
    if saving == 0:
        return f"Cost: for {target}, both fleets cost the same ({need[1]} servers each)."
    cheaper = cand.machine.name if saving > 0 else base.machine.name
    flips = [
        r["input"]
        for r in report.sensitivity
        if (r["low"] > 0) != (saving > 0) or (r["high"] > 0) != (saving > 0)
    ]
    robust = (
        "This holds for ±20 % in every cost input."
        if not flips
        else "The choice FLIPS at ±20 % of: " + ", ".join(flips) + "."
    )
    return (
        f"Cost: for {target}, {cand.machine.name} needs {need[1]} servers and "
        f"{base.machine.name} {need[0]}; the {years}-year fleet TCO is "
        f"{money(cost.fleet_tco(cand, model, years), model.site.currency)} against "
        f"{money(cost.fleet_tco(base, model, years), model.site.currency)}: {cheaper} is "
        f"cheaper by {abs(saving) * 100:.1f} %. {robust}"
    )


def machines(report: analysis.Report) -> list:
    ms = report.machines
    header = ["", *[m.name for m in ms]]
    rows = [
        ["run", *[m.run["run_id"] for m in ms]],
        ["profile, status", *[f"{m.run['profile']}, {m.run['status']}" for m in ms]],
        ["emulated", *["YES: timings invalid" if m.run["emulated"] else "no" for m in ms]],
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
                        f"{k}: {a} → {b}" + (" (allowed)" if k in report.allow else "")
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
            "scale and seed. 'same' means bit-identical."
        ),
        Table(["workload", *[m.name for m in report.machines]], rows),
    ]


def speed(report: analysis.Report) -> list:
    blocks: list = [Heading("Speed: ratios with 95 % confidence intervals")]
    for machine, result in zip(report.machines[1:], report.comparisons, strict=True):
        if not result.rows:
            blocks.append(
                Paragraph(f"{machine.name}: no speed comparison (see the verdict for why).")
            )
            continue
        rows = [(r.benchmark, r.ratio, r.low, r.high, r.verdict) for r in result.rows]
        blocks.append(
            Figure(
                f"forest-{report.machines.index(machine)}",
                charts.forest(rows, f"{machine.name} vs {report.machines[0].name}"),
                f"Throughput ratio per benchmark, {machine.name} / {report.machines[0].name}, "
                "with bootstrap 95 % intervals; green better, red worse, grey no significant "
                "difference.",
            )
        )
        blocks.append(
            Table(
                ["benchmark", "ratio", "95 % CI", "p (BH)", "verdict"],
                [
                    [
                        r.benchmark,
                        f"{r.ratio:.3f}×",
                        f"{r.low:.3f}–{r.high:.3f}",
                        f"{r.p_adjusted:.3g}",
                        r.verdict,
                    ]
                    for r in result.rows
                ],
            )
        )
    blocks += per_core_and_socket(report)
    return blocks


def per_core_and_socket(report: analysis.Report) -> list:
    rows = []
    for w in report.workloads:
        cells = [w]
        for m in report.machines:
            t = analysis.throughput(m, w)
            cells.append(
                "–"
                if t is None
                else f"{rate(t['units_per_s'])}/s at {t['threads']}t; {rate(t['per_core'])}/s per "
                f"core; {rate(t['per_socket'])}/s per socket"
                + (" (extrapolated)" if t["extrapolated"] else "")
            )
        rows.append(cells)
    return [
        Heading("Per core and per socket", 3),
        Paragraph(
            "C engine, batch mode, at the most threads measured. Per core = rate / threads; per "
            "socket = per core × the socket's physical cores (marked extrapolated when fewer "
            "threads ran than the socket has cores)."
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
                "Per-application latency of loan.decide, one application per call through Python.",
            )
        )
    else:
        blocks.append(Paragraph("No online latency was measured in these runs."))
    slo = report.model.target.p99_ms if report.model else 1.0
    rows = []
    for m in report.machines:
        cap = summary.capacity(m.summary, slo)
        measured = any(r["mode"] == "capacity" for r in m.summary)
        rows.append(
            [
                m.name,
                ("no configuration met the SLO" if measured else "not measured in this run")
                if cap is None
                else f"{rate(cap['units_per_s'])} decisions/s",
                "–"
                if cap is None
                else f"{cap['threads']} threads, micro-batches of {cap['batch_size']}, "
                f"p99 {cap['p99_us']:.0f} µs",
            ]
        )
    blocks += [
        Heading(f"Capacity at p99 ≤ {slo:g} ms", 3),
        Paragraph(
            "The highest loan.decide throughput over micro-batch sizes and thread counts whose "
            "p99 micro-batch service time stays within the SLO (closed loop; arrival queueing is "
            "not modelled)."
        ),
        Table(["machine", "capacity", "at"], rows),
    ]
    return blocks


def scaling(report: analysis.Report) -> list:
    curves: dict[str, list] = {}
    rows = []
    for w in report.workloads:
        for m in report.machines:
            points = analysis.scaling(m, w)
            if len(points) > 1:
                curves.setdefault(w, []).append(
                    (m.name, [p[0] for p in points], [p[2] for p in points])
                )
            if points:
                rows.append(
                    [
                        w,
                        m.name,
                        "; ".join(f"{t}t: {rate(r)}/s ({e * 100:.0f} %)" for t, r, e in points),
                    ]
                )
    blocks: list = [Heading("Thread scaling")]
    if curves:
        blocks.append(
            Figure("scaling", charts.scaling(curves), "Parallel efficiency per workload, C engine.")
        )
    blocks.append(Table(["workload", "machine", "rate (efficiency) by threads"], rows))
    return blocks


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
            "compute- or latency-bound; above 100 %: the data fit in cache (a small scale)."
        ),
    ]
    rows = [
        ["machine", "triad GB/s (1 thread)", "random updates/s (1 thread)", "cffi call ns"],
        *[
            [
                m.name,
                f"{(m.probes.get('memory_bandwidth_bytes_per_s_1t') or 0) / 1e9:.1f}",
                rate(m.probes.get("random_updates_per_s_1t")),
                f"{m.probes.get('cffi_call_overhead_ns', math.nan):.0f}",
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


def cost_section(report: analysis.Report) -> list:
    model = report.model
    if model is None:
        return [
            Heading("Cost"),
            Paragraph("No cost file was given (bankbench report --cost FILE): no cost section."),
        ]
    cur = model.site.currency
    servers = report.servers
    header = [
        "",
        *[f"{m.name} ({s.machine.name})" for m, s in zip(report.machines, servers, strict=True)],
    ]

    def row(label, fn):
        return [label, *[fn(s) for s in servers]]

    rows = [
        row("cores, sockets", lambda s: f"{s.cores}, {s.sockets}"),
        row("price", lambda s: money(s.machine.price, cur)),
        row("power at load", lambda s: f"{s.machine.power_w:g} W"),
        row("decisions/s per server", lambda s: rate(s.decisions_per_s)),
        row(
            "decisions/s per core",
            lambda s: rate(s.decisions_per_s and s.decisions_per_s / s.cores),
        ),
        row(
            "decisions/s per socket",
            lambda s: rate(s.decisions_per_s and s.decisions_per_s / s.sockets),
        ),
        row(
            "decisions/s per watt",
            lambda s: rate(s.decisions_per_s and s.decisions_per_s / s.machine.power_w),
        ),
        row(
            f"decisions/s per 1,000 {cur}",
            lambda s: rate(s.decisions_per_s and s.decisions_per_s / s.machine.price * 1000),
        ),
        row("postings/s per server", lambda s: rate(s.postings_per_s)),
        row(
            f"cost per million decisions ({cur})",
            lambda s: _small_money(cost.cost_per_million(s, model.site, s.decisions_per_s)),
        ),
        row(
            f"cost per million postings ({cur})",
            lambda s: _small_money(cost.cost_per_million(s, model.site, s.postings_per_s)),
        ),
        *[
            row(f"annual {k}", lambda s, k=k: money(cost.annual_cost(s, model.site)[k], cur))
            for k in ("capex", "energy", "space", "licences", "maintenance")
        ],
        *[
            row(f"{y}-year TCO per server", lambda s, y=y: money(cost.tco(s, model.site, y), cur))
            for y in cost.TCO_YEARS
        ],
        row(
            f"capacity per server at p99 ≤ {model.target.p99_ms:g} ms",
            lambda s: rate(s.capacity_per_s),
        ),
        row(
            f"servers for {model.target.decisions_per_s:,.0f} decisions/s",
            lambda s: str(cost.servers_needed(s, model.target) or "–"),
        ),
        *[
            row(f"{y}-year fleet TCO", lambda s, y=y: money(cost.fleet_tco(s, model, y), cur))
            for y in cost.TCO_YEARS
        ],
    ]
    blocks: list = [
        Heading("Cost"),
        Paragraph(
            f"Cost model {model.source}: electricity {model.site.electricity_per_kwh:g} {cur}/kWh, "
            f"PUE {model.site.pue:g}, {cost.HOURS_PER_YEAR} h a year. Rates per server are the "
            "measured per-thread rates times the server's cores (an extrapolation when the run "
            "had fewer cores); cost per million units assumes full utilisation."
        ),
        Table(header, rows),
    ]
    if report.sensitivity:
        years = cost.TCO_YEARS[-1]
        saving = cost.fleet_saving(model, servers, years)
        blocks.append(
            Figure(
                "tornado",
                charts.tornado(
                    report.sensitivity,
                    saving or 0.0,
                    f"sensitivity of the {years}-year fleet TCO saving",
                ),
                f"Each input −20 % and +20 % in turn: the candidate's {years}-year fleet TCO "
                "saving over the baseline (negative: the baseline is cheaper). The red line is "
                "break-even.",
            )
        )
        blocks.append(
            Table(
                ["input", "saving at −20 %", "saving at +20 %"],
                [
                    [r["input"], f"{r['low'] * 100:.1f} %", f"{r['high'] * 100:.1f} %"]
                    for r in report.sensitivity
                ],
            )
        )
    return blocks


def _small_money(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def methodology(report: analysis.Report) -> list:
    caveats = []
    for m in report.machines:
        if m.run["emulated"]:
            caveats.append(
                f"{m.name} ran under emulation ({m.fingerprint.get('emulation_reason')}): its "
                "timings are invalid and were not compared."
            )
        if m.run["status"] != "complete":
            caveats.append(
                f"{m.name} is {m.run['status']}: only its completed benchmarks are shown."
            )
        noisy = [r["benchmark"] for r in m.summary if r["cv"] > 0.05 and r["samples"] > 1]
        if noisy:
            caveats.append(
                f"{m.name}: {len(noisy)} benchmarks with a coefficient of variation above 5 % "
                f"(noisy host), e.g. {', '.join(noisy[:3])}."
            )
        if m.fingerprint.get("cpufreq_governor") not in (None, "performance"):
            caveats.append(
                f"{m.name}: cpufreq governor '{m.fingerprint.get('cpufreq_governor')}', not "
                "'performance'."
            )
    for m in report.machines:
        overheads = [r["harness_overhead"] for r in m.summary if r["harness_overhead"] is not None]
        if overheads and max(overheads) > 0.01:
            caveats.append(
                f"{m.name}: the harness added up to {max(overheads) * 100:.1f} % to a measured "
                "time (pytest-benchmark's time over the core's own clock)."
            )
    if report.noise_floor:
        caveats.append(
            f"Differences within {report.machines[0].name}'s calibrated noise floor "
            "(bankbench calibrate) are reported as no significant difference."
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
        Code("\n".join(commands)),
        Paragraph("This report was made by:"),
        Code(
            f"bankbench report {keys}"
            + "".join(
                f" --store {shlex.quote(s)}"
                for s in dict.fromkeys(m.store.location for m in report.machines)
            )
            + "".join(
                f" --cost {shlex.quote(p)}" for p in (report.model.paths if report.model else ())
            )
            + (f" --allow {','.join(sorted(report.allow))}" if report.allow else "")
            + " -o DIR"
        ),
    ]


def build(report: analysis.Report) -> Document:
    names = " vs ".join(m.name for m in report.machines[1:]) + f" against {report.machines[0].name}"
    document = Document("bankbench migration report", names)
    for section in (
        verdict,
        machines,
        parity,
        speed,
        latency,
        scaling,
        probe_limits,
        cost_section,
        methodology,
        manifest,
    ):
        document.add(*section(report))
    return document
