"""Imported pytest-benchmark runs are first-class (list, show, export, compare, report, with
parameters kept apart), bad files are refused whole, and `export --format csv` carries every
column of every run kind back intact."""

from __future__ import annotations

import csv
import io
import json
import math
import pathlib

import pytest

from bench import cli, text
from bench.store import SAMPLES, Store

DATA = pathlib.Path(__file__).parent / "data" / "pytest_benchmark"
FILES = {
    "v3": DATA / "pytest-benchmark-v3.json",  # hand-written in 3.2's format: no raw data
    "v5-data": DATA / "pytest-benchmark-v5-data.json",  # pytest-benchmark 5: --benchmark-json
    "v5-nodata": DATA / "pytest-benchmark-v5-nodata.json",  # --benchmark-save, no data
}


def _bankbench(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def imported(tmp_path, capsys):
    store = tmp_path / "store"
    code, out, _ = _bankbench(capsys, "import", *FILES.values(), "--store", store)
    assert code == 0, out
    return store


@pytest.mark.parametrize("version", list(FILES))
def test_an_imported_file_is_a_first_class_run(version, imported, capsys):
    source = json.loads(FILES[version].read_text())
    expected = {b["fullname"]: b["stats"] for b in source["benchmarks"]}
    label = FILES[version].stem
    run = Store(str(imported)).find_run(label)
    assert run["status"] == "imported"
    assert run["pytest_benchmark_version"] == source["version"]  # its own field
    assert run["bankbench_version"] is None
    assert run["git_commit"] == source["commit_info"]["id"]

    rows = Store(str(imported)).samples([run["run_id"]]).to_pylist()
    assert {r["benchmark"] for r in rows} == set(expected)  # parameters keep them apart
    for name, stats in expected.items():
        mine = sorted((r for r in rows if r["benchmark"] == name), key=lambda r: r["round"])
        assert {r["iterations"] for r in mine} == {stats["iterations"]}
        assert [r["seconds"] for r in mine] == stats.get("data", [stats["median"]])
        assert {r["workload"] for r in mine} == {name}

    code, out, _ = _bankbench(capsys, "runs", "--store", imported)
    assert code == 0 and text.terminal(label, 24) in out  # the label column, cut with "…"
    code, out, _ = _bankbench(capsys, "show", label, "--store", imported)
    assert code == 0
    assert all(name in out for name in expected)
    for fmt in ("csv", "json"):
        code, out, _ = _bankbench(capsys, "export", label, "--format", fmt, "--store", imported)
        assert code == 0
        assert all(name in out for name in expected)


def test_parametrized_benchmarks_stay_apart_in_compare_and_report(imported, tmp_path, capsys):
    code, out, err = _bankbench(
        capsys,
        "compare",
        "pytest-benchmark-v5-data",
        "pytest-benchmark-v5-nodata",
        "--format",
        "json",
        "--store",
        imported,
    )
    assert code == 0, err
    compared = {row["benchmark"] for row in json.loads(out)["rows"]}
    assert compared == {
        "test_tiny.py::test_sum[100]",
        "test_tiny.py::test_sum[1000]",
        "test_tiny.py::test_sorted_pedantic",
    }
    code, _, err = _bankbench(
        capsys,
        "report",
        "pytest-benchmark-v5-data",
        "pytest-benchmark-v5-nodata",
        "--store",
        imported,
        "-o",
        tmp_path / "report",
    )
    assert code == 0, err
    report = (tmp_path / "report" / "report.md").read_text()
    assert "test_sum[100]" in report and "test_sum[1000]" in report  # Markdown reads them as text


def _edited(tmp_path, edit) -> pathlib.Path:
    data = json.loads(FILES["v5-data"].read_text())
    edit(data)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))  # json writes NaN and Infinity as pytest-benchmark would
    return path


def _set_data(index, values):
    def edit(data):
        data["benchmarks"][index]["stats"]["data"] = values

    return edit


def _set_median(value):
    def edit(data):
        for benchmark in data["benchmarks"]:
            benchmark["stats"].pop("data")
        data["benchmarks"][1]["stats"]["median"] = value

    return edit


