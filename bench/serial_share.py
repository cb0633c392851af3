"""The serial share of each batch workload's C engine, counted, and the Amdahl ceiling it
implies (``bankbench scaling-bound``).

A 2-core host cannot show how a call scales to 128 cores, but it can count exactly which of
the call's instructions run while the other threads wait. One worker process per workload
runs under callgrind (bench/measure/callgrind.py: ``command``, ``Meter``); for each thread
count it makes one warm-up call and one counted call, and ``callgrind.parallel_split`` splits
the counted call's core instructions into the pool's parts (bb_pool_run_part on every
thread: the caller's part 0 too) and the rest, which runs on the calling thread alone
(set-up, merges, cross-cell steps, and a pool call worth only one part: bb_pool_run_alone).
Waits are left out of both. So the share is the one of the scale counted: a call that splits
only when it is large (workloads/_native.threads_worth) is serial at a small scale. The counts
depend only on the code, the inputs and the thread count, not on the host's load, so a second
run prints the same table.

The ceiling is Amdahl's: with serial share s of the work, N threads finish at best
1 / (s + (1 - s) / N) times faster than one. It is a bound, not a forecast: memory
bandwidth, the caches and the pool's wake-ups only lower it.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import subprocess
import sys
import tempfile
from fractions import Fraction

from bench.measure import callgrind
from workloads.errors import BankbenchError

MODEL = pathlib.Path(__file__).resolve().parent / "serial_share_model.json"
CEILING_THREADS = (64, 128)
TARGET_SHARE = Fraction(1, 100)  # issue 23: <= 1 % serial (a ceiling >= 56x at 128)
ENGINE = "c"


def ceiling(serial: int, total: int, threads: int) -> Fraction:
    """Amdahl's bound on the speed-up at ``threads`` of a call whose ``serial`` of ``total``
    instructions run on one thread alone."""
    if total <= 0:
        raise ValueError("no instructions counted")
    return amdahl_speedup(Fraction(serial, total), threads)


def amdahl_speedup(share: Fraction, threads: int) -> Fraction:
    """1 / (s + (1 - s) / N): the most N threads can speed up work of serial share s."""
    return 1 / (share + (1 - share) / threads)


def row(workload: str, threads: int, split: dict[str, int]) -> dict:
    """One line of the table: the counts, the share and the ceilings (exact fractions kept
    for the check against the target; the JSON carries them as decimals)."""
    share = Fraction(split["serial"], split["total"])
    return {
        "workload": workload,
        "threads": threads,
        "instructions": split["total"],
        "serial_instructions": split["serial"],
        # of which inside a pool part, one thread alone between barriers (cross-cell steps)
        "serial_in_parts": split["serial_in_parts"],
        "serial_share": share,
        "ceilings": {n: ceiling(split["serial"], split["total"], n) for n in CEILING_THREADS},
        "within_target": share <= TARGET_SHARE,
    }


def measure(workloads: list[str], threads: list[int], scale: float, seed: int) -> list[dict]:
    """Run each workload's worker under callgrind; the table's rows, workload by workload."""
    valgrind = callgrind.check_available(None)
    from_start = not callgrind.core_starts_instrumentation()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bankbench-serial-") as folder:
        for name in workloads:
            base = pathlib.Path(folder) / f"{name}.callgrind"
            command = [
                *callgrind.command(valgrind, base, from_start),
                # callgrind counts each thread's calls; the pool's threads stay one process
                sys.executable,
                "-m",
                "bench.serial_share",
                name,
                repr(scale),
                str(seed),
                ",".join(map(str, threads)),
            ]
            environment = {**os.environ, **callgrind.worker_environment(base)}
            done = subprocess.run(command, env=environment, capture_output=True, text=True)
            if done.returncode != 0:
                reason = done.stderr.strip().splitlines()[-1:] or [
                    callgrind.valgrind_log_tail(base)
                ]
                raise BankbenchError(
                    f"scaling-bound: {name} failed under valgrind (exit {done.returncode}): "
                    f"{reason[0]}; rerun with -w {name} to see it alone"
                )
            for line in done.stdout.splitlines():
                counted = json.loads(line)
                rows.append(row(name, counted["threads"], counted["split"]))
    return rows


def _worker(name: str, scale: float, seed: int, threads: list[int]) -> None:
    """Inside valgrind: one counted call per thread count, its split as a JSON line."""
    from workloads import registry

    workload = registry.get(name)
    inputs = workload.generate(scale, seed)
    meter = callgrind.Meter()
    for count in threads:
        _, split = meter.measure_dump(
            functools.partial(workload.run, inputs, ENGINE, count),
            warmup=True,
            read=callgrind.parallel_split,
        )
        print(json.dumps({"threads": count, "split": split}), flush=True)


def as_json(rows: list[dict]) -> list[dict]:
    return [
        {
            **r,
            "serial_share": float(r["serial_share"]),
            "ceilings": {str(n): round(float(c), 2) for n, c in r["ceilings"].items()},
        }
        for r in rows
    ]


def render(rows: list[dict], scale: float) -> str:
    """The table as text: one line per workload and thread count."""
    header = (
        f"{'workload':<18} {'threads':>7} {'instructions':>14} {'serial':>12} "
        f"{'in parts':>11} {'serial %':>9} "
        + " ".join(f"{f'bound@{n}':>9}" for n in CEILING_THREADS)
    )
    lines = [
        f"serial share of each batch workload's C call (callgrind instruction counts, scale "
        f"{scale}); serial: run by one thread while the others wait, 'in parts' of it "
        "between barriers inside a parallel call (cross-cell steps), the rest outside "
        "(set-up, merges); bound@N: Amdahl's ceiling on the speed-up at N threads, an upper "
        "bound",
        header,
    ]
    for r in rows:
        mark = "" if r["within_target"] else "  above 1 %"
        lines.append(
            f"{r['workload']:<18} {r['threads']:>7} {r['instructions']:>14,} "
            f"{r['serial_instructions']:>12,} {r['serial_in_parts']:>11,} "
            f"{float(r['serial_share']) * 100:>8.3f}% "
            + " ".join(f"{float(c):>8.1f}x" for c in r["ceilings"].values())
            + mark
        )
    return "\n".join(lines)


def write_model(rows: list[dict], scale: float, seed: int, path: pathlib.Path = MODEL) -> dict:
    """Keep the bound reports cap projections with (reports/fleet.py): per workload counted,
    the largest serial share of its rows (the lowest ceiling) with the hash of the C it was
    counted on (Workload.source_sha256: a bound holds for that code only); the entries of
    workloads not counted now stay as they were."""
    import platform

    from workloads import registry

    worst: dict[str, dict] = {}
    for r in rows:
        held = worst.get(r["workload"])
        if held is None or r["serial_share"] > held["serial_share"]:
            worst[r["workload"]] = r
    model = load_model(path)
    entries = model.get("workloads") or {}
    for name, r in worst.items():
        entries[name] = {
            "serial_instructions": r["serial_instructions"],
            "instructions": r["instructions"],
            "serial_share": float(r["serial_share"]),
            "threads": r["threads"],
            "scale": scale,
            "seed": seed,
            "arch": platform.machine(),
            "workload_source_sha256": registry.get(name).source_sha256(),
        }
    model = {
        "written_by": "bankbench scaling-bound --write-model",
        "workloads": dict(sorted(entries.items())),
    }
    path.write_text(json.dumps(model, indent=1) + "\n")
    return model


def load_model(path: pathlib.Path = MODEL) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def share_for(model: dict, workload: str, source_sha256: str | None) -> tuple[Fraction | None, str]:
    """The counted serial share of ``workload``'s C as a run ran it (its samples'
    ``workload_source_sha256``) and where it was counted ("at scale 0.05 on x86_64"), or None
    and why there is none to bound a projection with."""
    entry = (model.get("workloads") or {}).get(workload)
    if entry is None:
        return (
            None,
            f"no counted serial share of {workload} (bankbench scaling-bound --write-model)",
        )
    if source_sha256 is None or entry["workload_source_sha256"] != source_sha256:
        return None, (
            f"the serial share of {workload} was counted on other C sources than the run's "
            "(bankbench scaling-bound --write-model counts it again)"
        )
    where = " ".join(
        f"{words} {entry[key]}"
        for key, words in (("scale", "at scale"), ("arch", "on"))
        if key in entry
    )
    return Fraction(entry["serial_instructions"], entry["instructions"]), where


if __name__ == "__main__":
    _worker(
        sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), [int(t) for t in sys.argv[4].split(",")]
    )
