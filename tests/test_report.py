"""bankbench report: the cost model, the three formats, escaping, refusals, bad input."""

import datetime
import json
import math
import os
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest

from bench import cli, compare, scaling, summary
from bench.store import Store
from reports import analysis, content, cost, fleet, numbers, render, verdict, write
from reports.document import Bullets, Figure, Heading, Paragraph, Table, Tile, Tiles
from workloads.errors import InputError

HOSTILE = "<script>alert(1)</script>"
COST = """
[site]
currency = "CNY"
electricity_per_kwh = 1.0
pue = 1.5

[target]
decisions_per_s = 1000000
p99_ms = 1.0

[machine.x86]
match = "x86*"
price = 100000
power_w = 500
rack_units = 2
amortization_years = 5
maintenance_pct_per_year = 10
licence_per_core_per_year = 100
cores = 32
sockets = 1

[machine.arm]
match = "arm*"
price = 80000
power_w = 400
rack_units = 2
amortization_years = 5
maintenance_pct_per_year = 10
licence_per_core_per_year = 100
cores = 64
sockets = 1
"""


def _run_record(run_id, label, hostname, emulated=False, profile="standard"):
    fingerprint = {
        "arch": "x86_64",
        "hostname": hostname,
        "cpu_model": "test cpu",
        "physical_cores": 2,
        "logical_cpus": 2,
        "sockets": 1,
        "python": "3.11",
        "emulated": emulated,
        "emulation_reason": "qemu-user" if emulated else None,
    }
    build = {"compiler": "12", "flags": "-O2", "label": "portable", "source_sha256": "s"}
    now = datetime.datetime(2026, 11, 28, tzinfo=datetime.timezone.utc)
    return {
        "run_id": run_id,
        "label": label,
        "status": "complete",
        "started_at": now,
        "finished_at": now,
        "profile": profile,
        "command_line": f"bankbench run --label {label}",
        "bankbench_version": "0.1.0",
        "git_commit": None,
        "emulated": emulated,
        "cpu_model": "test cpu",
        "fingerprint_json": json.dumps(fingerprint),
        "build_json": json.dumps(build),
        "probes_json": json.dumps(
            {
                "memory_bandwidth_bytes_per_s_1t": 1e10,
                "memory_bandwidth_bytes_per_s_2t": 1.5e10,
                "parallel_call_ns_2t": 1_500.0,
                "parallel_call_ns_8t": 90_000.0,
                "handover_round_trip_ns": 6_000.0,
                "dispatch_cpus": 2,
                "dispatch_floor_ns_8t": 21_000.0,
            }
        ),
    }


def _benchmarks(speed, digests, scaling=1.0):
    """(name, fields, median seconds) of a small synthetic run; batch time ∝ 1 / threads **
    ``scaling`` (1: linear; below 0: more threads are slower)."""
    quantiles = [1000 + 10 * i for i in range(104)]
    out = []
    for workload in ("loan.decide", "ledger.post"):
        for threads in (1, 2):
            out.append(
                (
                    f"{workload}[c-{threads}t-1.0]",
                    {
                        "workload": workload,
                        "engine": "c",
                        "threads": threads,
                        "mode": "batch",
                        "units": 100_000,
                        "io_bytes": 10_000_000,
                        "digest": digests.get(workload, "d-" + workload),
                    },
                    0.1 / threads**scaling / speed,
                )
            )
    out.append(
        (
            "loan.decide[c-online-1t-1.0]",
            {
                "workload": "loan.decide",
                "engine": "c",
                "threads": 1,
                "mode": "online",
                "units": 1000,
                "latency_ns_p99": 2000,
                "latency_ns_quantiles": quantiles,
                "digest": digests.get("loan.decide", "d-loan.decide"),
            },
            0.01 / speed,
        )
    )
    for batch, p99_ns in ((1, 5_000), (256, 800_000), (4096, 5_000_000)):
        out.append(
            (
                f"loan.decide[c-capacity-1t-1.0-batch{batch}]",
                {
                    "workload": "loan.decide",
                    "engine": "c",
                    "threads": 1,
                    "mode": "capacity",
                    "batch_size": batch,
                    "units": 100_000,
                    "latency_ns_p99": p99_ns,
                },
                1.0 / batch**0.5 / speed,
            )
        )
    return out


def make_run(
    store,
    run_id,
    label,
    hostname="host",
    speed=1.0,
    digests=None,
    emulated=False,
    profile="standard",
    seed=42,
    counted=None,
    scaling=1.0,
):
    """``counted="instructions"``: as ``run --measure instructions`` stores it, timed under
    Valgrind (slow and harness-heavy, as measured there) with callgrind's counts per call;
    ``"counters"``: times with (made-up) hardware counts alongside."""
    run = _run_record(run_id, label, hostname, emulated, profile)
    store.write_run(run)
    rng = np.random.default_rng(int(run_id[-8:], 16))
    for name, fields, median in _benchmarks(speed, digests or {}, scaling):
        rows = [
            {
                "run_id": run_id,
                "benchmark": name,
                "scale": 1.0,
                "seed": seed,
                "round": i,
                "seconds": median * (1 + 0.01 * rng.standard_normal()),
                **fields,
            }
            for i in range(9)
        ]
        for row in rows if counted else []:
            if counted == "instructions":
                row["seconds"] *= 50  # Valgrind's clock, not the machine's
                row["inner_seconds"] = row["seconds"] / 40
            row.update(
                measure=counted,
                instructions=row["units"] * 180,
                branch_misses=row["units"],
                l1d_misses=row["units"] * 2,
                llc_misses=row["units"] // 10,
                counts_source="callgrind",
                counts_scope="core",
                counts_unknown="no cycles in a simulator",
            )
        store.write_samples(run, name, rows)
    return run


