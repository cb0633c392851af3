"""Issue 23's 2-thread Must-show read off one command: `bankbench show` prints, per C workload,
the one-thread call, the 2-thread efficiency, the 2-thread efficiency of the probe that bounds
it (same run), the verdict against >= 80 % or at most 10 points below the probe, and the host's
load beside it; a busy host makes the measurement invalid, and the table says so."""

import numpy as np
import pytest

from bench import scaling

QUIET = {"others_cpus": 0.1, "steal_pct": 0.0, "load_average_before": [0.3, 0.2, 0.1]}
PROBES = {
    "memory_bandwidth_bytes_per_s_1t": 10e9,
    "memory_bandwidth_bytes_per_s_2t": 14e9,  # 70 %
    "random_updates_per_s_1t": 100e6,
    "random_updates_per_s_2t": 190e6,  # 95 %
}


def _rows(workload, one_s, two_s, units=1000):
    return [
        {
            "workload": workload,
            "engine": "c",
            "mode": "batch",
            "threads": t,
            "batch_size": None,
            "median_s": s,
            "units_per_s": units / s,
        }
        for t, s in ((1, one_s), (2, two_s))
    ]


def test_each_workload_gets_its_verdict_against_80_percent_or_its_bounding_probe():
    summary = [
        *_rows("loan.score", 0.100, 0.0625),  # 80 %: meets the target
        *_rows("loan.limit", 0.100, 0.080),  # 62.5 %: at most 10 points below the triad's 70 %
        *_rows("ledger.post", 0.100, 0.080),  # 62.5 %: the random updates' 95 % is far
        *_rows("loan.fraud", 0.0005, 0.0004),  # a call under 1 ms: not judged
        *_rows("loan.decide", 0.010, 0.012),  # 41.7 %: slower at 2 threads than at 1
    ]
    rows = {r["workload"]: r for r in scaling.two_thread_evidence(summary, PROBES)}
    assert rows["loan.score"]["efficiency_2t"] == pytest.approx(0.8)
    assert rows["loan.score"]["verdict"] == "meets 80 %"
    assert rows["loan.limit"]["probe"] == "triad"
    assert rows["loan.limit"]["probe_efficiency_2t"] == pytest.approx(0.7)
    assert rows["loan.limit"]["verdict"].startswith("at most 10 points below the triad")
    assert rows["ledger.post"]["probe"] == "random updates"
    assert rows["ledger.post"]["verdict"] == (
        "BELOW 80 %, and more than 10 points below the random updates"
    )
    assert rows["loan.fraud"]["verdict"] == "not judged: a call under 1 ms"
    assert rows["loan.decide"]["verdict"] == (
        "BELOW 80 %, and more than 10 points below the triad; SLOWER at 2 threads than at 1"
    )
    lines = scaling.render_two_thread(list(rows.values()), QUIET)
    score = next(line for line in lines if line.startswith("loan.score"))
    assert score.split()[:10] == [
        "loan.score",
        "100.00ms",
        "80%",
        "–",
        "triad",
        "70%",
        "–",
        "–",
        "–",
        "meets",
    ]
    assert lines[-1] == (
        "host: load average (1, 5, 15 min) before the run 0.3 / 0.2 / 0.1; quiet during the run "
        "(no other work kept half a CPU busy)"
    )


def test_a_busy_or_unknown_host_makes_the_measurement_invalid():
    rows = scaling.two_thread_evidence(_rows("loan.score", 0.1, 0.06), PROBES)
    busy = {**QUIET, "others_cpus": 1.85, "load_average_after": [11.0, 10.0, 9.0]}
    last = scaling.render_two_thread(rows, busy)[-1]
    assert "after 11 / 10 / 9" in last
    assert last.endswith(
        "INVALID as evidence: other work kept 1.85 CPUs busy; measure on a quiet host"
    )
    stolen = scaling.render_two_thread(rows, {**QUIET, "steal_pct": 5.0})[-1]
    assert "INVALID as evidence: the hypervisor stole 5.0 % of the CPU time" in stolen
    unknown = scaling.render_two_thread(rows, None)[-1]
    assert unknown.startswith(
        "host: load average unknown; INVALID as evidence: the host's activity"
    )


def test_a_probe_not_recorded_at_two_threads_is_unknown_not_guessed():
    probes = {"memory_bandwidth_bytes_per_s_1t": 1e10, "memory_bandwidth_bytes_per_s_64t": 3e11}
    (row,) = scaling.two_thread_evidence(_rows("loan.limit", 0.1, 0.08), probes)
    assert row["probe_efficiency_2t"] is None and row["verdict"] == "BELOW 80 %"
    assert scaling.two_thread_evidence(_rows("loan.limit", 0.1, 0.08)[:1], probes) == []


