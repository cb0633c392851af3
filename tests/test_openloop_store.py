"""Open-loop points in the store (schema 4): every field round-trips, a growing sweep's file
is replaced whole point by point (never read twice), a schema-3 samples file (no open-loop
columns) still reads, and show prints the points and the capacity line."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from test_openloop_sweep import MU_PER_S, SLO_NS, mm1_point

from bench import cli, samples
from bench.openloop import summary as open_loop
from bench.records import RunRecord, Sample
from bench.store import Store


def _run(store: Store) -> RunRecord:
    record = RunRecord.start(
        "20261205T000000-openloop", "ol", {}, profile="smoke", status="complete"
    )
    store.write_run(record)
    return record


def _rows(record, rates, threads=1):
    return [
        samples.from_open_loop_point(
            record.run_id,
            mm1_point(
                "loan.decide", offered_per_s=rate, requests=1000, threads=threads, seed=1, scale=0.1
            ),
            index=i,
            peak_per_s=MU_PER_S * threads,
            slo_ns=SLO_NS,
            repeat=0,
            benchmark=f"loan.decide[c-open-loop-{threads}t-0.1]",
            engine="c",
        )
        for i, rate in enumerate(rates)
    ]


def test_a_growing_sweep_is_one_file_holding_each_point_once(tmp_path):
    store = Store(str(tmp_path))
    record = _run(store)
    rates = [20_000.0, 60_000.0, 95_000.0, 120_000.0]
    for n in range(1, len(rates) + 1):
        store.write_samples(
            record, "loan.decide[c-open-loop-1t-0.1]", _rows(record, rates[:n]), growing=True
        )
    assert len(list(tmp_path.glob("samples/**/*.parquet"))) == 1
    read = Store(str(tmp_path)).samples([record.run_id]).to_pylist()
    assert [r["offered_per_s"] for r in read] == rates
    first = Sample.from_row(read[0])
    assert first.mode == "open-loop" and first.saturated is False and first.flags == []
    assert read[-1]["saturated"] is True and read[-1]["latency_ns_max"] > 0
    assert read[0]["slo_ns"] == SLO_NS and read[0]["peak_per_s"] == MU_PER_S


def test_a_schema_3_samples_file_still_reads(tmp_path):
    store = Store(str(tmp_path))
    record = _run(store)
    old_columns = [
        f
        for f in Sample.schema()
        if f.name
        not in (
            "offered_per_s",
            "achieved_per_s",
            "latency_ns_max",
            "saturated",
            "flags",
            "histogram",
            "peak_per_s",
            "slo_ns",
            "repeat",
            "driver_overhead_ns",
            "fastest_service_ns",
            "idle_lateness_ns_p99",
            "schedule_digest",
        )
    ]
    table = pa.Table.from_pylist(
        [
            {
                "run_id": record.run_id,
                "benchmark": "loan.score[c-1t-0.01]",
                "seconds": 0.5,
                "mode": "batch",
                "workload": "loan.score",
            }
        ],
        schema=pa.schema(old_columns),
    )
    folder = tmp_path / "samples" / "arch=unknown" / "host=unknown" / f"run={record.run_id}"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "00-0000-old.parquet")
    (row,) = Store(str(tmp_path)).samples([record.run_id]).to_pylist()
    assert row["seconds"] == 0.5 and row["offered_per_s"] is None and row["flags"] is None
    assert open_loop.sweeps([row]) == []


def test_show_prints_the_points_and_the_measured_capacity_beside_the_closed_loop_claim(
    tmp_path, capsys
):
    store = Store(str(tmp_path))
    record = _run(store)
    rates = [20_000.0, 60_000.0, 95_000.0, 97_000.0, 120_000.0]  # p99 921 µs, 1.5 ms
    store.write_samples(
        record, "loan.decide[c-open-loop-1t-0.1]", _rows(record, rates), growing=True
    )
    assert cli.main(["show", record.run_id, "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("/s ") >= len(rates)  # a line per point
    (line,) = [x for x in out.splitlines() if x.startswith("capacity at p99 ≤ 1 ms, loan")]
    measured = "95,000/s measured, open loop (offered 95,000/s: p99 921.0 µs, achieved 95,000/s)"
    assert measured in line
    assert "closed loop would claim 100,000/s" in line
    assert "saturated" in out and "driver overhead 30.0 ns per request" in out


def test_store_text_in_the_open_loop_lines_reaches_the_terminal_escaped(tmp_path, capsys):
    store = Store(str(tmp_path))
    record = _run(store)
    rows = _rows(record, [20_000.0, 120_000.0])
    for row in rows:
        row.workload = "loan.decide\x1b[31m\u202e"
        row.flags = ["host jitter\r\x1b[2J"]
    store.write_samples(record, "loan.decide[c-open-loop-1t-0.1]\x1b[0m", rows, growing=True)
    assert cli.main(["show", record.run_id, "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "open loop" in out
    assert not any(c in out for c in ("\x1b", "\u202e", "\r"))