@pytest.fixture
def cost_file(tmp_path):
    path = tmp_path / "cost.toml"
    path.write_text(COST)
    return str(path)


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "store"))
    make_run(s, "20261128T000000-aaaaaaaa", "x86-base", hostname=HOSTILE)
    make_run(s, "20261128T000001-bbbbbbbb", "arm-$cand$ | *x*", speed=1.5)
    return s


def _document(store, cost_file=None, keys=("x86-base", "arm-$cand$ | *x*")):
    model = cost.load([cost_file]) if cost_file else None
    machines = analysis.load(list(keys), [store.location])
    return content.build(analysis.analyse(machines, set(), model))


# ---- cost model ----
def test_cost_arithmetic_by_hand(cost_file):
    model = cost.load([cost_file])
    server = cost.Server(model.machines["x86"], 32, 1, 2e6, 1e6, 250_000.0)
    annual = cost.annual_cost(server, model.site)
    assert annual["energy"] == pytest.approx(0.5 * 8766 * 1.0 * 1.5)  # kW × h × price × PUE
    assert annual["capex"] == 20_000 and annual["maintenance"] == 10_000
    assert annual["licences"] == 3200
    running = annual["energy"] + 10_000 + 3200
    assert cost.tco(server, model.site, 3) == pytest.approx(100_000 + 3 * running)
    assert cost.tco(server, model.site, 6) == pytest.approx(200_000 + 6 * running)  # 2 purchases
    assert cost.servers_needed(server, model.target) == 4  # 1e6 / 250k
    yearly = sum(annual.values())
    assert cost.cost_per_million(server, model.site, 2e6) == pytest.approx(
        yearly / (2e6 * cost.SECONDS_PER_YEAR) * 1e6
    )


def test_sensitivity_names_the_inputs_that_flip_the_choice(cost_file):
    model = cost.load([cost_file])
    x86 = cost.Server(model.machines["x86"], 32, 1, None, None, 100_000.0)
    arm = cost.Server(model.machines["arm"], 64, 1, None, None, 104_000.0)
    saving = cost.fleet_saving(model, [x86, arm], 5)
    assert saving is not None and saving > 0  # 10 arm servers against 10 x86 ones, cheaper
    rows = cost.sensitivity(model, [x86, arm], 5)
    swings = [abs(r["high"] - r["low"]) for r in rows]
    assert swings == sorted(swings, reverse=True)
    capacity = next(r for r in rows if r["input"] == "capacity (arm)")
    assert capacity["low"] < 0 < capacity["high"]  # −20 %: arm needs 13 servers and loses


