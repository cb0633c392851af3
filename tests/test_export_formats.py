"""`bankbench export --format pytest-benchmark | bencher | github-action-benchmark`: the files
the history tools read. pytest-benchmark's round-trips through `bankbench import` with the same
medians and is read by `pytest-benchmark compare`; the Bencher file holds the fields of the
documented BMF schema; github-action-benchmark's has the custom tools' fields."""

import json
import statistics
import subprocess
import sys

import pytest

from bench import cli, export
from bench.store import Store

# Bencher Metric Format's JSON schema, as bencher.dev/docs/reference/bencher-metric-format
# documents it: {benchmark: {measure: {value (required), lower_value, upper_value}}}
BMF_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema",
    "type": "object",
    "patternProperties": {
        ".+": {
            "type": "object",
            "patternProperties": {
                ".+": {
                    "type": "object",
                    "properties": {
                        "value": {"type": "number"},
                        "lower_value": {"type": "number"},
                        "upper_value": {"type": "number"},
                    },
                    "required": ["value"],
                }
            },
        }
    },
}
BMF_MEASURE_SLUG_LENGTH_MAX = 64
BMF_BENCHMARK_NAME_LENGTH_MAX = 1024


def _row(run_id, benchmark, i, seconds, mode="batch", **extra):
    return {
        "run_id": run_id,
        "benchmark": benchmark,
        "workload": benchmark.split("[")[0],
        "engine": "c",
        "threads": 1,
        "units": 1000,
        "scale": 0.002,
        "seed": 42,
        "mode": mode,
        "batch_size": 16 if mode == "capacity" else None,
        "round": i,
        "seconds": seconds,
        "iterations": 7,
        "digest": "d1",
        **extra,
    }


TIMES = {
    "loan.score[c-1t-0.002]": [0.0021, 0.0019, 0.0020, 0.0031, 0.0020],
    "ledger.post[c-2t-0.002]": [0.011, 0.012],  # an even count: the median is a mean of two
}


@pytest.fixture
def store(tmp_path, stored_run):
    store = Store(str(tmp_path / "store"))
    rows = [_row("timed", b, i, s) for b, times in TIMES.items() for i, s in enumerate(times)]
    rows += [
        _row("timed", "loan.decide[c-capacity-1t-0.002-batch16]", i, 0.05, "capacity",
             latency_ns_p99=40_000 + 1000 * i)
        for i in range(3)
    ]  # fmt: skip
    stored_run(store, "timed", rows)
    counted = [
        _row("counted", b, 0, 0.0, measure="instructions", instructions=1_234_000) for b in TIMES
    ]
    stored_run(store, "counted", counted)
    return store


def _export(store, run, fmt, capsys):
    assert cli.main(["export", run, "--format", fmt, "--store", store.location]) == 0
    return json.loads(capsys.readouterr().out)


def _medians(store, run_id):
    rows = store.samples([run_id]).to_pylist()
    return {
        b: statistics.median(r["seconds"] for r in rows if r["benchmark"] == b)
        for b in {r["benchmark"] for r in rows}
    }


def test_pytest_benchmark_file_round_trips_through_import_with_the_same_medians(
    store, capsys, tmp_path
):
    document = _export(store, "timed", "pytest-benchmark", capsys)
    path = tmp_path / "timed.json"
    path.write_text(json.dumps(document))
    assert cli.main(["import", str(path), "--store", store.location]) == 0
    imported = [r for r in store.runs().to_pylist() if r["status"] == "imported"]
    (run,) = imported
    assert _medians(store, run["run_id"]) == _medians(store, "timed")  # exactly: same floats
    rows = store.samples([run["run_id"]]).to_pylist()
    assert {(r["scale"], r["seed"]) for r in rows} == {(0.002, 42)}  # kept, not lost
    assert run["seed"] == 42  # every benchmark's, so the run's
    stats = {b["name"]: b["stats"] for b in document["benchmarks"]}
    assert stats["loan.score[c-1t-0.002]"]["median"] == 0.0020
    assert stats["loan.score[c-1t-0.002]"]["iterations"] == 7
    assert stats["ledger.post[c-2t-0.002]"]["rounds"] == 2
    assert document["commit_info"]["id"] == "0123abc"


def test_pytest_benchmark_compare_reads_the_file(store, capsys, tmp_path):
    path = tmp_path / "0001_timed.json"
    path.write_text(json.dumps(_export(store, "timed", "pytest-benchmark", capsys)))
    # pytest-benchmark's own CLI (its console script's entry point, run by this Python: a
    # venv whose packages were installed without scripts, as the emulated root's, has it too)
    cli = "from pytest_benchmark.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", cli, "compare", str(path), "--columns", "min,median,rounds"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Failed to load" not in result.stdout + result.stderr
    for name in TIMES:
        assert name in result.stdout
    assert "benchmark 'loan.score'" in result.stdout  # grouped by workload


def test_a_counted_run_is_not_a_pytest_benchmark_file(store, capsys):
    assert cli.main(["export", "counted", "--format", "pytest-benchmark", "--store",
                     store.location]) == 2  # fmt: skip
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "has no timed samples" in error and "bencher" in error


def _bmf_checked(document: dict) -> None:
    """The documented schema, with jsonschema when installed, and always by hand."""
    try:
        import jsonschema
    except ImportError:
        pass
    else:
        jsonschema.validate(document, BMF_SCHEMA)
    assert isinstance(document, dict) and document
    for benchmark, measures in document.items():
        assert 0 < len(benchmark) <= BMF_BENCHMARK_NAME_LENGTH_MAX
        assert isinstance(measures, dict) and measures
        for measure, metric in measures.items():
            assert 0 < len(measure) <= BMF_MEASURE_SLUG_LENGTH_MAX
            assert set(metric) <= {"value", "lower_value", "upper_value"} and "value" in metric
            assert all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       for v in metric.values())  # fmt: skip
            assert metric.get("lower_value", metric["value"]) <= metric["value"]
            assert metric["value"] <= metric.get("upper_value", metric["value"])


