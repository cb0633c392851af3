"""bankbench compare: statistics, the comparability contract, the CI gate."""

import datetime
import json
import pathlib
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench import cli, compare, scaling
from bench.compare import formats as compare_format
from bench.records import Calibration
from bench.run import PROFILES
from bench.store import Store
from workloads.errors import InputError

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


def run(run_id, emulated=False, status="complete", profile="standard", **build):
    return {
        "run_id": run_id,
        "status": status,
        "profile": profile,
        "label": run_id,
        "cpu_model": "test cpu",
        "emulated": emulated,
        "fingerprint_json": json.dumps(FINGERPRINT),
        "build_json": json.dumps({**BUILD, **build}),
    }


def samples(run_id, seconds_by_workload, digest="d1", threads=1):
    rows = []
    for workload, seconds in seconds_by_workload.items():
        for i, s in enumerate(seconds):
            rows.append(
                {
                    "run_id": run_id,
                    "benchmark": f"{workload}[c-{threads}t-1.0]",
                    "workload": workload,
                    "engine": "c",
                    "threads": threads,
                    "units": 1000,
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
    assert "| fast[c-1t-1.0] | 0." in compare_format.render(result, "markdown")


def test_outputs_that_differ_are_reported_first_and_not_timed():
    data = {"w": noisy(1.0, 5, 1)}
    result = compare.compare(
        run("a"), run("b"), samples("a", data), samples("b", data, digest="d2"), set()
    )
    assert result.outputs_differ == ["w (scale 1, seed 42)"] and not result.rows
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
    """Equal, linear per-thread speed at 1 and 2 threads on 2-core hosts; the candidate's
    socket is measured (2 cores), the baseline's 16-core socket is projected."""
    base_facts = {**FINGERPRINT, "physical_cores": 32, "sockets": 2}
    cand_facts = {**FINGERPRINT, "physical_cores": 2, "sockets": 1}
    base, cand = run("a"), run("b")
    base["fingerprint_json"], cand["fingerprint_json"] = (
        json.dumps(base_facts),
        json.dumps(cand_facts),
    )
    data = {f"w{k}": noisy(1.0, 9, k, spread=0.001) for k in range(3)}
    halved = {k: [s / 2 for s in v] for k, v in data.items()}
    a = samples("a", data) + samples("a", halved, threads=2)
    b = samples("b", data) + samples("b", halved, threads=2)
    result = compare.compare(base, cand, a, b, set())
    assert result.per_core == pytest.approx(1.0, rel=0.01)
    # the baseline's socket: 16 cores at (nearly) linear scaling, against the candidate's 2
    assert result.per_socket == pytest.approx(2 / 16, rel=0.05) and result.per_socket_projected
    assert "(PROJECTED from the measured scaling)" in compare_format.render(result, "table")


def test_amdahl_projection_recovers_the_serial_fraction_and_never_multiplies_by_cores():
    rng = np.random.default_rng(3)
    serial = 0.2
    points = [
        (t, 1000 * t / (1 + serial * (t - 1)) * (1 + 0.01 * rng.standard_normal()))
        for t in (1, 2)
        for _ in range(9)
    ]
    rate = scaling.at(points, 64, cores=2)
    assert rate.projected and rate.measured_threads == 2 and rate.threads == 64
    assert rate.serial_fraction == pytest.approx(serial, abs=0.03)
    assert rate.low < rate.value < rate.high < 64 * 1000
    assert rate.value == pytest.approx(1000 * 64 / (1 + serial * 63), rel=0.15)
    measured = scaling.at(points, 2, cores=2)
    assert not measured.projected and measured.value == pytest.approx(1000 / 0.6, rel=0.02)
    # threads beyond the host's cores are time-sharing: not evidence of scaling
    assert scaling.at([(1, 1000.0), (8, 2000.0)], 8, cores=2) is None


def test_smallest_attainable_p_is_that_of_fully_separated_samples():
    assert compare.smallest_p(3, 3) == pytest.approx(0.1)  # exact: 2 / C(6, 3)
    assert compare.smallest_p(1, 9) == 1.0
    assert compare.smallest_p(12, 12) < 0.001
    n = compare.samples_needed(20)
    assert compare.smallest_p(n, n) * 20 < compare.ALPHA <= compare.smallest_p(n - 1, n - 1) * 20


def test_a_run_against_itself_is_refused():
    data = {"w": noisy(1.0, 5, 1)}
    with pytest.raises(InputError, match="compared with itself"):
        compare.compare(run("a"), run("a"), samples("a", data), samples("a", data), set())


@pytest.mark.parametrize("bad", [0.0, -0.5, float("nan"), float("inf")])
def test_timings_that_are_not_positive_numbers_are_refused(bad):
    data = {"w": noisy(1.0, 5, 1)}
    broken = samples("b", data)
    broken[2]["seconds"] = bad
    with pytest.raises(InputError, match=r"benchmark w\[c-1t-1.0\] has a timing of"):
        compare.compare(run("a"), run("b"), samples("a", data), broken, set())


def test_benchmarks_on_one_side_and_incomplete_runs_are_named():
    base = {"w1": noisy(1.0, 9, 1), "w2": noisy(1.0, 9, 2)}
    cand = {"w1": noisy(1.0, 9, 3), "w3": noisy(1.0, 9, 4)}
    result = compare.compare(
        run("a"), run("b", status="abandoned"), samples("a", base), samples("b", cand), set()
    )
    assert result.only_baseline == ["w2[c-1t-1.0]"] and result.only_candidate == ["w3[c-1t-1.0]"]
    out = compare_format.render(result, "table")
    assert "INCOMPLETE: the candidate (b) is abandoned" in out
    assert "only in the baseline (1 benchmark, not compared): w2[c-1t-1.0]" in out
    assert result.suite_verdict == "insufficient evidence"


def test_weak_data_is_insufficient_evidence_never_no_difference():
    data = {f"w{k}": noisy(1.0, 3, k) for k in range(4)}
    other = {f"w{k}": noisy(1.0, 3, k + 10) for k in range(4)}
    result = compare.compare(
        run("a", profile="smoke"),
        run("b", profile="smoke"),
        samples("a", data),
        samples("b", other),
        set(),
    )
    assert {r.verdict for r in result.rows} == {"insufficient evidence"}
    assert result.suite_verdict == "insufficient evidence"
    assert any("smoke run" in p for p in result.evidence_problems)


# ---- the command: exit codes ----
def _store_run(
    store, run_id, data, profile="standard", status="complete", label=None, emulated=False
):
    record = {
        **run(run_id, profile=profile, status=status, emulated=emulated),
        "label": label or run_id,
        "started_at": datetime.datetime(2026, 11, 28, tzinfo=datetime.timezone.utc),
        "finished_at": None,
        "command_line": "test",
        "bankbench_version": "0",
        "git_commit": None,
        "probes_json": "{}",
    }
    store.write_run(record)
    rows = samples(run_id, data)
    for name in {r["benchmark"] for r in rows}:
        store.write_samples(record, name, [r for r in rows if r["benchmark"] == name])
    return record


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "store"))


