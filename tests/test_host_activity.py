"""What the host was doing during a run: recorded with each run, and a comparison of two runs
whose hosts were doing different things (a background job beside one of them) says so."""

import json
import os
import subprocess
import sys

import pytest

from bench import cli, host_activity
from bench.store import Store

HERTZ = os.sysconf("SC_CLK_TCK")


def _reading(wall_s, own_cpu_s, busy_jiffies, idle_jiffies, steal_jiffies=0, mhz=2600.0):
    # /proc/stat's cpu line: user nice system idle iowait irq softirq steal guest guest_nice
    return {
        "wall_s": wall_s,
        "own_cpu_s": own_cpu_s,
        "jiffies": [busy_jiffies, 0, 0, idle_jiffies, 0, 0, 0, steal_jiffies, 0, 0],
        "cpu_mhz": mhz,
        "load_average": [0.5, 0.4, 0.3],
    }


def _activity(others_cpus, steal_pct=0.0, mhz=2600.0, ended=True):
    return {
        "ended": ended,
        "load_average_before": [1.0, 1.0, 1.0],
        "load_average_after": [1.0, 1.0, 1.0],
        "cpu_mhz_before": mhz,
        "cpu_mhz_after": mhz,
        "others_cpus": others_cpus,
        "steal_pct": steal_pct,
    }


def test_other_work_is_the_hosts_busy_time_less_the_runs_own():
    # 10 s on 2 CPUs: 14 CPU-seconds busy, 4 of them this run's: others kept 1 CPU busy
    before = _reading(100.0, 3.0, 0, 0)
    after = _reading(110.0, 7.0, 14 * HERTZ, 5 * HERTZ, steal_jiffies=1 * HERTZ)
    activity = host_activity.during(before, after)
    assert activity["others_cpus"] == 1.0 and activity["ended"]
    assert activity["steal_pct"] == 5.0  # 1 of 20 CPU-seconds
    assert activity["load_average_before"] == [0.5, 0.4, 0.3]
    started = host_activity.during(before, None)  # a run that has not ended (or was killed)
    assert started["ended"] is False and started["others_cpus"] is None
    unreadable = host_activity.during({**before, "jiffies": None}, after)
    assert unreadable["others_cpus"] is None and unreadable["steal_pct"] is None


def test_a_reading_on_this_host_sees_a_busy_child_as_the_runs_own():
    before = host_activity.reading()
    subprocess.run([sys.executable, "-c", "sum(range(3_000_000))"], check=True)
    activity = host_activity.during(before, host_activity.reading())
    if activity["others_cpus"] is None:
        pytest.skip("no /proc/stat on this host")
    assert activity["others_cpus"] >= 0 and 0 <= activity["steal_pct"] <= 100
    assert activity["load_average_after"] is not None


def test_differences_name_other_work_steal_and_frequency():
    assert host_activity.differences(_activity(0.1), _activity(0.2), 2) == []
    (line,) = host_activity.differences(_activity(0.05), _activity(1.02), 2)
    assert line.startswith("host activity differs: other work kept 0.05 CPUs busy")
    assert "1.02 during the candidate" in line
    # on 64 CPUs half a CPU is within what a host does anyway: 5 % of the CPUs (3.2) is not
    assert host_activity.differences(_activity(0.05), _activity(1.02), 64) == []
    (line,) = host_activity.differences(_activity(0.0, steal_pct=0.3), _activity(0, 6.0), 2)
    assert "steal" in line and "0.3 %" in line and "6.0 %" in line
    (line,) = host_activity.differences(_activity(0.0), _activity(0.0, mhz=2000.0), 2)
    assert "2600 MHz" in line and "2000 MHz" in line
    (line,) = host_activity.differences(_activity(1.5), _activity(1.7), 2)
    assert line.startswith("host activity: other work kept 1.50 and 1.70 CPUs busy")


def test_a_run_without_a_record_or_killed_is_said_once():
    assert host_activity.differences(None, None) == []  # imported runs: nothing to compare
    (line,) = host_activity.differences(None, _activity(0.0))
    assert "not recorded for the baseline" in line
    lines = host_activity.differences(_activity(0.0), _activity(None, None, ended=False))
    assert lines == [
        "host activity: the candidate did not end (killed): only its start was recorded"
    ]


def test_a_calibration_of_other_benchmarks_says_it_does_not_apply():
    floor = {"loan.score[c-1t-0.002]": 0.03, "loan.limit[c-1t-0.002]": 0.02}
    assert host_activity.calibration_note(floor, {"loan.score[c-1t-0.002]"}) is None
    assert host_activity.calibration_note({}, {"loan.score[c-1t-0.01]"}) is None
    note = host_activity.calibration_note(floor, {"loan.score[c-1t-0.01]"})
    assert note.startswith("noise floor: the host's latest calibration covers none of these")
    assert "loan.limit[c-1t-0.002]" in note and "loan.score[c-1t-0.01]" in note
    note = host_activity.calibration_note(
        floor, {"loan.score[c-1t-0.002]", "loan.score[c-2t-0.002]"}
    )
    assert "only 1 of these 2 benchmarks" in note


def _stored(write, store, run_id, others_cpus):
    fingerprint = {"arch": "x86_64", "hostname": "h", "host_activity": _activity(others_cpus)}
    rows = [
        {
            "run_id": run_id,
            "benchmark": "loan.limit[c-1t-1.0]",
            "workload": "loan.limit",
            "engine": "c",
            "threads": 1,
            "units": 1000,
            "scale": 1.0,
            "seed": 42,
            "mode": "batch",
            "round": i,
            "seconds": 0.01 * (1 + 0.001 * i),
            "digest": "d1",
        }
        for i in range(9)
    ]
    write(store, run_id, rows, fingerprint)


def test_compare_flags_runs_whose_hosts_did_different_things(tmp_path, capsys, stored_run):
    store = Store(str(tmp_path / "store"))
    _stored(stored_run, store, "quiet", 0.02)
    _stored(stored_run, store, "loaded", 1.01)
    args = ["compare", "quiet", "loaded", "--store", store.location, "--noise-floor", "0"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "host activity differs: other work kept 0.02 CPUs busy" in out
    assert cli.main([*args, "--format", "json"]) == 0
    shown = capsys.readouterr()
    json.loads(shown.out)  # the data stays data: the flag goes to stderr
    assert "host activity differs" in shown.err


def test_a_run_records_what_the_host_did(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", "-p", "smoke", "-w", "loan.limit", "-e", "c",
         "-t", "1", "--store", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run,) = Store(str(tmp_path)).runs().to_pylist()
    activity = json.loads(run["fingerprint_json"])["host_activity"]
    assert activity["ended"] is True and activity["load_average_before"] is not None
    assert set(activity) == {
        "ended", "load_average_before", "load_average_after", "cpu_mhz_before",
        "cpu_mhz_after", "others_cpus", "steal_pct",
    }  # fmt: skip
    if os.path.exists("/proc/stat"):
        assert activity["others_cpus"] >= 0 and activity["steal_pct"] >= 0
