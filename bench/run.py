"""``bankbench run``: drive the pytest-benchmark modules of bench.suite and summarise them.

First slice: scale, engines, threads, rounds, a workload filter and the pytest-benchmark JSON
file; the results store, profiles, worker processes and pinning come with the harness issue.
"""

from __future__ import annotations

import json
import pathlib
import tempfile

from workloads import registry
from workloads.errors import BankbenchError, InputError


def pytest_args(
    scale: float,
    engines: list[str],
    threads: list[int],
    rounds: int,
    workloads: list[str] | None,
    json_path: pathlib.Path,
) -> list[str]:
    import bench.suite

    names = [w.name for w in registry.select(workloads)]
    extra = (["online"] if "loan.decide" in names else []) + (
        ["batching"] if "ledger.post" in names else []
    )
    selector = " or ".join([f"{n}-" for n in names] + extra)
    # the suite's folder, not --pyargs: its conftest must load early to add the options
    suite = str(pathlib.Path(bench.suite.__file__).resolve().parent)
    return [
        suite,
        "-q",
        "-p",
        "no:cacheprovider",
        "--benchmark-only",
        f"--bankbench-scale={scale}",
        f"--bankbench-engines={','.join(engines)}",
        f"--bankbench-threads={','.join(map(str, threads))}",
        f"--bankbench-rounds={rounds}",
        f"--benchmark-json={json_path}",
        "--benchmark-disable-gc",
        "-k",
        selector,
        "--benchmark-columns=median,iqr,rounds",
    ]


def run(
    scale: float,
    engines: list[str],
    threads: list[int],
    rounds: int,
    workloads: list[str] | None,
    json_out: pathlib.Path | None,
) -> list[dict]:
    import pytest

    with tempfile.TemporaryDirectory() as tmp:
        json_path = json_out or pathlib.Path(tmp) / "benchmark.json"
        code = pytest.main(pytest_args(scale, engines, threads, rounds, workloads, json_path))
        if code not in (0, 5):
            raise BankbenchError(
                f"benchmarks failed (pytest exit {code}); rerun with "
                "`pytest --pyargs bench.suite` to see why"
            )
        if not json_path.exists():
            raise InputError("no benchmark ran: check --workloads and --engines")
        report = json.loads(json_path.read_text())
    return [summary_row(b) for b in report["benchmarks"]]


def summary_row(benchmark: dict) -> dict:
    info = benchmark["extra_info"]
    median_s = benchmark["stats"]["median"]
    row = {
        "benchmark": benchmark["name"],
        "median_s": median_s,
        "cv": benchmark["stats"]["stddev"] / benchmark["stats"]["mean"]
        if benchmark["stats"]["rounds"] > 1
        else 0.0,
        "units_per_s": info["units"] / median_s,
        "unit": info["unit"],
        "digest": info["digest"][:16],
    }
    if info.get("mode") == "online":
        row["latency_us_p99"] = info["latency_ns_p99"] / 1000
    return row


def print_summary(rows: list[dict]) -> None:
    print(f"\n{'benchmark':<38} {'median':>11} {'CV':>6} {'throughput':>16}  {'digest':<16}")
    for r in rows:
        extra = f"  p99 {r['latency_us_p99']:.1f} µs/app" if "latency_us_p99" in r else ""
        print(
            f"{r['benchmark']:<38} {r['median_s'] * 1e3:>9.2f}ms {r['cv'] * 100:>5.1f}% "
            f"{r['units_per_s']:>10,.0f} {r['unit'][:5]}/s  {r['digest']}{extra}"
        )