def _compare(store, *args):
    return cli.main(["compare", *args, "--store", store.location])


def test_compare_command_refuses_nothing_in_common_and_itself(store, capsys):
    _store_run(store, "20261128T000000-aaaaaaaa", {"w1": noisy(1.0, 9, 1)}, label="x")
    _store_run(store, "20261128T000001-bbbbbbbb", {"w2": noisy(1.0, 9, 2)}, label="y")
    assert _compare(store, "x", "y", "--fail-on-regression", "5") == cli.EXIT_NOT_COMPARABLE
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "NOT COMPARABLE" in out and "no benchmark in common" in out
    assert _compare(store, "x", "x") == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "compared with itself" in err and err.count("\n") == 1


def test_nothing_in_common_names_a_seed_or_scale_difference(store, capsys):
    """The same selection with another seed (or scale) shares no benchmark: say which."""
    base = samples("20261128T000000-aaaaaaaa", {"w1": noisy(1.0, 9, 1)})
    cand = [{**r, "seed": 7} for r in samples("20261128T000001-bbbbbbbb", {"w1": noisy(1.0, 9, 2)})]
    result = compare.compare(
        run("20261128T000000-aaaaaaaa"), run("20261128T000001-bbbbbbbb"), base, cand, set()
    )
    assert result.nothing_in_common
    assert "differ in seed (42 vs 7): rerun one with the other's --seed" in result.refusals[-1]
    rescaled = [{**r, "scale": 0.5} for r in cand]
    result = compare.compare(
        run("20261128T000000-aaaaaaaa"), run("20261128T000001-bbbbbbbb"), base, rescaled, set()
    )
    assert "differ in seed (42 vs 7) and scale (1 vs 0.5)" in result.refusals[-1]
    assert "--seed and --scale" in result.refusals[-1]


