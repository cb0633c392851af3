"""The report's projection to bigger servers is capped by the counted serial share (issue 23,
item 6): never above the Amdahl bound of the workload's serial share (bench/serial_share.py,
`bankbench scaling-bound --write-model`) for the code the run ran, and the text says so."""

import platform
from fractions import Fraction

import pytest

from bench import scaling, serial_share
from bench.serial_share import Bound
from bench.store import Store
from reports import analysis, content, cost, fleet
from reports.document import Paragraph

LINEAR = [(1, 100.0), (1, 100.0), (2, 200.0), (2, 200.0)]  # perfect scaling on 2 cores


def test_a_projection_above_the_bound_is_capped_at_it_and_one_below_is_not():
    uncapped, why = fleet.server_rate(LINEAR, 64, 2, True)
    assert why is None and uncapped is not None and uncapped.value == pytest.approx(6400, rel=0.01)
    assert uncapped.ceiling is None and not uncapped.capped
    share = Fraction(1, 100)
    bound = 1 / (0.01 + 0.99 / 64)  # 39.26×
    capped, why = fleet.server_rate(LINEAR, 64, 2, True, counted=Bound.of_share(share))
    assert why is None and capped is not None and capped.projected
    assert capped.value == pytest.approx(100 * bound) and capped.high <= capped.value
    assert capped.capped and capped.ceiling == pytest.approx(bound)
    assert fleet.bound_words(capped, True) == (
        "capped by the serial-share bound of 39.3× at 64 threads"
    )
    # a curve flatter than the bound keeps its own projection, within the bound
    flat = [(1, 100.0), (2, 150.0), (1, 100.0), (2, 150.0)]
    within, _ = fleet.server_rate(flat, 64, 2, True, counted=Bound.of_share(share))
    assert within is not None and not within.capped and within.value < 100 * bound
    assert within.ceiling == pytest.approx(bound)


def test_a_bound_held_by_its_calls_parts_says_so():
    """A ledger-like workload: 1 % serial, the rest in calls of 8 cells. At 64 cores the
    bound is 100 / (1 + 99/8) = 7.5×, not the 39.3× of the share alone, and the words say
    what holds it; at 4 threads the parts do not bind and the words are the share's."""
    cells = Bound(serial=1, total=100, parallel_by_parts={8: 99})
    capped, why = fleet.server_rate(LINEAR, 64, 2, True, counted=cells)
    assert why is None and capped is not None and capped.capped
    assert capped.ceiling == pytest.approx(100 / (1 + 99 / 8))
    assert fleet.bound_words(capped, True) == (
        "capped by the serial-share bound of 7.5× at 64 threads, its work in calls of at "
        "most 8 parts"
    )
    small, _ = fleet.server_rate(LINEAR, 4, 2, True, counted=cells)
    assert small is not None and small.ceiling_parts is None
    assert fleet.bound_words(small, small.capped).endswith("at 4 threads")


def test_capacity_measured_above_one_thread_grows_at_most_as_the_bound_does():
    # measured at 2 threads only: the cap is 2-thread rate × S(64) / S(2)
    share = Fraction(1, 10)
    rate = scaling.Rate(10_000.0, 9_000.0, 11_000.0, 64, 2, True)
    capped = fleet.amdahl_cap(rate, [(2, 300.0)], 2, Bound.of_share(share))
    s64, s2 = serial_share.amdahl_speedup(share, 64), serial_share.amdahl_speedup(share, 2)
    assert capped.value == pytest.approx(300 * float(s64 / s2)) and capped.capped
    # never below what was measured
    assert fleet.amdahl_cap(rate, [(1, 50.0), (2, 20_000.0)], 2, Bound.of_share(share)).value == (
        10_000.0
    )


