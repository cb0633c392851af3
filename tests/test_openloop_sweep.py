"""The sweep and the capacity on a simulated M/M/1 queue (service rate MU_PER_S): the grid
follows the peak it is given, bisection closes on the SLO's rate to 2 %, capacity never
comes from a point that fell behind or, silently, from a flagged one; bootstrap intervals."""

from __future__ import annotations

import math
import types

import pytest

from bench.openloop import capacity as capacities
from bench.openloop import sweep
from bench.openloop.driver import PointResult
from workloads.errors import InputError

MU_PER_S = 100_000.0
SLO_NS = 1_000_000  # 1 ms


def mm1_point(workload, *, offered_per_s, requests, threads, seed, scale, flags=()):
    """An M/M/1 queue's sojourn p99, ln(100)/(μ−λ); past μ it falls behind (saturated,
    achieved = μ) and its p99 is what a backlog of the whole point would wait."""
    mu = MU_PER_S * threads
    saturated = offered_per_s >= mu
    if saturated:
        p99_ns = int(requests / mu * 1e9)
    else:
        p99_ns = int(math.log(100) / (mu - offered_per_s) * 1e9)
    return PointResult(
        workload=workload,
        threads=threads,
        requests=requests,
        offered_per_s=offered_per_s,
        achieved_per_s=min(offered_per_s, mu),
        latency_ns={
            "p50": p99_ns // 6,
            "p90": p99_ns // 2,
            "p99": p99_ns,
            "p999": p99_ns,
            "p9999": p99_ns,
            "max": p99_ns,
        },
        histogram="",
        p99_first_half_ns=p99_ns,
        p99_second_half_ns=p99_ns,
        idle_lateness_p99_ns=0,
        driver_overhead_ns=30.0,
        fastest_service_ns=1000,
        schedule_digest="0" * 64,
        saturated=saturated,
        flags=tuple(flags),
    )


def mm1_peak(workload, *, threads, seed, scale, **service):
    return MU_PER_S * threads


def run_sweep(threads=1, **options):
    return sweep.run(
        "loan.decide",
        threads=threads,
        slo_ns=SLO_NS,
        requests=100_000,
        seed=1,
        scale=0.01,
        measure_point=options.pop("measure_point", mm1_point),
        peak=options.pop("peak", mm1_peak),
        **options,
    )


@pytest.mark.parametrize("threads", [1, 2])
def test_grid_follows_the_peak_of_its_thread_count(threads):
    result = run_sweep(threads)
    grid = [p.offered_per_s for p in result.points[: sweep.GRID_POINTS_MIN]]
    peak = MU_PER_S * threads
    assert result.peak_per_s == peak
    assert len(grid) == sweep.GRID_POINTS_MIN
    assert grid[0] <= 0.2 * peak + 1e-6 and grid[-1] >= 1.1 * peak
    assert any(p.saturated for p in result.points)
    assert any(not p.saturated for p in result.points)


def test_bisection_closes_on_the_slo_rate_within_two_percent():
    result = run_sweep()
    # M/M/1: p99 = SLO at λ = μ − ln(100)/SLO
    exact = MU_PER_S - math.log(100) / (SLO_NS / 1e9)
    found = capacities.capacity(result.points, SLO_NS)
    assert found is not None and found.offered_per_s <= exact
    assert found.offered_per_s >= exact * (1 - 2 * sweep.BISECTION_TOLERANCE)
    edges = sweep.bracket(list(result.points), SLO_NS)
    assert edges[1] - edges[0] <= sweep.BISECTION_TOLERANCE * edges[0]
    assert len(result.points) > sweep.GRID_POINTS_MIN  # bisection measured points


def test_every_point_reaches_on_point_as_it_finishes():
    seen = []
    result = run_sweep(on_point=lambda point, peak: seen.append((point, peak)))
    assert [p for p, _ in seen] == list(result.points)
    assert {peak for _, peak in seen} == {MU_PER_S}


def test_an_interrupted_sweep_has_handed_over_its_finished_points():
    seen = []

    def interrupted(workload, **point):
        if len(seen) == 3:
            raise KeyboardInterrupt
        return mm1_point(workload, **point)

    with pytest.raises(KeyboardInterrupt):
        run_sweep(measure_point=interrupted, on_point=lambda p, peak: seen.append(p))
    assert len(seen) == 3