def test_a_workload_name_from_the_store_is_shown_escaped_on_one_line():
    hostile = "evil\x1b[2J\nname\u202e"
    (row,) = scaling.two_thread_evidence(_rows(hostile, 0.1, 0.06), PROBES)
    line = scaling.render_two_thread([row], QUIET)[2]
    assert "\x1b" not in line and "\n" not in line and "\u202e" not in line
    curves = scaling.render_curves(scaling.efficiency_curves(_rows(hostile, 0.1, 0.06)))
    assert not any(c in "".join(curves) for c in ("\x1b", "\n", "\u202e"))


def _rounds(workload, one_s, two_s):
    """The rounds of a workload's 1- and 2-thread benchmarks, in seconds, by benchmark name."""
    return {
        f"{workload}[c-1t-0.05]": np.asarray(one_s, dtype=float),
        f"{workload}[c-2t-0.05]": np.asarray(two_s, dtype=float),
    }


def _named(rows):
    return [{**r, "benchmark": f"{r['workload']}[c-{r['threads']}t-0.05]"} for r in rows]


def test_the_efficiency_has_its_interval_over_the_rounds_and_a_verdict_it_cannot_settle_says_so():
    # loan.score: 1-thread rounds 100 ms, 2-thread rounds 50-75 ms: median 62.5 ms, 80 %
    spread = _rounds("loan.score", [0.1] * 5, [0.050, 0.055, 0.0625, 0.070, 0.075])
    (row,) = scaling.two_thread_evidence(_named(_rows("loan.score", 0.1, 0.0625)), {}, spread)
    low, high = row["efficiency_2t_interval"]
    assert low < 0.8 < high and 0.1 / 0.075 / 2 <= low and high <= 0.1 / 0.050 / 2
    assert row["verdict"].startswith("meets 80 %; this run cannot tell: its 95 % interval")
    assert row["verdict"].endswith("holds the 80 % that passes")
    # tight rounds: the interval is far from 80 %, and the verdict stands alone
    tight = _rounds("loan.score", [0.1] * 5, [0.0530, 0.0531, 0.0532, 0.0533, 0.0534])
    (row,) = scaling.two_thread_evidence(_named(_rows("loan.score", 0.1, 0.0532)), {}, tight)
    assert row["verdict"] == "meets 80 %" and row["efficiency_2t_interval"][0] > 0.9
    line = next(x for x in scaling.render_two_thread([row], QUIET) if x.startswith("loan.score"))
    low, high = row["efficiency_2t_interval"]
    assert 0.1 / 0.0534 / 2 <= low <= high <= 0.1 / 0.0530 / 2
    assert line.split()[3] == f"{low * 100:.0f}-{high * 100:.0f}%"


def test_the_probe_rule_passes_below_80_percent_so_only_its_own_threshold_is_uncertain():
    # triad at 70 %: 60 % passes; rounds spread the efficiency over about 58-75 %
    rounds = _rounds("loan.limit", [0.1] * 5, [0.067, 0.075, 0.080, 0.083, 0.086])
    (row,) = scaling.two_thread_evidence(_named(_rows("loan.limit", 0.1, 0.080)), PROBES, rounds)
    assert row["verdict"].startswith("at most 10 points below the triad")
    assert "cannot tell" in row["verdict"] and row["verdict"].endswith("holds the 60 % that passes")
    # one round a side: no interval, no claim about it
    single = _rounds("loan.limit", [0.1], [0.08])
    (row,) = scaling.two_thread_evidence(_named(_rows("loan.limit", 0.1, 0.080)), PROBES, single)
    assert row["efficiency_2t_interval"] is None and "cannot tell" not in row["verdict"]


def test_the_interval_is_over_the_threads_the_call_ran_on_as_the_efficiency():
    rows = [{**r, "threads_used": 1} for r in _named(_rows("loan.limit", 0.1, 0.1))]
    rounds = _rounds("loan.limit", [0.1, 0.1, 0.1], [0.098, 0.1, 0.102])
    (row,) = scaling.two_thread_evidence(rows, PROBES, rounds)
    low, high = row["efficiency_2t_interval"]
    assert row["efficiency_2t"] == pytest.approx(1.0) and low <= 1.0 <= high  # not 0.5
    assert row["verdict"].startswith("not judged: ran on 1 thread")


def test_an_imported_runs_host_is_unknown_because_it_was_imported_not_killed():
    rows = scaling.two_thread_evidence(_rows("loan.score", 0.1, 0.06), PROBES)
    lines = scaling.render_two_thread(rows, None, imported=True)
    assert lines[-1].endswith(
        "INVALID as evidence: an imported file records nothing of the host's activity while "
        "it ran; measure on a quiet host"
    )


