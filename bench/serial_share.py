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

The ceiling is Amdahl's, with each parallel call held to the most parts it splits into: with
serial share s of the work and share p_i in calls of at most m_i parts (8 cells hold a ledger
call to 8 threads; a call over units or keys, to its units), N threads
finish at best 1 / (s + sum_i p_i / min(N, m_i)) times faster than one. Callgrind counts the
parallel work as a whole; it is shared out over the calls (workloads/_native.Splits) by the
work each was worth (its units times its counted instructions a unit). It is a bound, not a
forecast: memory bandwidth, the caches and the pool's wake-ups only lower it.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction

from bench.measure import callgrind
from workloads.errors import BankbenchError

MODEL = pathlib.Path(__file__).resolve().parent / "serial_share_model.json"
CEILING_THREADS = (64, 128)
TARGET_SHARE = Fraction(1, 100)  # issue 23: <= 1 % serial (a ceiling >= 56x at 128)
ENGINE = "c"


UNSPLIT = 0  # the parts key of parallel work whose calls are not known: no limit but N


@dataclass(frozen=True)
class Bound:
    """A call's counted instructions: ``serial`` of ``total`` on one thread alone, the rest by
    the most parts of the calls it ran in (``parallel_by_parts``: parts → instructions)."""

    serial: int
    total: int
    parallel_by_parts: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.total <= 0:
            raise ValueError("no instructions counted")
        if not self.parallel_by_parts:
            object.__setattr__(self, "parallel_by_parts", {UNSPLIT: self.total - self.serial})
        assert sum(self.parallel_by_parts.values()) == self.total - self.serial, self

    @classmethod
    def of_share(cls, share: Fraction) -> Bound:
        """Serial share ``share``, the rest in parts without a limit: Amdahl's own bound."""
        return cls(share.numerator, share.denominator)

    @property
    def share(self) -> Fraction:
        return Fraction(self.serial, self.total)

    def speedup(self, threads: int) -> Fraction:
        """The most ``threads`` threads can speed the work up: total / (serial + each call's
        parallel work over the threads it can use, min(threads, its parts))."""
        time = Fraction(self.serial) + sum(
            (
                Fraction(work, min(threads, parts) if parts != UNSPLIT else threads)
                for parts, work in self.parallel_by_parts.items()
            ),
            Fraction(0),
        )
        return Fraction(self.total) / time

    def most_parts(self) -> tuple[int, Fraction]:
        """The parts limit that holds most of the parallel work, and its share of it
        (UNSPLIT, 0 when nothing ran in parallel)."""
        parallel = self.total - self.serial
        if parallel == 0:
            return UNSPLIT, Fraction(0)
        parts, work = max(self.parallel_by_parts.items(), key=lambda item: (item[1], -item[0]))
        return parts, Fraction(work, parallel)


def amdahl_speedup(share: Fraction, threads: int) -> Fraction:
    """1 / (s + (1 - s) / N): the most N threads can speed up work of serial share s."""
    return Bound.of_share(share).speedup(threads)