def test_capacity_skips_a_point_that_fell_behind_even_within_the_slo():
    behind = mm1_point(
        "loan.decide", offered_per_s=50_000.0, requests=10, threads=1, seed=1, scale=0.01
    )
    behind = PointResult(**{**behind.__dict__, "achieved_per_s": 40_000.0})
    kept = mm1_point(
        "loan.decide", offered_per_s=20_000.0, requests=10, threads=1, seed=1, scale=0.01
    )
    found = capacities.capacity([behind, kept], SLO_NS)
    assert found.offered_per_s == 20_000.0 and found.from_flagged == ()


def test_capacity_from_flagged_points_only_when_no_other_and_says_so():
    def point(rate, flags=()):
        return mm1_point(
            "loan.decide",
            offered_per_s=rate,
            requests=10,
            threads=1,
            seed=1,
            scale=0.01,
            flags=flags,
        )

    found = capacities.capacity([point(20_000.0), point(60_000.0, ("host jitter",))], SLO_NS)
    assert found.offered_per_s == 20_000.0 and found.from_flagged == ()
    found = capacities.capacity([point(60_000.0, ("host jitter",))], SLO_NS)
    assert found.offered_per_s == 60_000.0 and found.from_flagged == ("host jitter",)
    assert capacities.capacity([point(200_000.0)], SLO_NS) is None