def test_a_smoke_gate_cannot_decide_and_says_what_would(store, capsys):
    base = {f"w{k}": noisy(1.0, 3, k) for k in range(6)}
    cand = {f"w{k}": noisy(1.0, 3, k + 10) for k in range(6)}
    _store_run(store, "20261128T000000-aaaaaaaa", base, profile="smoke", label="x")
    _store_run(store, "20261128T000001-bbbbbbbb", cand, profile="smoke", label="y")
    assert _compare(store, "x", "y", "--fail-on-regression", "5") == cli.EXIT_CANNOT_DECIDE
    out = capsys.readouterr().out
    needed = compare.samples_needed(6)
    assert "CANNOT DECIDE whether anything regressed beyond 5 %" in out
    assert "3 against 3 give a smallest Mann–Whitney p of 0.1" in out
    assert f"{needed} samples a side would (--rounds {needed}" in out
    assert _compare(store, "x", "y") == cli.EXIT_OK  # no gate asked: a report, not a failure


def test_a_slowed_candidate_on_the_ci_profile_trips_the_gate_by_name(store, capsys):
    """The ci profile's samples can see a 10 % slowdown of two benchmarks among eight."""
    rounds = PROFILES["ci"].rounds
    base = {f"w{k}": noisy(1.0, rounds, k, spread=0.01) for k in range(8)}
    cand = {f"w{k}": noisy(1.0, rounds, k + 10, spread=0.01) for k in range(8)}
    for slowed in ("w2", "w5"):
        cand[slowed] = [s * 1.10 for s in cand[slowed]]
    _store_run(store, "20261128T000000-aaaaaaaa", base, profile="ci", label="x")
    _store_run(store, "20261128T000001-bbbbbbbb", cand, profile="ci", label="y")
    assert _compare(store, "x", "y", "--fail-on-regression", "5") == cli.EXIT_REGRESSION
    out = capsys.readouterr().out
    gate_line = next(line for line in out.splitlines() if line.startswith("REGRESSION"))
    assert "REGRESSION beyond 5 % in 2 benchmarks: w2[c-1t-1.0] 0.9" in gate_line
    assert "w5[c-1t-1.0] 0.9" in gate_line and "w3" not in gate_line
    assert _compare(store, "x", "y", "--fail-on-regression", "20") == cli.EXIT_OK


