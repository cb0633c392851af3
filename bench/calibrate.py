"""``bankbench calibrate``: the noise floor of this host, from A/A runs (the same benchmarks
twice, back to back). Per benchmark: the coefficient of variation of its samples and the
smallest change the comparison can detect at 95 % with these rounds and processes — the
half-width of the A/A ratio's bootstrap interval. A comparison's differences smaller than this
floor are noise. The results are stored (calibration/), next to the two runs."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from bench import compare, run
from bench.store import Store, new_run_id

CALIBRATION = pa.schema(
    [
        ("calibration_id", pa.string()),
        ("run_a", pa.string()),
        ("run_b", pa.string()),
        ("benchmark", pa.string()),
        ("workload", pa.string()),
        ("engine", pa.string()),
        ("threads", pa.int32()),
        ("samples", pa.int32()),
        ("cv", pa.float64()),
        ("aa_ratio", pa.float64()),
        ("aa_low", pa.float64()),
        ("aa_high", pa.float64()),
        ("detectable_change", pa.float64()),
    ]
)


def calibrate(store_location: str, label: str | None, **options) -> list[dict]:
    store = Store(store_location)
    ids = [
        run.run(store_location=store_location, label=f"{label or 'calibration'}-{side}", **options)
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
            {
                "calibration_id": calibration_id,
                "run_a": ids[0],
                "run_b": ids[1],
                "benchmark": r.benchmark,
                "workload": first["workload"],
                "engine": first["engine"],
                "threads": first["threads"],
                "samples": len(values),
                "cv": float(values.std(ddof=1) / values.mean()) if len(values) > 1 else 0.0,
                "aa_ratio": r.ratio,
                "aa_low": r.low,
                "aa_high": r.high,
                "detectable_change": max(1 - r.low, r.high - 1, 0.0),
            }
        )
    if rows:
        store._write(
            pa.Table.from_pylist(rows, schema=CALIBRATION),
            f"{store.root}/calibration/{store._partition(json.loads(a['fingerprint_json']))}/"
            f"{calibration_id}.parquet",
        )
    return rows


def noise_floor(store: Store, host_of: dict) -> dict[str, float]:
    """Per benchmark, this host's noise from its latest calibration in the store: the larger
    of the A/A drift |ratio − 1| and the A/A interval's half-width. Empty without one."""
    data = store._dataset("calibration", CALIBRATION)
    if data is None:
        return {}
    hostname = json.loads(host_of["fingerprint_json"] or "{}").get("hostname")
    same_host = {
        r["run_id"]
        for r in store.runs().to_pylist()
        if json.loads(r["fingerprint_json"] or "{}").get("hostname") == hostname
    }
    rows = [r for r in data.to_table().to_pylist() if r["run_a"] in same_host]
    if not rows:
        return {}
    latest = max(r["calibration_id"] for r in rows)
    return {
        r["benchmark"]: max(abs(r["aa_ratio"] - 1), r["detectable_change"])
        for r in rows
        if r["calibration_id"] == latest
    }