@pytest.mark.parametrize(
    "edit, message",
    [
        (("price = 100000\n", ""), "[machine.x86]: missing field 'price'"),
        (("power_w = 500", "power_w = -5"), "[machine.x86]: field 'power_w' must be positive"),
        (("pue = 1.5", "pue = 0.9"), "[site]: field 'pue' must be at least 1"),
        (
            ("maintenance_pct_per_year = 10\nlicence", "maintenance_pct_per_year = -1\nlicence"),
            "field 'maintenance_pct_per_year' must be at least 0",
        ),
        (('currency = "CNY"', ""), "[site]: missing field 'currency'"),
        (("rack_units = 2", 'rack_units = "two"'), "field 'rack_units' must be a number"),
        (("cores = 32", "cores = 32.5"), "field 'cores' must be a whole number"),
        (("[target]", "[targets]"), "missing table [target]"),
        (("pue = 1.5", "pue = 1.5\npeu = 2"), "[site]: unknown field 'peu'"),
        (("pue = 1.5", "pue = "), "not valid TOML"),
    ],
)
def test_bad_cost_file_names_the_field(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(COST.replace(*edit, 1))
    with pytest.raises(InputError) as error:
        cost.load([str(path)])
    assert message in str(error.value) and "\n" not in str(error.value)


def test_cost_files_merge_and_refuse_duplicates(tmp_path):
    site, machines = COST.split("[machine.x86]")
    (tmp_path / "site.toml").write_text(site)
    (tmp_path / "machines.toml").write_text("[machine.x86]" + machines)
    model = cost.load([str(tmp_path / "site.toml"), str(tmp_path / "machines.toml")])
    assert set(model.machines) == {"x86", "arm"}
    with pytest.raises(InputError, match=r"\[machine.arm\] is defined twice"):
        cost.load([str(tmp_path / "machines.toml")] * 2 + [str(tmp_path / "site.toml")])


def test_a_run_matching_no_machine_class_is_named(store, cost_file, tmp_path):
    path = tmp_path / "one.toml"
    path.write_text(COST.replace('match = "arm*"', 'match = "nothing"'))
    with pytest.raises(InputError, match="matches no \\[machine"):
        _document(store, str(path))


# ---- analysis ----
def test_capacity_is_the_best_rate_within_the_slo(store):
    base = analysis.load(["x86-base", "arm-$cand$ | *x*"], [store.location])[0]
    cap = summary.capacity(base.summary, slo_ms=1.0)
    assert cap["batch_size"] == 256 and cap["p99_us"] == 800  # 4096 breaks the SLO
    assert summary.capacity(base.summary, slo_ms=0.001) is None
    scaling = analysis.scaling_points(base, "loan.decide")
    assert [p.threads for p in scaling] == [1, 2]
    assert scaling[1].efficiency == pytest.approx(1.0, rel=0.05)
    assert analysis.probe_fraction(base, "ledger.post") == pytest.approx(
        10_000_000 / 0.05 / 1.5e10, rel=0.05
    )


def test_verdict_speed_parity_and_cost(store, cost_file):
    document = _document(store, cost_file)
    verdicts = [b.text for b in document.blocks if getattr(b, "emphasis", False)]
    assert (
        re.search(r"FASTER: .* does 1\.(49|50|51)× the baseline's work", verdicts[0])
        and "bit-identical on 2 of 2 workloads" in verdicts[0]
    )
    # the runs measured 2 cores; the classes have 32 and 64: every server figure is projected
    assert verdicts[1].startswith(
        "Cost, PROJECTED (x86-base: projected from 1 of 32 cores; arm-$cand$ | *x*: projected "
        "from 1 of 64 cores): for 1,000,000 decisions/s at p99 ≤ 1 ms"
    )


def _tiles(document) -> list[Tile]:
    return next(b for b in document.blocks if isinstance(b, Tiles)).tiles


def _cost_table(document) -> dict[str, list[str]]:
    start = next(i for i, b in enumerate(document.blocks) if getattr(b, "text", "") == "Cost")
    table = next(b for b in document.blocks[start:] if isinstance(b, Table))
    return {row[0]: row[1:] for row in table.rows}


def test_every_projected_figure_is_marked_and_the_cost_sentence_is_the_table(store, cost_file):
    document = _document(store, cost_file)
    verdict = [b.text for b in document.blocks if getattr(b, "emphasis", False)][1]
    table = _cost_table(document)
    projected_rows = [
        "decisions/s per server",
        "decisions/s per watt",
        "postings/s per server",
        "cost per million decisions (CNY)",
        "capacity per server at p99 ≤ 1 ms",
        "servers for 1,000,000 decisions/s",
        "5-year fleet cost",
    ]
    for label in projected_rows:
        assert all(cell.endswith("(projected)") for cell in table[label]), (label, table[label])
    per_core = ("decisions/s per core (1 thread, measured)", "price", "annual energy")
    for label in (*per_core, "5-year cost per server"):
        assert not any("projected" in cell for cell in table[label])
    # the sentence quotes the table's cells, word for word
    for cell in table["servers for 1,000,000 decisions/s"] + table["5-year fleet cost"]:
        assert cell in verdict, (cell, verdict)
    # and page one's fleet tile quotes the same fleet costs, uncut; its risks say projected
    fleet_tile = next(t for t in _tiles(document) if t.label == "5-year fleet")
    assert not fleet_tile.sentence.endswith("…")
    for cell in table["5-year fleet cost"]:
        assert cell.split(" (projected)")[0].split(" [")[0] in fleet_tile.sentence
    risks = next(b for b in document.blocks if isinstance(b, Bullets)).items
    assert any(
        r.startswith("Projected: yes — x86-base: projected from 1 of 32 cores") for r in risks
    )
    # the figure is a projection from the measured scaling (here linear: 0.1 s / threads),
    # with the fit's uncertainty
    figures = analysis.analyse(
        analysis.load(["x86-base", "arm-$cand$ | *x*"], [store.location]),
        set(),
        cost.load([cost_file]),
    ).cost
    arm = figures.servers[1]
    assert arm.decisions.projected and arm.decisions.measured_threads == 2
    assert arm.decisions.serial_fraction == pytest.approx(0, abs=0.01)
    assert arm.decisions.low < arm.decisions.value <= arm.decisions.high


def test_no_projection_withholds_the_cost_verdict(store, cost_file):
    model = cost.load([cost_file])
    machines = analysis.load(["x86-base", "arm-$cand$ | *x*"], [store.location])
    document = content.build(analysis.analyse(machines, set(), model, projection=False))
    verdict = [b.text for b in document.blocks if getattr(b, "emphasis", False)][1]
    assert verdict.startswith("Cost: NO COST VERDICT") and "--no-projection" in verdict
    table = _cost_table(document)
    assert table["decisions/s per server"] == ["withheld", "withheld"]
    assert table["5-year fleet cost"] == ["–", "–"]
    assert not any("(projected)" in c for cells in table.values() for c in cells)
    tiles = {t.label: t.value for t in _tiles(document)}
    assert tiles["CNY per million decisions"] == "withheld"
    assert tiles["Servers for 1,000,000 decisions/s"] == "withheld"


def test_a_class_the_runs_measured_is_not_projected(store, tmp_path):
    path = tmp_path / "two.toml"
    path.write_text(COST.replace("cores = 32", "cores = 2").replace("cores = 64", "cores = 2"))
    document = _document(store, str(path))
    verdict = [b.text for b in document.blocks if getattr(b, "emphasis", False)][1]
    # decisions and postings were measured at 2 threads; capacity only at 1: scaled as the
    # batch decisions scale, and said so
    assert verdict.startswith("Cost, PROJECTED (x86-base: projected from 1 of 2 cores;")
    table = _cost_table(document)
    for label in (
        "decisions/s per server",
        "postings/s per server",
        "decisions/s per core (1 thread, measured)",
    ):
        assert not any("projected" in c for c in table[label])
    assert all(c.endswith("(projected)") for c in table["capacity per server at p99 ≤ 1 ms"])


def _figures_by_machine(document) -> dict[str, dict[str, set[str]]]:
    """Each machine's per core, per server and capacity as page one, the cost table and the
    detail tables state them: {figure: {where: text}}; one definition gives one text each."""
    table = _cost_table(document)
    tiles = {t.label: t for t in _tiles(document)}
    blocks = document.blocks
    per_core = next(
        b
        for i, b in enumerate(blocks)
        if isinstance(b, Table) and blocks[i - 2].text == "Per core and per socket"
    )
    capacity = next(b for b in blocks if isinstance(b, Table) and "per server" in b.header)
    found: dict[str, dict[str, set[str]]] = {}
    detail_decisions = next(r for r in per_core.rows if r[0] == "loan decisions")
    for i in range(2):
        figures = found.setdefault(
            str(i), {"per core": set(), "per server": set(), "capacity": set()}
        )
        figures["per core"].add(table["decisions/s per core (1 thread, measured)"][i])
        figures["per core"].add(detail_decisions[1 + i].split("/s per core")[0])
        figures["per server"].add(table["decisions/s per server"][i])
        figures["per server"].add(detail_decisions[1 + i].split("; ")[-1].split(" per server")[0])
        sentence = tiles["CNY per million decisions"].sentence
        figures["per server"].add(
            sentence.split("utilisation, at ")[1].split(" vs ")[i].split(" decisions/s")[0]
        )
        figures["capacity"].add(table["capacity per server at p99 ≤ 1 ms"][i])
        figures["capacity"].add(capacity.rows[i][3].split(" decisions/s")[0])
        sentence = tiles["Servers for 1,000,000 decisions/s"].sentence
        figures["capacity"].add(
            sentence.split(", at ")[-1].split(" vs ")[i].split(" decisions/s")[0]
        )
    return found


def test_each_figure_has_one_value_per_machine_everywhere(store, cost_file):
    """Per core, per server and capacity read the same on page one, in the cost table and in
    the detail tables (issue: 3.32 k per core projected beside 315 k/s measured per core)."""
    document = _document(store, cost_file)
    for machine, figures in _figures_by_machine(document).items():
        for name, texts in figures.items():
            assert len(texts) == 1, (machine, name, texts)
    # per core is the measured one-thread rate (100,000 units in 0.1 s, the candidate 1.5×),
    # per server at least that
    machines, model = _machines_and_model(store, cost_file)
    figures = analysis.analyse(machines, set(), model).cost
    per_core = [m.per_core("loan.decide") for m in machines]
    assert per_core[0] == pytest.approx(1e6, rel=0.03)
    assert per_core[1] == pytest.approx(1.5e6, rel=0.03)
    table = _cost_table(document)
    assert table["decisions/s per core (1 thread, measured)"] == [numbers.rate(v) for v in per_core]
    assert all(f.decisions.low >= v for f, v in zip(figures.servers, per_core, strict=True))


def test_thread_scaling_says_what_each_machine_pays_per_parallel_call_and_its_floor(store):
    blocks = _document(store).blocks
    start = next(i for i, b in enumerate(blocks) if getattr(b, "text", None) == "Thread scaling")
    end = next(i for i, b in enumerate(blocks) if i > start and isinstance(b, Heading))
    said = [b.text for b in blocks[start:end] if isinstance(b, Paragraph)]
    for machine in ("x86-base", "arm-$cand$ | *x*"):
        (line,) = [t for t in said if t.startswith(f"{machine}: empty parallel call")]
        assert "2t 1.50µs, 8t 90.00µs" in line and "2 CPUs" in line and line.endswith("8t 21.00µs")


def _machines_and_model(store, cost_file):
    return analysis.load(["x86-base", "arm-$cand$ | *x*"], [store.location]), cost.load([cost_file])


def test_no_projected_rate_falls_below_a_measured_one(store, cost_file):
    machines, model = _machines_and_model(store, cost_file)
    figures = analysis.analyse(machines, set(), model).cost
    for machine, f in zip(machines, figures.servers, strict=True):
        for rate, curve in (
            (f.decisions, machine.curve("loan.decide")),
            (f.postings, machine.curve("ledger.post")),
        ):
            best = max(np.median([r for t, r in curve if t == u]) for u in {t for t, _ in curve})
            assert rate.projected and rate.low >= best and rate.value >= best
    # a fit through a noisy two-thread sample lands below the best median; the figure does not
    points = [(1, 100.0)] * 5 + [(2, r) for r in (104.0, 40.0, 105.0, 106.0, 103.0)]
    assert scaling.at(points, 64, 2).value < 104
    rate, why = fleet.server_rate(points, 64, 2, projection=True)
    assert why is None and rate.value >= 104 and rate.low >= 104


def test_a_projection_from_slower_threads_or_a_wide_range_is_withheld(tmp_path, cost_file):
    """More threads did less work: no projection, the reason instead, on page one, in the
    cost table and the verdict; a projection spanning more than the stated factor likewise."""
    s = Store(str(tmp_path / "s"))
    make_run(s, "20261128T000000-aaaaaaaa", "x86-base", scaling=-0.3)
    make_run(s, "20261128T000001-bbbbbbbb", "arm-cand", speed=1.5)
    document = _document(s, cost_file, keys=("x86-base", "arm-cand"))
    table = _cost_table(document)
    assert table["decisions/s per server"][0] == "withheld"
    assert table["decisions/s per server"][1].endswith("(projected)")
    assert table["capacity per server at p99 ≤ 1 ms"][0] == "withheld"
    assert table["servers for 1,000,000 decisions/s"][0] == "–"
    tiles = {t.label: t for t in _tiles(document)}
    assert tiles["Servers for 1,000,000 decisions/s"].value == "withheld"
    assert "2 threads did" in tiles["Servers for 1,000,000 decisions/s"].sentence
    verdict = [b.text for b in document.blocks if getattr(b, "emphasis", False)][1]
    assert verdict.startswith("Cost: NO COST VERDICT") and "not projected" in verdict
    noisy = [(1, r) for r in (100, 50, 150, 80, 120)] + [(2, r) for r in (160, 90, 250, 130, 200)]
    rate, why = fleet.server_rate(noisy, 64, 2, projection=True)
    assert rate is None and f"more than {fleet.MAX_PROJECTION_SPREAD:g}×" in why
    # the same curve for a server the run measured is a measurement, never withheld
    rate, why = fleet.server_rate(noisy, 2, 2, projection=True)
    assert why is None and not rate.projected


def test_page_one_answers_and_one_chart_then_the_detail(store, cost_file):
    document = _document(store, cost_file)
    split = next(i for i, b in enumerate(document.blocks) if getattr(b, "new_page", False))
    page_one, detail = document.blocks[:split], document.blocks[split:]
    labels = [t.label for t in _tiles(document)]
    assert labels == [
        "Which machine",
        "How sure",
        "Same results?",
        "CNY per million decisions",
        "CNY per million postings",
        "Servers for 1,000,000 decisions/s",
        "5-year fleet",
    ]
    assert [type(b) for b in page_one].count(Figure) == 1
    risks = next(b for b in page_one if isinstance(b, Bullets)).items
    assert [r.split(" ")[0] for r in risks[:3]] == ["Outputs", "Emulated:", "Projected:"]
    # the chart: one C-engine batch row per workload, at the most threads run on real cores
    machines, model = _machines_and_model(store, cost_file)
    report = analysis.analyse(machines, set(), model)
    rows = verdict.headline_rows(report, machines[1], report.comparisons[0])
    keys = [dict(zip(compare.KEY, r.key, strict=True)) for _, r in rows]
    assert sorted(k["workload"] for k in keys) == ["ledger.post", "loan.decide"]
    assert all(k["engine"] == "c" and k["mode"] == "batch" and k["threads"] == 2 for k in keys)
    assert any(isinstance(b, Figure) and b.name.startswith("forest") for b in detail)


def test_smoke_runs_are_insufficient_evidence(tmp_path):
    s = Store(str(tmp_path / "s"))
    make_run(s, "20261128T000000-aaaaaaaa", "x86-base", profile="smoke")
    make_run(s, "20261128T000001-bbbbbbbb", "arm-cand", profile="smoke", speed=1.01)
    document = _document(s, keys=("x86-base", "arm-cand"))
    verdict = next(b.text for b in document.blocks if getattr(b, "emphasis", False))
    assert "INSUFFICIENT EVIDENCE" in verdict and "NO SIGNIFICANT DIFFERENCE" not in verdict
    sure = next(b.text for b in document.blocks if getattr(b, "text", "").startswith("How sure"))
    assert "smoke run" in sure
    which = _tiles(document)[0]
    assert (which.label, which.value) == ("Which machine", "not known")


def test_an_abandoned_run_is_named_in_the_title_and_the_verdict(tmp_path):
    s = Store(str(tmp_path / "s"))
    make_run(s, "20261128T000000-aaaaaaaa", "x86-base")
    cand = make_run(s, "20261128T000001-bbbbbbbb", "arm-cand", speed=1.01)
    s.write_run({**cand, "status": "abandoned"})
    document = _document(s, keys=("x86-base", "arm-cand"))
    assert document.subtitle == "arm-cand (ABANDONED) against x86-base"
    verdict = next(b.text for b in document.blocks if getattr(b, "emphasis", False))
    assert "INCOMPLETE: the candidate (20261128T000001-bbbbbbbb) is abandoned" in verdict
    assert "NO SIGNIFICANT DIFFERENCE" not in verdict


def test_a_report_of_a_run_with_itself_is_refused(store):
    with pytest.raises(InputError, match="named twice"):
        _document(store, keys=("x86-base", "x86-base"))


def test_different_outputs_are_a_correctness_finding(tmp_path):
    s = Store(str(tmp_path / "s"))
    make_run(s, "20261128T000000-aaaaaaaa", "x86-base")
    make_run(s, "20261128T000001-bbbbbbbb", "arm-cand", digests={"ledger.post": "other"})
    document = _document(s, keys=("x86-base", "arm-cand"))
    verdict = next(b.text for b in document.blocks if getattr(b, "emphasis", False))
    assert "NOT SAFE TO MIGRATE" in verdict and "ledger.post" in verdict
    assert "loan.decide" not in verdict.split("outputs for")[1]


def test_an_emulated_run_gets_no_speed_verdict(tmp_path):
    s = Store(str(tmp_path / "s"))
    make_run(s, "20261128T000000-aaaaaaaa", "x86-base")
    make_run(s, "20261128T000001-bbbbbbbb", "arm-qemu", emulated=True)
    document = _document(s, keys=("x86-base", "arm-qemu"))
    verdict = next(b.text for b in document.blocks if getattr(b, "emphasis", False))
    assert "NO SPEED VERDICT" in verdict and "emulated" in verdict


@pytest.mark.parametrize("baseline_counted", [True, False])
def test_runs_timed_under_valgrind_give_no_speed_rate_capacity_or_overhead(
    tmp_path, baseline_counted
):
    """Two `--measure instructions` runs of one code (A/A) read "1.50x the baseline's work
    per second", per-core rates and a harness overhead of thousands of percent: Valgrind's
    clock. As an emulated run: no speed verdict, with the reason; a time run against a
    counted one likewise; the "why" table of counts stays."""
    s = Store(str(tmp_path / "s"))
    make_run(
        s, "20261128T000000-aaaaaaaa", "base", counted="instructions" if baseline_counted else None
    )
    make_run(s, "20261128T000001-bbbbbbbb", "cand", speed=1.5, counted="instructions")
    document = _document(s, keys=("base", "cand"))
    verdict = next(b.text for b in document.blocks if getattr(b, "emphasis", False))
    assert "NO SPEED VERDICT" in verdict
    assert "counting instructions under Valgrind" in verdict and "not the machine's" in verdict
    assert ("the baseline" in verdict) == baseline_counted and "the candidate" in verdict
    assert "1.50" not in verdict
    markdown = render.to_markdown(document, None)[0].replace("\\", "")  # unescaped
    assert "cand: the harness added" not in markdown
    per_core = [line for line in markdown.splitlines() if line.startswith("| loan decisions |")]
    assert per_core[0].endswith("| – |")  # no rate for cand
    assert "| loan decisions | cand |" not in markdown  # nor a scaling curve
    assert ("/s per core" in markdown) != baseline_counted  # a timed baseline keeps its rates
    assert "decisions/s (" not in markdown  # no capacity line either
    caveat = "under Valgrind: its timings are not the machine's and were not compared"
    assert markdown.count(caveat) == 1 + baseline_counted  # one caveat per counted run
    if baseline_counted:  # both counted: the why table compares their counts
        assert "Why: instructions, cycles and misses per unit of work" in markdown


@pytest.mark.parametrize("measure", ["instructions", "counters"])
def test_show_of_a_counted_run_prints_its_counts(tmp_path, capsys, measure):
    """An instruction run: the counts instead of Valgrind's times (which read "harness
    overhead 3866 %"), and no thread scaling from Valgrind's clock (it read "45 %, SLOWER at 2
    threads than at 1"); a counters run: its times, its scaling and its counts."""
    s = Store(str(tmp_path / "s"))
    make_run(s, "20261128T000000-aaaaaaaa", "counted", counted=measure)
    assert cli.main(["show", "counted", "--store", s.location]) == 0
    out = capsys.readouterr().out
    assert "instr/unit" in out and "180.00" in out
    timed = measure == "counters"
    assert ("throughput" in out) == timed and ("capacity at p99" in out) == timed
    assert "harness overhead" not in out
    assert ("thread scaling, efficiency" in out) == timed
    assert ("2-thread efficiency of each C workload" in out) == timed
    assert ("counted under Valgrind (--measure instructions)" in out) != timed


def test_show_of_a_counted_run_of_one_thread_count_says_nothing_of_scaling(tmp_path, capsys):
    """A counted run with no thread count above 1 had no scaling to leave out: its counts,
    and no line about scaling."""
    s = Store(str(tmp_path / "s"))
    make_run(s, "20261128T000000-aaaaaaaa", "all", counted="instructions")
    one = [r for r in s.samples(["20261128T000000-aaaaaaaa"]).to_pylist() if r["threads"] == 1]
    run = _run_record("20261128T000001-bbbbbbbb", "one", "host", False, "standard")
    s.write_run(run)
    for name in {r["benchmark"] for r in one}:
        rows = [{**r, "run_id": run["run_id"]} for r in one if r["benchmark"] == name]
        s.write_samples(run, name, rows)
    assert cli.main(["show", "one", "--store", s.location]) == 0
    out = capsys.readouterr().out
    assert "instr/unit" in out
    assert "thread scaling" not in out and "2-thread efficiency" not in out


# ---- the three formats ----
def test_report_writes_html_pdf_markdown_with_hostile_text_escaped(store, cost_file, tmp_path):
    out = tmp_path / "report"
    written = write.report(
        ["x86-base", "arm-$cand$ | *x*"], [store.location], [cost_file], set(), str(out)
    )
    html = (out / "report.html").read_text()
    markdown = (out / "report.md").read_text()
    assert set(written) == {"html", "md", "pdf"}
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html.lower()
    assert "&lt;script>alert(1)&lt;/script>" in markdown and "<script" not in markdown
    assert "arm-\\$cand\\$ \\| \\*x\\*" in markdown  # Markdown's markup is text too
    assert html.count("data:image/png;base64,") >= 4 and "http" not in html.split("<body>")[1]
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    charts = sorted(p.name for p in (out / "charts").iterdir())
    assert "forest-1.png" in charts and "tornado.png" in charts
    order = [
        h
        for h in (
            "Verdict",
            "The machines",
            "Output parity",
            "Speed",
            "Latency",
            "Thread scaling",
            "Against each machine",
            "Cost",
            "Methodology",
            "Reproducibility",
        )
    ]
    positions = [html.index(f"<h2>{h}") for h in order]
    assert positions == sorted(positions)


def _tool(*names: str) -> str:
    """The path of an external tool (the first of ``names`` found); the test skips without
    it, or fails in CI (where .ci/run installs it and sets BANKBENCH_REQUIRE_REPORT_TOOLS)."""
    path = next((p for p in map(shutil.which, names) if p), None)
    if path is None:
        if os.environ.get("BANKBENCH_REQUIRE_REPORT_TOOLS"):
            pytest.fail(f"{names[0]} is required here but not installed")
        pytest.skip(f"{names[0]} not installed")
    return path


def _tool_env() -> dict:
    """The environment for an external tool: without the sanitizer runtime preloaded for our
    own core (tox -e sanitize), which Chromium does not survive."""
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def test_pdf_renders_to_pages(store, cost_file, tmp_path):
    pdf = render.to_pdf(_document(store, cost_file))
    (tmp_path / "r.pdf").write_bytes(pdf)
    subprocess.run(
        [_tool("pdftoppm"), "-r", "20", "-png", str(tmp_path / "r.pdf"), str(tmp_path / "page")],
        check=True,
        capture_output=True,
        env=_tool_env(),
    )
    assert len(list(tmp_path.glob("page-*.png"))) >= 3
    # page one is procurement's answer whole; the detail starts on page two
    pages = [
        subprocess.run(
            [_tool("pdftotext"), "-f", str(n), "-l", str(n), str(tmp_path / "r.pdf"), "-"],
            check=True,
            capture_output=True,
            text=True,
            env=_tool_env(),
        ).stdout
        for n in (1, 2)
    ]
    for answer in ("WHICH MACHINE", "HOW SURE", "CNY PER MILLION POSTINGS", "5-YEAR FLEET"):
        assert answer in pages[0]
    assert "Risks" in pages[0] and "For engineers" not in pages[0]
    assert pages[1].lstrip().startswith("For engineers")


def test_html_opens_in_headless_chromium_without_console_errors(store, cost_file, tmp_path):
    (tmp_path / "r.html").write_text(render.to_html(_document(store, cost_file)))
    result = subprocess.run(
        [
            _tool("chromium", "chromium-browser", "google-chrome"),  # GitHub images: Chrome
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            (tmp_path / "r.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=_tool_env(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "bankbench migration report" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # shown as text ...
    assert "<script" not in dom.lower()  # ... never an element
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console


# ---- the command ----
def test_report_command_and_its_errors(store, cost_file, tmp_path, capsys):
    out = tmp_path / "r"
    args = ["report", "x86-base", "arm-$cand$ | *x*", "--store", store.location, "-o", str(out)]
    assert cli.main([*args, "--cost", cost_file]) == 0
    assert "report.pdf" in capsys.readouterr().out
    assert cli.main(["report", "x86-base", "nope", "--store", store.location, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "run 'nope' is not in the store" in err and "x86-base" in err
    assert err.count("\n") == 1
    bad = tmp_path / "bad.toml"
    bad.write_text(COST.replace("price = 80000", "price = -1"))
    before = (out / "report.html").read_bytes()
    assert cli.main([*args, "--cost", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "[machine.arm]: field 'price' must be positive, got -1" in err
    assert (out / "report.html").read_bytes() == before  # a failed report changes nothing
    assert cli.main(["report", "x86-base", "--store", store.location, "-o", str(out)]) == 2
    assert "at least two runs" in capsys.readouterr().err


def test_numbers_format_for_people():
    assert numbers.rate(1_234_567) == "1.23 M" and numbers.rate(None) == "–"
    assert numbers.rate(math.nan) == "–" and numbers.money(1234.5, "CNY") == "1,234 CNY"


def test_show_prints_the_capacity_at_the_slo(store, capsys):
    assert cli.main(["show", "x86-base", "--store", store.location, "--slo", "1"]) == 0
    out = capsys.readouterr().out
    assert "capacity at p99 ≤ 1 ms: 1,6" in out and "micro-batches of 256" in out
    assert cli.main(["show", "x86-base", "--store", store.location, "--slo", "0.001"]) == 0
    assert "no configuration met the SLO" in capsys.readouterr().out


def test_the_example_cost_file_prices_two_real_classes_by_architecture():
    model = cost.load([str(pathlib.Path(cost.__file__).parent / "example-cost.toml")])
    x86 = model.machine_for({"run_id": "r", "label": "any"}, {"arch": "x86_64"})
    arm = model.machine_for({"run_id": "r", "label": "any"}, {"arch": "aarch64"})
    assert (x86.cores, x86.sockets, arm.cores, arm.sockets) == (64, 2, 128, 2)
    assert x86.name != arm.name and "kunpeng" in arm.name
    with pytest.raises(InputError, match="matches no"):
        model.machine_for({"run_id": "r", "label": "any"}, {"arch": "riscv64"})


def test_report_refuses_runs_with_nothing_in_common_as_compare_does(tmp_path, capsys):
    """Another seed shares no benchmark: exit 4 with one error line naming the seed, no
    report claiming identical outputs on nothing compared."""
    store = Store(str(tmp_path / "store"))
    make_run(store, "20261128T000000-aaaaaaaa", "s7", seed=7)
    make_run(store, "20261128T000001-bbbbbbbb", "s42")
    out = tmp_path / "out"
    args = ["report", "s7", "s42", "--store", store.location, "-o", str(out)]
    assert cli.main(args) == cli.EXIT_NOT_COMPARABLE
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("bankbench: error:")]
    assert len(errors) == 1 and "no benchmark in common" in errors[0]
    assert "differ in seed (7 vs 42)" in errors[0]
    assert not out.exists()


def test_page_one_says_yes_only_when_every_workload_was_checked_on_both(store, cost_file):
    """A candidate that ran 1 of the baseline's workloads must not read "SAME RESULTS? YES"
    on page one: the big word says how many were checked."""
    machines, model = _machines_and_model(store, cost_file)
    report = analysis.analyse(machines, set(), model)
    assert _same_results_tile(report).value == "YES"
    checked = len(report.parity)
    report.parity["loan.unchecked"] = ["baseline", ""]  # ran on the baseline only
    tile = _same_results_tile(report)
    assert tile.value == f"{checked} OF {checked + 1}"
    assert f"on {checked} of {checked + 1} workloads" in tile.sentence


def _same_results_tile(report) -> Tile:
    return next(t for t in verdict.speed_tiles(report) if t.label.startswith("Same results?"))


def test_the_pdfs_last_section_the_manifest_is_never_split_across_pages():
    """Wherever the report's text before it ends on a page, the reproducibility manifest (the
    last section: heading, table, the commands) sits on one page: no line of it alone on the
    last page (pdftotext, one page per form feed)."""
    from reports.document import Code, Document

    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext not installed")
    manifest = [
        Heading("Reproducibility manifest"),
        Table(["machine", "run"], [["a", "20261204T000000-aaaaaaaa"], ["b", "2026-b"]]),
        Paragraph("Each run was made by:"),
        Code(["bankbench run -p smoke --label a", "bankbench run -p smoke --label b"]),
        Paragraph("This report was made by:"),
        Code(["bankbench report a b --store results -o DIR"]),
    ]
    split = []
    for items in range(30, 62):  # the text before it ends 4.6 mm lower each time
        document = Document("t", "s", [Bullets([f"item {i}" for i in range(items)]), *manifest])
        pages = (
            subprocess.run(
                [pdftotext, "-", "-"],
                input=render.to_pdf(document),
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .split("\f")
        )
        [first] = [i for i, page in enumerate(pages) if "Reproducibility manifest" in page]
        [last] = [i for i, page in enumerate(pages) if "-o DIR" in page]
        if first != last:
            split.append(items)
    assert split == [], f"the manifest was split across pages after {split} items"


def test_page_one_names_a_software_difference_that_was_not_allowed(tmp_path):
    """Page one and the verdict say which software differs and that it was not allowed, as
    one sentence each (was: a bare '; allocator.' after the refusals)."""
    s = Store(str(tmp_path / "store"))
    make_run(s, "20261128T000000-aaaaaaaa", "x86-base")
    candidate = make_run(s, "20261128T000001-bbbbbbbb", "x86-kept", speed=1.5)
    fingerprint = {**json.loads(candidate["fingerprint_json"]), "allocator": "kept"}
    s.write_run({**candidate, "fingerprint_json": json.dumps(fingerprint)})
    machines = analysis.load(["x86-base", "x86-kept"], [s.location])
    document = content.build(analysis.analyse(machines, set(), None))
    which = next(t for t in _tiles(document) if t.label.startswith("Which machine"))
    assert which.value == "not compared"
    assert which.sentence == "No speed verdict: software differs in allocator (not allowed)."
    allowed = content.build(analysis.analyse(machines, {"allocator"}, None))
    assert next(t for t in _tiles(allowed) if t.label.startswith("Which machine")).value != (
        "not compared"
    )


@pytest.mark.parametrize("value", ["1e300", "inf", "-1e16"])
def test_a_cost_figure_beyond_any_real_one_is_refused(tmp_path, value):
    """decisions_per_s = 1e300 put a 300-digit number on page one."""
    path = tmp_path / "cost.toml"
    text = COST.replace("decisions_per_s = 1000000", f"decisions_per_s = {value}")
    assert text != COST
    path.write_text(text)
    with pytest.raises(InputError, match="decisions_per_s' must be"):
        cost.load([str(path)])