def test_refused_runs_say_why_in_every_format_and_csv_on_stderr(store, capsys):
    """`compare --format csv` of a refused pair printed the CSV header and no reason."""
    import csv

    data = {"w": noisy(1.0, 9, 1)}
    _store_run(store, "20261128T000000-aaaaaaaa", data, label="x")
    _store_run(store, "20261128T000001-bbbbbbbb", data, label="y", emulated=True)
    reason = "the candidate ran emulated (20261128T000001-bbbbbbbb): its timings are invalid"
    assert _compare(store, "x", "y", "--format", "csv") == cli.EXIT_NOT_COMPARABLE
    out, err = capsys.readouterr()
    assert [row[0] for row in csv.reader(out.splitlines())] == ["benchmark"]  # header only
    assert err == f"bankbench: NOT COMPARABLE: {reason}\n"
    assert _compare(store, "x", "y", "--format", "json") == cli.EXIT_NOT_COMPARABLE
    out, err = capsys.readouterr()
    assert json.loads(out)["refusals"] == [reason] and not err
    assert _compare(store, "x", "y", "--format", "markdown") == cli.EXIT_NOT_COMPARABLE
    out, err = capsys.readouterr()
    assert "NOT COMPARABLE: the candidate ran emulated" in out and not err


@pytest.mark.parametrize("status", ["abandoned", "incomplete"])
def test_a_gate_against_a_run_that_did_not_finish_never_passes(store, capsys, status):
    """The candidate's process died after one of its two benchmarks: the finished one has not
    regressed, and compare --fail-on-regression exited 0 on it."""
    rounds = PROFILES["ci"].rounds * PROFILES["ci"].processes
    base = {f"w{k}": noisy(1.0, rounds, k, spread=0.01) for k in range(2)}
    cand = {"w0": noisy(1.0, rounds, 10, spread=0.01)}
    _store_run(store, "20261128T000000-aaaaaaaa", base, profile="ci", label="x")
    _store_run(store, "20261128T000001-bbbbbbbb", cand, profile="ci", label="y", status=status)
    gate = ["--fail-on-regression", "5"]
    assert _compare(store, "x", "y", *gate) == cli.EXIT_NOT_COMPARABLE
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if "GATE" in line] == [
        "GATE NOT PASSED (exit 4): the 5 % regression gate cannot pass: the candidate "
        f"(20261128T000001-bbbbbbbb) is {status}, and the benchmarks it did not finish may "
        "have regressed; gate on runs that completed"
    ]
    assert _compare(store, "x", "y", *gate, "--format", "csv") == cli.EXIT_NOT_COMPARABLE
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "5 % regression gate cannot pass" in err
    assert out.splitlines()[1].startswith("w0[c-1t-1.0],")
    assert _compare(store, "x", "y", *gate, "--format", "json") == cli.EXIT_NOT_COMPARABLE
    assert json.loads(capsys.readouterr().out)["gate"]["outcome"] == "incomplete"
    # no gate asked: the comparison with its warning, as before
    assert _compare(store, "x", "y") == cli.EXIT_OK
    assert f"INCOMPLETE: the candidate (20261128T000001-bbbbbbbb) is {status}" in (
        capsys.readouterr().out
    )
    # a regression among the finished benchmarks is still reported as one
    slower = {"w0": [s * 1.2 for s in cand["w0"]]}
    _store_run(store, "20261128T000002-cccccccc", slower, profile="ci", label="z", status=status)
    assert _compare(store, "x", "z", *gate) == cli.EXIT_REGRESSION


def test_the_noise_floor_message_counts_the_calibrated_benchmarks():
    data = {f"w{k}": noisy(1.0, 9, k) for k in range(4)}
    floor = {"w1[c-1t-1.0]": 0.02, "other[c-1t-1.0]": 0.5}
    result = compare.compare(
        run("a"), run("b"), samples("a", data), samples("b", data), set(), noise_floor=floor
    )
    assert result.calibrated == 1
    assert "noise floor: 1 of 4 compared benchmarks calibrated" in compare_format.render(
        result, "table"
    )
    none = compare.compare(
        run("a"), run("b"), samples("a", data), samples("b", data), set(), noise_floor={}
    )
    assert "none of the 4 compared benchmarks is calibrated" in compare_format.render(none, "table")