@pytest.mark.parametrize(
    "edit, words",
    [
        (_set_data(1, [1e-6, math.nan]), "nan"),
        (_set_data(1, [math.inf]), "inf"),
        (_set_data(2, [1e-6, 0.0]), "0.0"),
        (_set_data(0, [-2e-6]), "-2e-06"),
        (_set_data(0, []), "empty"),
        (_set_median(None), "None"),
        (_set_median(math.nan), "nan"),
        # the statistics are checked too when the raw data is what gets stored
        (lambda d: d["benchmarks"][1]["stats"].update(median=math.nan), "nan"),
        (lambda d: d["benchmarks"][2]["stats"].update(min=-1e-6, mean=-1e-6), "-1e-06"),
        (lambda d: d["benchmarks"][0]["stats"].update(iterations=0), "iterations 0"),
        (lambda d: d["benchmarks"].append(d["benchmarks"][0]), "appears twice"),
        (lambda d: d.update(benchmarks=[]), "no benchmarks"),
    ],
)
def test_a_bad_file_is_refused_whole_in_one_line(edit, words, tmp_path, capsys):
    """Nothing is written, also from a good file named before the bad one."""
    store = tmp_path / "store"
    bad = _edited(tmp_path, edit)
    code, out, err = _bankbench(capsys, "import", FILES["v3"], bad, "--store", store)
    assert code == 2 and err.count("\n") == 1 and words in err, err
    assert str(bad) in err
    assert not store.exists() or not any(store.rglob("*.parquet"))


def _read_back(text: str) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        quantiles = row["latency_ns_quantiles"]
        row["latency_ns_quantiles"] = json.loads(quantiles) if quantiles else None
    return rows


def test_csv_export_keeps_every_column_of_every_sample_mode(tmp_path, capsys):
    store = tmp_path / "store"
    run = ["run", "-p", "smoke", "-w", "loan.decide,ledger.post", "-e", "c", "-t", "1"]
    code, _, err = _bankbench(capsys, *run, "--label", "modes", "--store", store)
    assert code == 0, err
    code, _, _ = _bankbench(capsys, "import", *FILES.values(), "--store", store)
    assert code == 0
    modes, sources = set(), set()
    for label in ("modes", *(p.stem for p in FILES.values())):
        code, out, err = _bankbench(capsys, "export", label, "--format", "csv", "--store", store)
        assert code == 0, err
        rows = _read_back(out)
        run_id = Store(str(store)).find_run(label)["run_id"]
        stored = Store(str(store)).samples([run_id]).to_pylist()
        assert list(rows[0]) == SAMPLES.names  # every column, in the schema's order
        assert len(rows) == len(stored)
        key = lambda r: (r["benchmark"], str(r["process"]), str(r["round"]))  # noqa: E731
        for written, original in zip(sorted(rows, key=key), sorted(stored, key=key), strict=True):
            assert written["latency_ns_quantiles"] == original["latency_ns_quantiles"]
            assert float(written["seconds"]) == original["seconds"]
            for name in ("benchmark", "mode", "digest", "source"):
                assert written[name] == (original[name] or "")
            assert written["iterations"] == str(original["iterations"] or "")
        modes |= {r["mode"] for r in rows}
        sources |= {r["source"] for r in rows}
    assert modes == {"batch", "online", "capacity", "open-loop", "imported"}
    assert sources == {"bankbench", "pytest-benchmark", "pytest-benchmark median"}


def _file_with(tmp_path, name: str, described: list[tuple[str, dict]]) -> pathlib.Path:
    """A pytest-benchmark file whose benchmarks say what they ran in params or extra_info."""
    data = json.loads(FILES["v5-data"].read_text())
    template = data["benchmarks"][0]
    data["benchmarks"] = [
        {**template, "name": f"test_x[{i}]", "fullname": f"t.py::test_x[{i}]", "params": None,
         "extra_info": {}, where: said}
        for i, (where, said) in enumerate(described)
    ]  # fmt: skip
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_an_imported_benchmarks_scale_and_seed_are_kept_where_the_file_says_them(tmp_path, capsys):
    store = tmp_path / "store"
    shared = _file_with(
        tmp_path,
        "shared.json",
        [("params", {"engine": "c", "scale": 0.002, "seed": 42}),
         ("extra_info", {"scale": 1, "seed": 42})],
    )  # fmt: skip
    theirs = _file_with(
        tmp_path,
        "theirs.json",
        [("params", {"scale": 0.5, "seed": 7}),
         ("params", {"scale": "large", "seed": True}),  # the project's own words, not ours
         ("extra_info", {"scale": float("nan"), "seed": -1})],
    )  # fmt: skip
    code, out, _ = _bankbench(capsys, "import", shared, theirs, "--store", store)
    assert code == 0, out
    for label, expected, run_seed in (
        ("shared", [(0.002, 42), (1.0, 42)], 42),
        ("theirs", [(0.5, 7), (None, None), (None, None)], None),
    ):
        run = Store(str(store)).find_run(label)
        rows = Store(str(store)).samples([run["run_id"]]).to_pylist()
        kept = {r["benchmark"]: (r["scale"], r["seed"]) for r in rows}
        assert [kept[f"t.py::test_x[{i}]"] for i in range(len(expected))] == expected
        assert run["seed"] == run_seed  # a run's seed only where every benchmark shares it