def test_the_model_keeps_each_workloads_largest_share_for_the_code_it_counted(tmp_path):
    from workloads import registry

    path = tmp_path / "model.json"
    few_parts = [[2, 1, 2]]  # the 4-thread row's work in calls of 2 parts at most
    rows = [
        serial_share.row("loan.score", 2, {"total": 1000, "serial": 12, "serial_in_parts": 0}, []),
        serial_share.row(
            "loan.score", 4, {"total": 1000, "serial": 10, "serial_in_parts": 0}, few_parts
        ),
    ]
    serial_share.write_model(rows, 0.05, 42, path)
    serial_share.write_model(
        [serial_share.row("loan.limit", 2, {"total": 50, "serial": 1, "serial_in_parts": 0}, [])],
        0.05,
        42,
        path,
    )
    model = serial_share.load_model(path)
    assert set(model["workloads"]) == {"loan.score", "loan.limit"}  # merged, not replaced
    here = registry.get("loan.score").source_sha256()
    # the lowest ceiling at 128 is kept: the 4-thread row's, though its share is lower
    assert serial_share.bound_for(model, "loan.score", here) == (
        Bound(10, 1000, {2: 990}),
        f"at scale 0.05 on {platform.machine()}",
    )
    bound, why = serial_share.bound_for(model, "loan.score", "other")
    assert bound is None and "counted on other C sources" in why
    bound, why = serial_share.bound_for(model, "ledger.post", here)
    assert bound is None and "no counted serial share of ledger.post" in why
    # a model written before the parts were kept bounds by the share alone
    del model["workloads"]["loan.score"]["parallel_by_parts"]
    bound, _ = serial_share.bound_for(model, "loan.score", here)
    assert bound == Bound(10, 1000) and bound.speedup(64) == serial_share.amdahl_speedup(
        Fraction(1, 100), 64
    )


@pytest.fixture
def bounded_report(tmp_path, monkeypatch):
    """Two synthetic runs (tests/test_report.py) of 2 cores, priced as 32 and 64 cores, with
    a counted serial share of 1 % for the decisions workload's code and none for postings."""
    import test_report  # tests/ is on pytest's path

    store = Store(str(tmp_path / "store"))
    test_report.make_run(store, "20261128T000000-aaaaaaaa", "x86-base")
    test_report.make_run(store, "20261128T000001-bbbbbbbb", "arm-cand", speed=1.5)
    cost_file = tmp_path / "cost.toml"
    cost_file.write_text(test_report.COST)
    model = {
        "workloads": {
            "loan.decide": {
                "serial_instructions": 1,
                "instructions": 100,
                "workload_source_sha256": "the run's",
            }
        }
    }
    monkeypatch.setattr(serial_share, "load_model", lambda path=None: model)
    monkeypatch.setattr(
        fleet, "source_sha256", lambda machine, w: "the run's" if w == "loan.decide" else None
    )
    machines = analysis.load(["x86-base", "arm-cand"], [store.location])
    return analysis.analyse(machines, set(), cost.load([str(cost_file)]))


def test_the_reports_projection_never_passes_the_bound_and_says_so(bounded_report):
    arm = bounded_report.cost.servers[1]
    one_thread = arm.decisions_per_core
    bound = 1 / (0.01 + 0.99 / 64)
    # the run scaled linearly: the fit projects ~64× one thread; the bound allows 39.3×
    assert arm.decisions.capped and arm.decisions.value == pytest.approx(one_thread * bound)
    assert arm.decisions.high <= arm.decisions.value + 1e-6
    assert arm.projection_note == (
        "projected from 1 of 64 cores, capped by the serial-share bound of 39.3× at 64 threads"
    )
    document = content.build(bounded_report)
    verdict = [b.text for b in document.blocks if getattr(b, "emphasis", False)][1]
    assert "capped by the serial-share bound of 39.3× at 64 threads" in verdict
    assert "capped by the serial-share bound of 24.4× at 32 threads" in verdict  # x86's 32
    bounds = next(
        b.text
        for b in document.blocks
        if isinstance(b, Paragraph) and b.text.startswith("Projection bounds: ")
    )
    assert (
        "arm-cand, decisions per server: projection, capped by the serial-share bound of "
        "39.3× at 64 threads." in bounds
    )
    # postings have no counted share for this code: projected, and said to be unbounded
    assert "arm-cand, postings per server: projection, not bounded: no counted" in bounds