def test_a_noisy_calibration_is_flagged():
    rows = [
        Calibration("c", "ra", "rb", name, "w", "c", 1, 3, 0.1, 1.0, 0.9, 1.1, change)
        for name, change in (("a", 0.03), ("b", 42.89))
    ]
    message = compare.noisy_calibration(rows)
    assert (
        message.startswith("TOO NOISY") and "1 of 2 benchmarks" in message and "4289 %" in message
    )
    assert compare.noisy_calibration(rows[:1]) is None


def test_imported_runs_are_not_incomplete_and_very_noisy_rows_are_insufficient_evidence():
    """Imported runs are first-class; a row whose samples vary by more than 1000 % shows
    nothing, so it says 'insufficient evidence', never 'no significant difference'."""
    spiky = [0.001] * 199 + [1000.0]  # CV about 1400 %
    base = {"steady": noisy(1.0, 200, 1), "spiky": spiky}
    cand = {"steady": noisy(1.0, 200, 2), "spiky": spiky[::-1]}
    result = compare.compare(
        run("a", status="imported"),
        run("b", status="imported"),
        samples("a", base),
        samples("b", cand),
        set(),
    )
    assert result.incomplete == []
    spiky_row = next(r for r in result.rows if r.benchmark.startswith("spiky"))
    assert spiky_row.baseline_cv > 10 and spiky_row.verdict == "insufficient evidence"
    for fmt in ("table", "markdown"):
        out = compare_format.render(result, fmt)
        assert "INCOMPLETE" not in out
        line = next(x for x in out.splitlines() if "spiky" in x)
        assert "insufficient evidence" in line and "no significant difference" not in line


def test_compare_prints_each_store_warning_once(store, capsys):
    _store_run(store, "20261128T000000-aaaaaaaa", {"w1": noisy(1.0, 9, 1)}, label="x")
    _store_run(store, "20261128T000001-bbbbbbbb", {"w1": noisy(1.0, 9, 2)}, label="y")
    folder = pathlib.Path(store.location) / "samples"
    sample = next(p for p in folder.rglob("*.parquet") if "bbbbbbbb" in str(p))
    (sample.parent / "junk.parquet").write_bytes(b"not parquet")  # an unreadable file
    (sample.parent / "threads=abc").mkdir()  # a hive folder whose value is not a thread count
    shutil.copy(sample, sample.parent / "threads=abc" / sample.name)
    _compare(store, "x", "y")
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert any("junk.parquet" in line for line in warned)
    assert any("threads=abc" in line for line in warned)
    assert len(warned) == len(set(warned)), warned


def test_a_run_whose_fingerprint_says_emulated_is_refused_whatever_its_column_says(store, capsys):
    """The runs-table column edited to False after the fact: the fingerprint in the same row
    (its flag, or its facts alone) still says emulated, and compare refuses the timings."""
    foreign = {"verdict": "foreign", "why": "the kernel is x86_64, the Python aarch64"}
    emulated = {**FINGERPRINT, "emulated": True, "emulation_facts": {"kernel": foreign}}
    data = {"w1": noisy(1.0, 9, 1)}
    _store_run(store, "20261128T000000-aaaaaaaa", data, label="x86")
    _store_run(store, "20261128T000001-bbbbbbbb", data, label="qemu")
    path = next(pathlib.Path(store.location).rglob("20261128T000001-bbbbbbbb.parquet"))
    for recorded in (emulated, {**emulated, "emulated": False}):
        table = pq.read_table(path)
        table = table.set_column(
            table.schema.get_field_index("fingerprint_json"),
            "fingerprint_json",
            pa.array([json.dumps(recorded)]),
        )
        table = table.set_column(
            table.schema.get_field_index("emulated"), "emulated", pa.array([False])
        )
        pq.write_table(table, path)
        assert _compare(store, "x86", "qemu") == cli.EXIT_NOT_COMPARABLE, recorded
        assert "the candidate ran emulated" in capsys.readouterr().out