def test_a_load_meeting_the_slo_above_one_that_missed_it_is_not_capacity():
    def point(rate, p99_ns):
        made = mm1_point(
            "loan.decide", offered_per_s=rate, requests=10, threads=1, seed=1, scale=0.01
        )
        return PointResult(**{**made.__dict__, "latency_ns": {**made.latency_ns, "p99": p99_ns}})

    # an adversarial check's run: 20 % to 80 % of the peak missed the SLO in host stalls, one
    # load above them met it: the sweep has no capacity, not that lucky one
    stalled = [point(r, 4 * SLO_NS) for r in (10_000.0, 20_000.0, 30_000.0)]
    assert capacities.capacity([*stalled, point(40_000.0, SLO_NS // 10)], SLO_NS) is None
    found = capacities.capacity(
        [point(5_000.0, SLO_NS // 10), *stalled, point(40_000.0, SLO_NS // 10)], SLO_NS
    )
    assert found.offered_per_s == 5_000.0


def test_capacity_is_at_most_the_highest_achieved_rate():
    result = run_sweep(2)
    found = capacities.capacity(result.points, SLO_NS)
    assert found.per_s <= capacities.max_achieved_per_s(result.points)
    slightly_behind = PointResult(
        **{**result.points[0].__dict__, "achieved_per_s": result.points[0].offered_per_s * 0.995}
    )
    found = capacities.capacity([slightly_behind], SLO_NS)
    assert found.per_s == slightly_behind.achieved_per_s < found.offered_per_s


def test_bootstrap_intervals_hold_the_mean_and_the_ratio():
    low, high = capacities.interval([90.0, 100.0, 110.0])
    assert low < 100.0 < high and 90.0 <= low and high <= 110.0
    assert capacities.interval([100.0]) is None
    assert capacities.interval([5.0, 5.0, 5.0]) == (5.0, 5.0)
    ratio, (low, high) = capacities.ratio_interval([200.0, 210.0, 190.0], [100.0, 95.0, 105.0])
    assert ratio == pytest.approx(2.0) and low < 2.0 < high
    assert capacities.ratio_interval([2.0], [1.0, 1.0]) == (2.0, None)


@pytest.mark.parametrize("peak", [0.0, -1.0, float("nan"), float("inf")])
def test_a_peak_that_is_not_a_rate_is_refused(peak):
    with pytest.raises(InputError):
        sweep.grid_per_s(peak)


def test_fewer_than_eight_points_are_refused():
    with pytest.raises(InputError):
        sweep.grid_per_s(1000.0, 7)


def test_a_peak_that_understates_extends_the_sweep_until_a_point_saturates():
    def understated(workload, *, threads, seed, scale, **service):
        return MU_PER_S * threads / 2  # the grid's top, 120 % of this, keeps up

    result = run_sweep(peak=understated)
    grid = result.points[: sweep.GRID_POINTS_MIN]
    assert not any(p.saturated for p in grid)
    assert any(p.saturated for p in result.points)
    found = capacities.capacity(result.points, SLO_NS)
    assert found.offered_per_s > grid[-1].offered_per_s


def test_a_noisy_miss_at_a_low_load_does_not_stop_the_bisection():
    def stalled_at_first(workload, **point):
        found = mm1_point(workload, **point)
        if point["offered_per_s"] < 0.25 * MU_PER_S:  # a host stall at the lowest load
            return PointResult(
                **{
                    **found.__dict__,
                    "latency_ns": {**found.latency_ns, "p99": 10 * SLO_NS},
                    "flags": ("host jitter",),  # the driver saw the stall
                }
            )
        return found

    result = run_sweep(measure_point=stalled_at_first)
    exact = MU_PER_S - math.log(100) / (SLO_NS / 1e9)
    found = capacities.capacity(result.points, SLO_NS)
    assert exact * (1 - 2 * sweep.BISECTION_TOLERANCE) <= found.offered_per_s <= exact


def test_a_stall_that_saturates_a_low_load_does_not_stop_the_extension():
    def understated(workload, *, threads, seed, scale, **service):
        return MU_PER_S * threads / 2

    def stalled_at_first(workload, **point):
        found = mm1_point(workload, **point)
        if point["offered_per_s"] < 0.25 * MU_PER_S / 2:
            return PointResult(**{**found.__dict__, "saturated": True})
        return found

    result = run_sweep(peak=understated, measure_point=stalled_at_first)
    assert max(result.points, key=lambda p: p.offered_per_s).saturated


def test_a_sweep_that_missed_nothing_says_its_capacity_is_a_lower_bound():
    from bench.openloop import summary

    def row(offered_per_s, p99_ns, saturated=False):
        return {
            "offered_per_s": offered_per_s,
            "achieved_per_s": offered_per_s,
            "latency_ns_p99": p99_ns,
            "saturated": saturated,
        }

    found = capacities.Capacity(40_000.0, 40_000.0, SLO_NS // 10, ())
    sweep = {
        "workload": "loan.decide", "threads": 1, "slo_ns": SLO_NS, "peak_per_s": 50_000.0,
        "capacity": found, "capacity_interval": None,
        "points": [row(20_000.0, SLO_NS // 10), row(40_000.0, SLO_NS // 10)],
    }  # fmt: skip
    # cut short by Ctrl-C before any load missed the SLO: a floor, not the capacity
    assert ": at least 40,000/s measured, open loop" in summary.capacity_line(sweep)
    sweep["points"].append(row(60_000.0, 2 * SLO_NS, saturated=True))
    assert ": 40,000/s measured, open loop" in summary.capacity_line(sweep)


def test_no_capacity_above_a_low_miss_says_why_not_that_nothing_met_it():
    """A smoke run's lowest load missed the SLO (a stall) and the seven above met it; the line
    read "no offered load met the SLO" beside a table that showed them meeting it."""
    from bench.openloop import summary
    from reports import open_loop as report_open_loop

    def row(offered_per_s, p99_ns):
        return {
            "offered_per_s": offered_per_s, "achieved_per_s": offered_per_s,
            "latency_ns_p99": p99_ns, "saturated": False, "flags": (),
        }  # fmt: skip

    points = [row(20_000.0, 2 * SLO_NS), row(40_000.0, SLO_NS // 10), row(60_000.0, SLO_NS // 5)]
    sweep = {
        "workload": "ledger.post", "threads": 2, "slo_ns": SLO_NS, "peak_per_s": 70_000.0,
        "capacity": None, "capacity_interval": None, "points": points,
    }  # fmt: skip
    assert (
        capacities.capacity(
            [
                types.SimpleNamespace(
                    offered_per_s=r["offered_per_s"],
                    achieved_per_s=r["achieved_per_s"],
                    latency_ns={"p99": r["latency_ns_p99"]},
                    saturated=False,
                    flags=(),
                )  # fmt: skip
                for r in points
            ],
            SLO_NS,
        )
        is None
    )  # as capacity.py decides: nothing above a miss counts
    line = summary.capacity_line(sweep)
    assert "no offered load met" not in line
    assert "the load of 20,000/s missed the SLO" in line and "2 of 3 loads met it" in line
    assert report_open_loop._capacity_cell(sweep) == summary.why_none(sweep)
    sweep["points"] = [row(20_000.0, 2 * SLO_NS)]
    assert "no offered load met the SLO" in summary.capacity_line(sweep)