def test_a_short_call_that_ran_on_one_thread_says_it_ran_on_one_thread():
    """Both rules leave it unjudged; that it ran on 1 thread is what its efficiency is of."""
    rows = [{**r, "threads_used": 1} for r in _rows("acme.accrual", 0.0001, 0.000095)]
    (row,) = scaling.two_thread_evidence(rows, PROBES)
    assert row["verdict"].startswith("not judged: ran on 1 thread")


HOST = {
    "compute_units_per_s_1t": 10_000.0,
    "compute_units_per_s_2t": 14_000.0,  # 70 %: the CPUs give 2 threads of pure compute that
    "compute_efficiency_2t_low": 0.55,
    "compute_efficiency_2t_high": 0.95,
}


def test_a_workload_held_by_the_hosts_compute_ceiling_says_so_and_still_fails():
    probes = {**PROBES, "memory_bandwidth_bytes_per_s_2t": 19e9, **HOST}  # triad 95 %
    summary = [
        *_rows("loan.score", 0.100, 0.0775),  # 64.5 %: within 10 points of the host's 70 %
        *_rows("loan.decide", 0.100, 0.100),  # 50 %: more than 10 points below it
        *_rows("loan.schedule", 0.100, 0.060),  # 83 %: meets, whatever the host
    ]
    rows = {r["workload"]: r for r in scaling.two_thread_evidence(summary, probes)}
    assert rows["loan.score"]["verdict"].startswith("BELOW 80 %")
    assert rows["loan.score"]["verdict"].endswith(
        "; the host's compute ceiling around it was within 10 points (70 %): the host may "
        "explain it"
    )
    assert "compute ceiling" not in rows["loan.decide"]["verdict"]
    assert rows["loan.schedule"]["verdict"] == "meets 80 %"
    host = scaling.host_compute(probes)
    assert host == {"median": pytest.approx(0.7), "low": 0.55, "high": 0.95}
    lines = scaling.render_two_thread(list(rows.values()), QUIET, host)
    assert lines[-2].endswith("; the run's own probe gave 70 %, its pairs ranging 55-95 %")
    score = next(line for line in lines if line.startswith("loan.score"))
    assert score.split()[6] == "70%"  # the host 2t column: the run's probe, no benchmark's


@pytest.mark.parametrize(
    "stored",
    [
        {"compute_efficiency_2t_low": "0.5"},
        {"compute_efficiency_2t_low": float("nan")},
        {"compute_efficiency_2t_low": 0.8},  # above the median: not a range around it
        {"compute_efficiency_2t_high": True},
        {"compute_efficiency_2t_high": 1e300},
    ],
)
def test_a_stored_compute_range_that_is_not_one_is_left_out(stored):
    host = scaling.host_compute({**HOST, **stored})
    assert host == {"median": pytest.approx(0.7), "low": None, "high": None}
    (line,) = [
        line
        for line in scaling.render_two_thread(
            scaling.two_thread_evidence(_rows("loan.score", 0.1, 0.06), PROBES), QUIET, host
        )
        if line.startswith("host 2t")
    ]
    assert line.endswith("; the run's own probe gave 70 %")


@pytest.mark.parametrize("rate_2t", ["fast", float("nan"), -1.0, 1e308])
def test_a_stored_compute_rate_that_is_not_one_shows_no_ceiling(rate_2t):
    assert scaling.host_compute({**HOST, "compute_units_per_s_2t": rate_2t}) is None
    assert scaling.host_compute({}) is None


def test_the_ceiling_around_the_benchmark_comes_before_the_runs_probe():
    rows = _rows("ledger.eod", 0.100, 0.070)  # 71 %
    rows[1]["host_compute_efficiency"] = 0.78  # the slower CPU at 56 % while it ran
    probes = {**PROBES, "random_updates_per_s_2t": 190e6, **HOST}  # the run's probe: 70 %
    (row,) = scaling.two_thread_evidence(rows, probes)
    assert row["host_efficiency_2t"] == 0.78
    assert row["verdict"].endswith(
        "; the host's compute ceiling around it was within 10 points (78 %): the host may "
        "explain it"
    )
    rows[1]["host_compute_efficiency"] = 0.95  # the CPUs were equal: the workload's own
    (row,) = scaling.two_thread_evidence(rows, probes)
    assert "ceiling" not in row["verdict"]
    for hostile in ("0.9", float("nan"), float("inf"), -0.5, True, 1e9):
        rows[1]["host_compute_efficiency"] = hostile
        (row,) = scaling.two_thread_evidence(rows, probes)
        assert row["host_efficiency_2t"] == pytest.approx(0.7)  # the run's probe instead