# ---- per-workload sources and versions (samples with workload_source_sha256/_version) ----
LOAN_AND_LEDGER = {"loan.score": noisy(1.0, 9, 11), "ledger.post": noisy(2.0, 9, 12)}


def _with_workload_sources(rows, sources, versions=None):
    """Sample rows as a store with the per-workload columns returns them."""
    versions = versions or {}
    return [
        {
            **r,
            "workload_source_sha256": sources[r["workload"]],
            "workload_version": versions.get(r["workload"], 1),
        }
        for r in rows
    ]


def test_a_changed_workload_source_refuses_exactly_its_benchmarks_and_the_rest_compare():
    """ledger.c changed: the core's one source hash differs, yet loan.score still compares and
    ledger.post alone is refused by name as "source changed"."""
    before = {"loan.score": "loan-1", "ledger.post": "ledger-1"}
    after = {"loan.score": "loan-1", "ledger.post": "ledger-2"}
    result = compare.compare(
        run("a", source_sha256="core-1"),
        run("b", source_sha256="core-2"),
        _with_workload_sources(samples("a", LOAN_AND_LEDGER), before),
        _with_workload_sources(samples("b", LOAN_AND_LEDGER), after),
        set(),
    )
    assert result.comparable and not result.refusals
    assert [r.benchmark for r in result.rows] == ["loan.score[c-1t-1.0]"]
    assert result.refused == {"ledger.post[c-1t-1.0]": compare.SOURCE_CHANGED}
    out = compare_format.render(result, "table")
    assert "not comparable: source changed: ledger.post[c-1t-1.0]" in out
    assert any(line.startswith("loan.score[c-1t-1.0]") and "×" in line for line in out.split("\n"))
    assert json.loads(compare_format.render(result, "json"))["refused"] == {
        "ledger.post[c-1t-1.0]": "source changed"
    }
    # a gate cannot pass on benchmarks it did not compare
    assert compare.gate(result, 5).outcome == "incomplete"
    from reports import verdict  # the report names them too

    assert "Not comparable: source changed: ledger.post[c-1t-1.0]." in verdict._how_sure(result)


def test_a_changed_workload_version_refuses_exactly_that_workload():
    sources = {"loan.score": "loan-1", "ledger.post": "ledger-1"}
    result = compare.compare(
        run("a"),
        run("b"),
        _with_workload_sources(samples("a", LOAN_AND_LEDGER), sources),
        _with_workload_sources(samples("b", LOAN_AND_LEDGER), sources, {"loan.score": 2}),
        set(),
    )
    assert result.refused == {"loan.score[c-1t-1.0]": compare.VERSION_CHANGED}
    assert [r.benchmark for r in result.rows] == ["ledger.post[c-1t-1.0]"]
    assert "not comparable: workload version changed: loan.score[c-1t-1.0]" in (
        compare_format.render(result, "markdown").replace("\\", "")
    )


def test_every_benchmark_refused_is_not_comparable():
    result = compare.compare(
        run("a"),
        run("b"),
        _with_workload_sources(
            samples("a", LOAN_AND_LEDGER), {"loan.score": "1", "ledger.post": "1"}
        ),
        _with_workload_sources(
            samples("b", LOAN_AND_LEDGER), {"loan.score": "2", "ledger.post": "2"}
        ),
        set(),
    )
    assert not result.comparable and not result.rows
    assert set(result.refused) == {"loan.score[c-1t-1.0]", "ledger.post[c-1t-1.0]"}
    out = compare_format.render(result, "table")
    assert "every benchmark in common is not comparable" in out
    assert "not comparable: source changed: ledger.post[c-1t-1.0], loan.score[c-1t-1.0]" in out