def parallel_by_parts(parallel: int, calls: list[list[int]]) -> dict[int, int]:
    """The counted ``parallel`` instructions shared out over the calls that ran on more than
    one thread (``calls``: [threads, instructions worth, most parts] each, as
    workloads/_native.Splits records them), by the work each was worth, summed by most parts;
    all of it UNSPLIT when no such call was recorded (a pool call outside threads_worth)."""
    split = [(worth, parts) for threads, worth, parts in calls if threads > 1 and worth > 0]
    worth_all = sum(worth for worth, _ in split)
    if parallel == 0:
        return {}
    if worth_all == 0:
        return {UNSPLIT: parallel}
    shares: dict[int, int] = {}
    for worth, parts in split:
        shares[parts] = shares.get(parts, 0) + worth
    out = {parts: parallel * worth // worth_all for parts, worth in shares.items()}
    rounding = parallel - sum(out.values())  # to the largest share: the sum stays exact
    out[max(out, key=lambda parts: out[parts])] += rounding
    return out


def row(workload: str, threads: int, split: dict[str, int], calls: list[list[int]]) -> dict:
    """One line of the table: the counts, the share and the ceilings (exact fractions kept
    for the check against the target; the JSON carries them as decimals)."""
    bound = Bound(
        split["serial"], split["total"], parallel_by_parts(split["total"] - split["serial"], calls)
    )
    return {
        "workload": workload,
        "threads": threads,
        "instructions": split["total"],
        "serial_instructions": split["serial"],
        # of which inside a pool part, one thread alone between barriers (cross-cell steps)
        "serial_in_parts": split["serial_in_parts"],
        "serial_share": bound.share,
        "parallel_by_parts": bound.parallel_by_parts,
        "ceilings": {n: bound.speedup(n) for n in CEILING_THREADS},
        "within_target": bound.share <= TARGET_SHARE,
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
                rows.append(row(name, counted["threads"], counted["split"], counted["calls"]))
    return rows


def _worker(name: str, scale: float, seed: int, threads: list[int]) -> None:
    """Inside valgrind: one counted call per thread count, its split as a JSON line."""
    from workloads import registry

    workload = registry.get(name)
    inputs = workload.generate(scale, seed)
    meter = callgrind.Meter()
    for count in threads:
        calls, split = meter.measure_dump(
            functools.partial(_parallel_calls, workload, inputs, count),
            warmup=True,
            read=callgrind.parallel_split,
        )
        print(json.dumps({"threads": count, "split": split, "calls": calls}), flush=True)


def _parallel_calls(workload, inputs: dict, threads: int) -> list[list[int]]:
    """Run the workload; its parallel calls: [threads, instructions worth, most parts] each."""
    from workloads import _native

    with _native.threads_counted() as splits:
        workload.run(inputs, ENGINE, threads)
    return [list(c) for c in zip(splits, splits.instructions, splits.parts, strict=True)]


def as_json(rows: list[dict]) -> list[dict]:
    return [
        {
            **r,
            "serial_share": float(r["serial_share"]),
            "parallel_by_parts": {str(p): w for p, w in r["parallel_by_parts"].items()},
            "ceilings": {str(n): round(float(c), 2) for n, c in r["ceilings"].items()},
        }
        for r in rows
    ]


def render(rows: list[dict], scale: float) -> str:
    """The table as text: one line per workload and thread count."""
    header = (
        f"{'workload':<18} {'threads':>7} {'instructions':>14} {'serial':>12} "
        f"{'in parts':>11} {'serial %':>9} {'parts at most':>15} "
        + " ".join(f"{f'bound@{n}':>9}" for n in CEILING_THREADS)
    )
    lines = [
        f"serial share of each batch workload's C call (callgrind instruction counts, scale "
        f"{scale}); serial: run by one thread while the others wait, 'in parts' of it "
        "between barriers inside a parallel call (cross-cell steps), the rest outside "
        "(set-up, merges); parts at most: the most threads the calls holding most of the "
        "parallel work can use (their cells or units; the share of the "
        "parallel work in them); bound@N: Amdahl's ceiling on the speed-up at N threads with "
        "each call held to its parts, an upper bound",
        header,
    ]
    for r in rows:
        mark = "" if r["within_target"] else "  serial share above the 1 % target"
        parts, of_parallel = Bound(
            r["serial_instructions"], r["instructions"], r["parallel_by_parts"]
        ).most_parts()
        limit = "any" if parts == UNSPLIT else f"{parts:,}"
        held = f"{limit} ({float(of_parallel) * 100:.0f}%)" if of_parallel else "-"
        lines.append(
            f"{r['workload']:<18} {r['threads']:>7} {r['instructions']:>14,} "
            f"{r['serial_instructions']:>12,} {r['serial_in_parts']:>11,} "
            f"{float(r['serial_share']) * 100:>8.3f}% {held:>15} "
            + " ".join(f"{float(c):>8.1f}x" for c in r["ceilings"].values())
            + mark
        )
    return "\n".join(lines)


def write_model(rows: list[dict], scale: float, seed: int, path: pathlib.Path = MODEL) -> dict:
    """Keep the bound reports cap projections with (reports/fleet.py): per workload counted,
    the row of the lowest ceiling at 128 threads (its serial share, its parallel work by most
    parts), with the hash of the C it was counted on (Workload.source_sha256: a bound holds for that
    code only); the entries of workloads not counted now stay as they were."""
    import platform

    from workloads import registry

    most = CEILING_THREADS[-1]
    worst: dict[str, dict] = {}
    for r in rows:
        held = worst.get(r["workload"])
        if held is None or r["ceilings"][most] < held["ceilings"][most]:
            worst[r["workload"]] = r
    model = load_model(path)
    entries = model.get("workloads") or {}
    for name, r in worst.items():
        entries[name] = {
            "serial_instructions": r["serial_instructions"],
            "instructions": r["instructions"],
            "serial_share": float(r["serial_share"]),
            "parallel_by_parts": {str(p): w for p, w in sorted(r["parallel_by_parts"].items())},
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


def bound_for(model: dict, workload: str, source_sha256: str | None) -> tuple[Bound | None, str]:
    """The counted bound of ``workload``'s C as a run ran it (its samples'
    ``workload_source_sha256``) and where it was counted ("at scale 0.05 on x86_64"), or None
    and why there is none to bound a projection with. An entry written before the parts were
    kept bounds by its serial share alone."""
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
    by_parts = {int(p): int(w) for p, w in (entry.get("parallel_by_parts") or {}).items()}
    return Bound(entry["serial_instructions"], entry["instructions"], by_parts), where


if __name__ == "__main__":
    _worker(
        sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), [int(t) for t in sys.argv[4].split(",")]
    )