def test_bencher_metric_format_holds_latency_throughput_and_our_measures(store, capsys):
    timed = _export(store, "timed", "bencher", capsys)
    _bmf_checked(timed)
    score = timed["loan.score[c-1t-0.002]"]
    assert score["latency"] == {"value": 2.0e6, "lower_value": 1.9e6, "upper_value": 3.1e6}
    assert score["throughput"]["value"] == pytest.approx(1000 / 0.0020)
    capacity = timed["loan.decide[c-capacity-1t-0.002-batch16]"]
    assert capacity["latency-p99"]["value"] == 41_000 and capacity["capacity"]["value"] == 20_000
    assert "throughput" not in capacity
    counted = _export(store, "counted", "bencher", capsys)
    _bmf_checked(counted)
    assert counted["loan.score[c-1t-0.002]"] == {
        "instructions-per-unit": {"value": 1234.0, "lower_value": 1234.0, "upper_value": 1234.0}
    }
    used = {m for doc in (timed, counted) for ms in doc.values() for m in ms}
    assert used == set(export.BENCHER_MEASURES)


def test_github_action_benchmark_custom_json(store, capsys):
    timed = _export(store, "timed", "github-action-benchmark", capsys)
    assert isinstance(timed, list)
    for entry in timed:
        assert {"name", "unit", "value"} <= set(entry) <= {"name", "unit", "value", "range",
                                                           "extra"}  # fmt: skip
        assert isinstance(entry["value"], float) and isinstance(entry["name"], str)
    by_name = {e["name"]: e for e in timed}
    assert by_name["loan.score[c-1t-0.002]"]["unit"] == "ns/call"
    assert by_name["loan.score[c-1t-0.002]"]["value"] == pytest.approx(2.0e6)
    assert by_name["loan.decide[c-capacity-1t-0.002-batch16] p99"]["value"] == 41_000
    assert len(by_name) == len(timed)  # one series per name
    counted = _export(store, "counted", "github-action-benchmark", capsys)
    assert [(e["unit"], e["value"]) for e in counted] == [("instructions/unit", 1234.0)] * 2


def test_an_import_of_bankbenchs_own_export_keeps_what_each_benchmark_is(store, capsys, tmp_path):
    """Imported, a bankbench export lost its workload, engine, threads, mode, units and
    digest: `show` had no throughput or digest, and no key paired with the run it came from.
    Another project's file, or one benchmark that says less, keeps the generic import."""
    from bench.compare.contract import group_by_key

    document = _export(store, "timed", "pytest-benchmark", capsys)
    path = tmp_path / "timed.json"
    path.write_text(json.dumps(document))
    assert cli.main(["import", str(path), "--store", store.location, "--label", "back"]) == 0
    (run,) = [r for r in store.runs().to_pylist() if r["label"] == "back"]
    rows = store.samples([run["run_id"]]).to_pylist()
    original = store.samples(["timed"]).to_pylist()
    fields = ("workload", "engine", "threads", "mode", "batch_size", "units", "digest")
    assert {tuple(r[f] for f in fields) for r in rows} == {
        tuple(r[f] for f in fields) for r in original
    }
    assert set(group_by_key(rows)) == set(group_by_key(original))  # every key pairs
    capsys.readouterr()
    assert cli.main(["show", run["run_id"], "--store", store.location]) == 0
    assert "/s" in capsys.readouterr().out  # a throughput: units came back

    for name, change in (
        ("other", lambda d: d["commit_info"].update(project="someone-else")),
        ("partial", lambda d: d["benchmarks"][0]["params"].pop("threads")),
    ):
        altered = json.loads(json.dumps(document))
        change(altered)
        other = tmp_path / f"{name}.json"
        other.write_text(json.dumps(altered))
        assert cli.main(["import", str(other), "--store", store.location, "--label", name]) == 0
        (run,) = [r for r in store.runs().to_pylist() if r["label"] == name]
        modes = {r["mode"] for r in store.samples([run["run_id"]]).to_pylist()}
        assert modes == {"imported"}, name


def test_an_exports_open_loop_points_do_not_make_its_timed_benchmarks_generic(
    store, capsys, tmp_path
):
    """A default run has open-loop sweeps: its export holds their points (mode "open-loop", a
    rate, not a timed call). Imported, they come in as generic benchmarks; the timed ones keep
    what they are, so show has throughputs and compare pairs them with the run."""
    document = _export(store, "timed", "pytest-benchmark", capsys)
    point = json.loads(json.dumps(document["benchmarks"][0]))
    point["name"] = point["fullname"] = "ledger.post[c-open-loop-1t-0.1]"
    point["params"]["mode"] = "open-loop"
    document["benchmarks"].append(point)
    path = tmp_path / "with-open-loop.json"
    path.write_text(json.dumps(document))
    assert cli.main(["import", str(path), "--store", store.location, "--label", "ol"]) == 0
    (run,) = [r for r in store.runs().to_pylist() if r["label"] == "ol"]
    modes = {r["benchmark"]: r["mode"] for r in store.samples([run["run_id"]]).to_pylist()}
    assert modes.pop("ledger.post[c-open-loop-1t-0.1]") == "imported"
    original = {r["benchmark"]: r["mode"] for r in store.samples(["timed"]).to_pylist()}
    assert modes == original  # every timed benchmark restored