def test_without_the_per_workload_columns_the_core_source_hash_refuses_the_whole_run():
    """Old stores (or one side without the columns): today's run-level contract."""
    sources = {"loan.score": "loan-1", "ledger.post": "ledger-1"}
    for base_rows in (
        samples("a", LOAN_AND_LEDGER),
        _with_workload_sources(samples("a", LOAN_AND_LEDGER), sources),
    ):
        result = compare.compare(
            run("a", source_sha256="core-1"),
            run("b", source_sha256="core-2"),
            base_rows,
            samples("b", LOAN_AND_LEDGER),
            set(),
        )
        assert not result.comparable and not result.rows and not result.refused
        assert "sources differ (source_sha256)" in result.refusals[0]


@pytest.mark.parametrize(
    ("base_sha", "cand_sha", "unknown"),
    [
        (None, "core-1", "baseline"),
        ("core-1", "", "candidate"),
    ],
)
def test_a_side_without_the_core_source_hash_is_refused_as_unknown_not_as_different(
    base_sha, cand_sha, unknown
):
    """An imported file keeps no source_sha256: against a run that has one, the refusal says
    it is not recorded (nothing proves one program), not that the sources differ. (Two files
    without it, say two imports from another project, are not refused for it.)"""
    result = compare.compare(
        run("a", source_sha256=base_sha),
        run("b", source_sha256=cand_sha),
        samples("a", LOAN_AND_LEDGER),
        samples("b", LOAN_AND_LEDGER),
        set(),
    )
    assert not result.comparable and not result.rows
    assert result.refusals[0].startswith(f"the {unknown} recorded no hash of the C core's sources")
    assert "differ" not in result.refusals[0]


def test_a_build_field_one_side_did_not_record_is_named_as_not_recorded_not_as_a_difference():
    from bench.compare import formats

    result = compare.compare(
        run("a"),
        run("b", compiler=None, flags="-O3"),
        samples("a", LOAN_AND_LEDGER),
        samples("b", LOAN_AND_LEDGER),
        set(),
    )
    assert formats.why_not_compared(result) == (
        "NOT COMPARABLE: software differs in flags; not recorded on one side (an import keeps "
        "no build record): compiler (allow with --allow compiler,flags)"
    )


def test_compare_command_names_the_refused_benchmarks_and_gates_on_them(store, capsys, monkeypatch):
    """A store whose samples carry the per-workload columns (the store returns them as extra
    columns): the command compares loan.score, names ledger.post as refused, exits 0 without a
    gate and 4 with one."""
    _store_run(store, "20261128T000000-aaaaaaaa", LOAN_AND_LEDGER, label="x")
    _store_run(store, "20261128T000001-bbbbbbbb", LOAN_AND_LEDGER, label="y")
    ledger_source = {"20261128T000000-aaaaaaaa": "ledger-1", "20261128T000001-bbbbbbbb": "ledger-2"}
    stored = Store.samples

    def with_columns(self, run_ids=None):
        rows = stored(self, run_ids).to_pylist()
        for r in rows:
            is_ledger = r["workload"] == "ledger.post"
            r["workload_source_sha256"] = ledger_source[r["run_id"]] if is_ledger else "loan-1"
            r["workload_version"] = 1
        return pa.Table.from_pylist(rows)

    monkeypatch.setattr(Store, "samples", with_columns)
    assert _compare(store, "x", "y") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "not comparable: source changed: ledger.post[c-1t-1.0]" in out
    assert "loan.score[c-1t-1.0]" in out and "NOT COMPARABLE" not in out
    assert _compare(store, "x", "y", "--fail-on-regression", "50") == cli.EXIT_NOT_COMPARABLE
    assert (
        "not comparable (their workloads' sources or versions changed)" in capsys.readouterr().out
    )
    assert _compare(store, "x", "y", "--format", "csv") == cli.EXIT_OK
    captured = capsys.readouterr()
    assert "loan.score" in captured.out and "ledger.post" not in captured.out
    assert "not comparable: source changed: ledger.post[c-1t-1.0]" in captured.err


