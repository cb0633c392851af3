"""What the host was doing while a run ran, and whether two runs' hosts were doing different
things: a comparison of a quiet run with one beside a background job measures the job.

Recorded with each run (``RunRecord.fingerprint["host_activity"]``), from two readings, one
before the run's probes and benchmarks and one when it ends:

- ``others_cpus``: how many CPUs other work kept busy on average during the run, the host's
  busy time (/proc/stat: user, nice, system, irq, softirq) less this run's own CPU time (its
  process and its waited-for workers, ``os.times``), over the wall time. A loop on one core
  beside the run reads about 1.0 on any machine size.
- ``steal_pct``: the share of CPU time the hypervisor gave to other guests (/proc/stat steal).
- ``cpu_mhz_before``/``cpu_mhz_after``: the mean current frequency of the CPUs, where the
  kernel shows it (cpufreq's scaling_cur_freq, else /proc/cpuinfo's "cpu MHz").
- ``load_average_before``/``load_average_after``: 1-, 5- and 15-minute load averages, for the
  reader. They are not compared: the 1-minute average before a run still holds the previous
  run's own work, and the one after holds this run's.

A value that cannot be read is None, never guessed. A run killed before it ended keeps only
the first reading (``ended`` False).
"""

from __future__ import annotations

import glob
import os
import time

# Two runs' hosts differ when (one line each, in the flag):
OTHERS_CPUS_APART = 0.5  # …other work kept at least half a CPU more busy in one of them,
OTHERS_CPUS_SHARE_APART = 0.05  # …or 5 % of the CPUs, on a large machine, if that is more;
STEAL_PCT_APART = 2.0  # …the hypervisor took 2 percentage points more CPU time;
CPU_MHZ_PCT_APART = 5.0  # …the CPUs ran at a mean frequency 5 % apart.
_BUSY_FIELDS = (0, 1, 2, 5, 6)  # user nice system (idle iowait) irq softirq of "cpu" in /proc/stat
_STEAL_FIELD = 7


def _cpu_jiffies() -> list[int] | None:
    try:
        with open("/proc/stat") as f:
            first = f.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    try:
        return [int(v) for v in first[1:]]
    except ValueError:
        return None


def _cpu_mhz() -> float | None:
    """The mean current frequency of the CPUs, or None where the kernel does not show it."""
    khz = []
    for path in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq"):
        try:
            with open(path) as f:
                khz.append(int(f.read()))
        except (OSError, ValueError):
            continue
    if khz:
        return round(sum(khz) / len(khz) / 1000, 1)
    try:
        with open("/proc/cpuinfo") as f:
            mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
    except (OSError, ValueError, IndexError):
        return None
    return round(sum(mhz) / len(mhz), 1) if mhz else None


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def reading() -> dict:
    """One reading of the host's counters, to pass to ``during`` later."""
    own = os.times()
    return {
        "wall_s": time.monotonic(),
        "own_cpu_s": own.user + own.system + own.children_user + own.children_system,
        "jiffies": _cpu_jiffies(),
        "cpu_mhz": _cpu_mhz(),
        "load_average": _load_average(),
    }


def during(before: dict, after: dict | None) -> dict:
    """What is stored with a run: the host's activity between two readings (``after`` None:
    the run has not ended, only the first reading is known)."""
    activity: dict = {
        "ended": after is not None,
        "load_average_before": before["load_average"],
        "load_average_after": after["load_average"] if after else None,
        "cpu_mhz_before": before["cpu_mhz"],
        "cpu_mhz_after": after["cpu_mhz"] if after else None,
        "others_cpus": None,
        "steal_pct": None,
    }
    start, end = before["jiffies"], after["jiffies"] if after else None
    if start is None or end is None or len(start) <= _STEAL_FIELD or len(end) != len(start):
        return activity
    delta = [b - a for a, b in zip(start, end, strict=True)]
    total = sum(delta[:8])  # guest time is counted inside user already
    wall_s = after["wall_s"] - before["wall_s"] if after else 0.0
    if total <= 0 or wall_s <= 0:
        return activity
    hertz = os.sysconf("SC_CLK_TCK")
    busy_s = sum(delta[i] for i in _BUSY_FIELDS) / hertz
    own_s = after["own_cpu_s"] - before["own_cpu_s"] if after else 0.0
    activity["others_cpus"] = round(max(busy_s - own_s, 0.0) / wall_s, 2)
    activity["steal_pct"] = round(100 * delta[_STEAL_FIELD] / total, 2)
    return activity


