"""``bankbench calibrate``: the noise floor of this host, from A/A runs (the same benchmarks
twice, back to back). Per benchmark: the coefficient of variation of its samples and the
smallest change the comparison can detect at 95 % with these rounds and processes — the
half-width of the A/A ratio's bootstrap interval. A comparison's differences smaller than this
floor are noise. The results are stored (calibration/), next to the two runs."""

from __future__ import annotations

import dataclasses

import numpy as np

from bench import compare, run
from bench.plan import Plan
from bench.records import Calibration, RunRecord
from bench.store import Store, new_run_id


def calibrate(plan: Plan, store_location: str) -> list[Calibration]:
    store = Store(store_location)
    ids = [
        run.run(
            dataclasses.replace(plan, label=f"{plan.label}-{side}"), store_location=store_location
        )
        for side in ("A", "B")
    ]
    a, b = (store.find_run(i) for i in ids)
    samples = {i: store.samples([i]).to_pylist() for i in ids}
    result = compare.compare(a, b, samples[ids[0]], samples[ids[1]], set(compare.SOFTWARE_FIELDS))
    seconds: dict[str, list[float]] = {}
    for row in samples[ids[0]] + samples[ids[1]]:
        seconds.setdefault(row["benchmark"], []).append(row["seconds"])
    calibration_id = new_run_id()
    rows = []
    for r in result.rows:
        values = np.array(seconds[r.benchmark])
        first = next(s for s in samples[ids[0]] if s["benchmark"] == r.benchmark)
        rows.append(
            Calibration(
                calibration_id=calibration_id,
                run_a=ids[0],
                run_b=ids[1],
                benchmark=r.benchmark,
                workload=first["workload"],
                engine=first["engine"],
                threads=first["threads"],
                samples=len(values),
                cv=float(values.std(ddof=1) / values.mean()) if len(values) > 1 else 0.0,
                aa_ratio=r.ratio,
                aa_low=r.low,
                aa_high=r.high,
                detectable_change=max(1 - r.low, r.high - 1, 0.0),
            )
        )
    store.write_calibrations(rows, RunRecord.from_row(a))
    return rows


def noise_floor(store: Store, host_of: dict) -> dict[str, float]:
    """Per benchmark, this host's noise from its latest calibration in the store: the larger
    of the A/A drift |ratio − 1| and the A/A interval's half-width. Empty without one."""
    calibrations = store.calibrations()
    if not calibrations:
        return {}
    hostname = RunRecord.from_row(host_of).hostname
    same_host = {r.run_id for r in store.run_records() if r.hostname == hostname}
    rows = [c for c in calibrations if c.run_a in same_host]
    if not rows:
        return {}
    latest = max(c.calibration_id for c in rows)
    return {
        c.benchmark: max(abs(c.aa_ratio - 1), c.detectable_change)
        for c in rows
        if c.calibration_id == latest
    }