def test_slower_at_2_threads_only_where_the_interval_does_not_reach_the_speed_of_1():
    # the same one-thread code at 2 threads (threads_used 1): 2 % slower by the medians,
    # rounds that reach parity, then rounds that stay below it
    rows = [{**r, "threads_used": 1} for r in _named(_rows("loan.limit", 0.100, 0.102))]
    noisy = _rounds(
        "loan.limit", [0.098, 0.100, 0.101, 0.099, 0.104], [0.097, 0.102, 0.110, 0.101, 0.103]
    )
    (row,) = scaling.two_thread_evidence(rows, PROBES, noisy)
    assert row["verdict"].endswith(
        "; slower at 2 threads than at 1 by the medians only: its 95 % interval reaches the "
        "speed of 1 thread"
    )
    assert "SLOWER" not in row["verdict"]
    steady = _rounds("loan.limit", [0.1000, 0.1001, 0.0999, 0.1000, 0.1002], [0.102] * 5)
    (row,) = scaling.two_thread_evidence(rows, PROBES, steady)
    assert row["verdict"].endswith(
        "; SLOWER at 2 threads than at 1, where both ran the same 1-thread code: the host's "
        "speed moved between the two benchmarks"
    )
    # on 2 threads, a slower median is the threads' own
    split = [{**r, "threads_used": 2 if r["threads"] == 2 else 1} for r in rows]
    (row,) = scaling.two_thread_evidence(split, PROBES, steady)
    assert row["verdict"].endswith("; SLOWER at 2 threads than at 1")


def test_the_host_is_named_only_near_its_ceiling_not_far_above_it():
    assert scaling._host_limits(0.75, 0.50) == ""  # 25 points above: not the host
    assert scaling._host_limits(0.55, 0.70) == ""  # 15 points below: not the host alone
    assert scaling._host_limits(0.65, 0.70).startswith(
        "; the host's compute ceiling around it was within 10 points (70 %)"
    )
    assert scaling._host_limits(0.78, 0.70) != ""  # 8 points above it: it may explain it
    assert scaling._host_limits(0.85, 0.80) == ""  # meets the target: nothing to explain


@pytest.mark.parametrize("rate", [10**400, True, "1e9", float("inf"), 0, -5.0, None])
def test_a_stored_probe_rate_that_is_not_one_gives_no_efficiency(rate):
    probes = {"random_updates_per_s_1t": 1e8, "random_updates_per_s_2t": rate}
    assert scaling.probe_efficiency(probes, "random_updates_per_s") is None
    flipped = {"random_updates_per_s_1t": rate, "random_updates_per_s_2t": 1e8}
    assert scaling.probe_efficiency(flipped, "random_updates_per_s") is None


def test_the_calling_threads_own_share_of_the_call_bounds_two_threads_and_a_failure_says_so():
    """serial_s (schema 7): the 1-thread call's time outside its parallel calls. Its share
    caps the 2-thread efficiency at 1 / (1 + share); a workload below 80 % whose share alone
    holds it near there says so, one whose share leaves room does not blame it."""
    summary = [*_rows("ledger.eod", 0.010, 0.0071), *_rows("ledger.post", 0.010, 0.0071)]
    summary[0]["serial_s"] = 0.0025  # 25 %: 2 threads at most 80 %
    summary[2]["serial_s"] = 0.0005  # 5 %: at most 95 %
    rows = {r["workload"]: r for r in scaling.two_thread_evidence(summary, PROBES)}
    assert rows["ledger.eod"]["serial_share_1t"] == pytest.approx(0.25)
    assert rows["ledger.eod"]["verdict"].endswith(
        "; 25.0 % of its 1-thread call ran outside the parallel calls (Python, serial C), "
        "which alone holds 2 threads to 80 %"
    )
    assert rows["ledger.post"]["serial_share_1t"] == pytest.approx(0.05)
    assert "outside the parallel calls" not in rows["ledger.post"]["verdict"]
    lines = scaling.render_two_thread(list(rows.values()), QUIET)
    eod = next(line for line in lines if line.startswith("ledger.eod"))
    assert eod.split()[8:10] == ["25.0%", "80%"]  # after "random updates", host 2t
    assert any(line.startswith("serial: the share of the 1-thread call") for line in lines)


@pytest.mark.parametrize("stored", [float("nan"), -0.001, 0.5, None])
def test_a_stored_serial_time_that_is_not_a_part_of_the_call_is_unknown(stored):
    summary = _rows("ledger.eod", 0.010, 0.0071)
    summary[0]["serial_s"] = stored  # a store is the user's input
    (row,) = scaling.two_thread_evidence(summary, PROBES)
    assert row["serial_share_1t"] is None
    assert "outside the parallel calls" not in row["verdict"]