def test_refused_benchmarks_count_in_no_suite_view():
    """ledger.post refused (its source changed) and 4× faster on the candidate: the geometric
    mean, per core and per socket are loan.score's alone (equal speed)."""
    facts = {**FINGERPRINT, "physical_cores": 2, "sockets": 1}
    base, cand = run("a"), run("b")
    base["fingerprint_json"] = cand["fingerprint_json"] = json.dumps(facts)
    loan = {"loan.score": noisy(1.0, 9, 21, spread=0.001)}
    ledger = {"ledger.post": noisy(1.0, 9, 22, spread=0.001)}
    faster = {"ledger.post": [s / 4 for s in ledger["ledger.post"]]}

    def both_thread_counts(run_id, data):
        halved = {k: [s / 2 for s in v] for k, v in data.items()}
        return samples(run_id, data) + samples(run_id, halved, threads=2)

    a = both_thread_counts("a", {**loan, **ledger})
    b = both_thread_counts("b", {**loan, **faster})
    result = compare.compare(
        base,
        cand,
        _with_workload_sources(a, {"loan.score": "loan-1", "ledger.post": "ledger-1"}),
        _with_workload_sources(b, {"loan.score": "loan-1", "ledger.post": "ledger-2"}),
        set(),
    )
    assert set(result.refused) == {"ledger.post[c-1t-1.0]", "ledger.post[c-2t-1.0]"}
    assert {r.benchmark for r in result.rows} == {"loan.score[c-1t-1.0]", "loan.score[c-2t-1.0]"}
    assert result.geomean[0] == pytest.approx(1.0, rel=0.01)
    assert result.per_core == pytest.approx(1.0, rel=0.01)
    assert result.per_socket == pytest.approx(1.0, rel=0.01)


def test_one_sample_shows_no_interval_and_no_spread():
    """A Python benchmark runs one round: its "CV 0.0%" and "1.020–1.020" read as exact."""
    one = {"single": [1.0]}
    result = compare.compare(
        run("a"), run("b"), samples("a", one), samples("b", {"single": [0.98]}), set()
    )
    assert result.rows[0].interval() == "n=1"
    assert "1.020–1.020" not in compare_format.render(result, "markdown")
    assert "| n=1 |" in compare_format.render(result, "markdown")
    assert "n=1" in compare_format.render(result, "text")
    from bench import summary

    assert summary.spread(None) == "n=1" and summary.spread(0.0123) == "1.2%"


def test_an_import_against_a_native_run_says_why_nothing_pairs():
    """A run exported and imported again kept its names, and compare advised "run the same
    selection on both", which it was."""
    native = samples("a", {"w": noisy(1.0, 5, 1)})
    imported = [{**s, "mode": "imported", "engine": None, "threads": None} for s in native]
    result = compare.compare(run("a"), run("b"), native, imported, set())
    assert not result.rows
    said = " ".join(result.refusals)
    assert "pair only with another imported file's" in said
    assert "run the same selection" not in said


def test_a_case_that_ran_on_fewer_threads_is_labelled_so_in_the_report():
    """A smoke run's 2-thread C cases ran on 1 thread (too little work to split), and the
    report's charts and tables called them "(2 threads)"."""
    from reports import analysis, verdict

    base = [{**s, "threads_used": 1} for s in samples("a", {"w": noisy(1.0, 5, 1)}, threads=2)]
    cand = [{**s, "threads_used": 1} for s in samples("b", {"w": noisy(1.0, 5, 2)}, threads=2)]
    (row,) = compare.compare(run("a"), run("b"), base, cand, set()).rows
    assert row.threads == 2 and row.threads_used == 1
    assert analysis.describe_row(row).endswith("2 threads (ran on 1 thread)")
    assert verdict._headline_label("w", row).endswith("(2 threads, ran on 1)")
    whole = [{**s, "threads_used": 2} for s in base]
    (row,) = compare.compare(run("a"), run("b"), whole, whole, set()).rows
    assert "ran on" not in analysis.describe_row(row) + verdict._headline_label("w", row)
