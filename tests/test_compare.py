"""bankbench compare: statistics, the comparability contract, the CI gate."""

import json

import numpy as np
import pytest

from bench import compare, compare_format

FINGERPRINT = {
    "arch": "x86_64",
    "cpu_model": "test cpu",
    "python": "3.11",
    "kernel": "6",
    "os": "debian",
}
BUILD = {
    "compiler": "12.2.0",
    "flags": "-O2",
    "label": "portable",
    "source_sha256": "abc",
    "cffi_version": "2",
}


def run(run_id, emulated=False, **build):
    return {
        "run_id": run_id,
        "label": run_id,
        "cpu_model": "test cpu",
        "emulated": emulated,
        "fingerprint_json": json.dumps(FINGERPRINT),
        "build_json": json.dumps({**BUILD, **build}),
    }


def samples(run_id, seconds_by_workload, digest="d1"):
    rows = []
    for workload, seconds in seconds_by_workload.items():
        for i, s in enumerate(seconds):
            rows.append(
                {
                    "run_id": run_id,
                    "benchmark": f"{workload}[c-1t-1.0]",
                    "workload": workload,
                    "engine": "c",
                    "threads": 1,
                    "scale": 1.0,
                    "seed": 42,
                    "mode": "batch",
                    "batch_size": None,
                    "round": i,
                    "seconds": s,
                    "digest": digest,
                }
            )
    return rows


def noisy(median, n, seed, spread=0.02):
    return list(median * (1 + spread * np.random.default_rng(seed).standard_normal(n)))


def test_a_against_itself_finds_no_difference():
    data = {f"w{k}": noisy(1.0, 15, k) for k in range(6)}
    result = compare.compare(run("a"), run("b"), samples("a", data), samples("b", data), set())
    assert result.comparable and len(result.rows) == 6
    assert all(r.verdict == "no significant difference" and r.ratio == 1.0 for r in result.rows)
    assert result.geomean[0] == pytest.approx(1.0)


def test_aa_pairs_of_noisy_runs_rarely_flag_anything():
    flagged = total = 0
    for pair in range(20):
        a = {f"w{k}": noisy(1.0, 9, 1000 * pair + k) for k in range(5)}
        b = {f"w{k}": noisy(1.0, 9, 1000 * pair + k + 500) for k in range(5)}
        result = compare.compare(run("a"), run("b"), samples("a", a), samples("b", b), set())
        flagged += sum(r.verdict != "no significant difference" for r in result.rows)
        total += len(result.rows)
    assert flagged <= 0.05 * total


def test_a_slower_candidate_is_worse_and_trips_the_gate():
    base = {"fast": noisy(1.0, 12, 1), "same": noisy(2.0, 12, 2)}
    cand = {"fast": noisy(1.5, 12, 3), "same": noisy(2.0, 12, 4)}
    result = compare.compare(run("a"), run("b"), samples("a", base), samples("b", cand), set())
    rows = {r.benchmark: r for r in result.rows}
    slow = rows["fast[c-1t-1.0]"]
    assert (
        slow.verdict == "worse" and slow.high < 1 and slow.ratio == pytest.approx(1 / 1.5, rel=0.05)
    )
    assert rows["same[c-1t-1.0]"].verdict == "no significant difference"
    assert [r.benchmark for r in compare.regressions(result, 10)] == ["fast[c-1t-1.0]"]
    assert compare.regressions(result, 50) == []
    assert "| `fast[c-1t-1.0]` |" in compare_format.render(result, "markdown")


def test_outputs_that_differ_are_reported_first_and_not_timed():
    data = {"w": noisy(1.0, 5, 1)}
    result = compare.compare(
        run("a"), run("b"), samples("a", data), samples("b", data, digest="d2"), set()
    )
    assert result.outputs_differ == ["w[c-1t-1.0]"] and not result.rows
    assert "OUTPUTS DIFFER" in compare_format.render(result, "table")


def test_emulated_runs_and_other_software_are_not_compared():
    data = {"w": noisy(1.0, 5, 1)}
    emulated = compare.compare(
        run("a"), run("b", emulated=True), samples("a", data), samples("b", data), set()
    )
    assert not emulated.comparable and "emulated" in emulated.refusals[0]
    other_flags = compare.compare(
        run("a"), run("b", flags="-O0"), samples("a", data), samples("b", data), set()
    )
    assert other_flags.not_allowed == ["flags"] and not other_flags.comparable
    allowed = compare.compare(
        run("a"), run("b", flags="-O0"), samples("a", data), samples("b", data), {"flags"}
    )
    assert allowed.comparable and allowed.differences["flags"] == ("-O2", "-O0")
    other_source = compare.compare(
        run("a"), run("b", source_sha256="def"), samples("a", data), samples("b", data), {"flags"}
    )
    assert not other_source.comparable


def test_per_core_and_per_socket_views_use_the_fingerprints():
    """Equal per-thread speed; the candidate has twice the cores per socket."""
    base_facts = {**FINGERPRINT, "physical_cores": 32, "sockets": 2}
    cand_facts = {**FINGERPRINT, "physical_cores": 64, "sockets": 2}
    base, cand = run("a"), run("b")
    base["fingerprint_json"], cand["fingerprint_json"] = (
        json.dumps(base_facts),
        json.dumps(cand_facts),
    )
    data = {f"w{k}": noisy(1.0, 9, k) for k in range(3)}
    result = compare.compare(base, cand, samples("a", data), samples("b", data), set())
    assert result.per_core == pytest.approx(1.0)
    assert result.per_socket == pytest.approx(2.0)
    assert "per socket (most threads, scaled to each socket's cores): 2.000×" in (
        compare_format.render(result, "table")
    )