def _mean_mhz(activity: dict) -> float | None:
    values = [v for v in (activity["cpu_mhz_before"], activity["cpu_mhz_after"]) if v]
    return sum(values) / len(values) if values else None


def differences(baseline: dict | None, candidate: dict | None, logical_cpus: int = 1) -> list[str]:
    """One line per way the two runs' hosts were doing different things (empty: the same, as
    far as was recorded); when only one run recorded it, a line saying so."""
    if not baseline and not candidate:
        return []  # runs stored before bankbench recorded it, or imported: nothing to compare
    missing = [n for n, a in (("baseline", baseline), ("candidate", candidate)) if not a]
    if missing:
        return [
            f"host activity: not recorded for the {missing[0]} (stored before bankbench "
            "recorded it, or imported): a difference in background load cannot be ruled out"
        ]
    assert baseline is not None and candidate is not None
    lines = []
    unfinished = [
        n for n, a in (("baseline", baseline), ("candidate", candidate)) if not a["ended"]
    ]
    if unfinished:
        lines.append(
            f"host activity: the {' and the '.join(unfinished)} did not end (killed): "
            "only its start was recorded"
        )
    apart = max(OTHERS_CPUS_APART, OTHERS_CPUS_SHARE_APART * logical_cpus)
    a, b = baseline["others_cpus"], candidate["others_cpus"]
    if a is not None and b is not None and abs(a - b) >= apart:
        lines.append(
            f"host activity differs: other work kept {a:.2f} CPUs busy on average during the "
            f"baseline and {b:.2f} during the candidate ({apart:g} or more apart): the ratios "
            "may measure that background load, not the code or the machine"
        )
    elif a is not None and b is not None and min(a, b) >= apart:
        lines.append(
            f"host activity: other work kept {a:.2f} and {b:.2f} CPUs busy on average during "
            "the two runs: both timed a shared host, and its load need not have been the same "
            "for each benchmark"
        )
    a, b = baseline["steal_pct"], candidate["steal_pct"]
    if a is not None and b is not None and abs(a - b) >= STEAL_PCT_APART:
        lines.append(
            f"host activity differs: the hypervisor took {a:.1f} % of CPU time (steal) during "
            f"the baseline and {b:.1f} % during the candidate: other guests were busier in one"
        )
    a, b = _mean_mhz(baseline), _mean_mhz(candidate)
    if a and b and abs(a - b) / min(a, b) * 100 >= CPU_MHZ_PCT_APART:
        lines.append(
            f"host activity differs: the CPUs ran at {a:.0f} MHz on average during the baseline "
            f"and {b:.0f} MHz during the candidate ({CPU_MHZ_PCT_APART:g} % or more apart)"
        )
    return lines


def calibration_note(floor: dict[str, float], benchmarks: set[str]) -> str | None:
    """Why the host's latest calibration is not used as the noise floor for these benchmarks,
    when it measured others (another scale or selection); None when it applies or is absent."""
    if not floor or not benchmarks:
        return None
    applies = benchmarks & floor.keys()
    if len(applies) == len(benchmarks):
        return None
    example_calibrated = min(floor)
    example_compared = min(benchmarks - applies)
    share = "none of these" if not applies else f"only {len(applies)} of these {len(benchmarks)}"
    return (
        f"noise floor: the host's latest calibration covers {share} benchmarks (it "
        f"measured e.g. {example_calibrated}, these runs e.g. {example_compared}: another "
        "scale or selection), so it does not apply to the rest; run `bankbench calibrate` "
        "with the runs' profile and scale, or give --noise-floor PCT"
    )
