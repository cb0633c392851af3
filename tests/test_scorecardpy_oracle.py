"""The scorecardpy oracle: a card exported by scorecardpy's scorecard(), converted with
workloads.loan.scorecard.from_scorecardpy, scores the German credit data exactly as
scorecardpy's scorecard_ply does, on every engine — with nulls too: missing bins alone and
joined with other bins, and nulls in variables that have no missing bin (no points, and
the row's missing_variables names the variable).

Runs where scorecardpy is installed: `tox -e scorecardpy` (it needs pandas<3 and
setuptools<82, so it lives in its own environment); skipped elsewhere."""

import numpy as np
import pyarrow as pa
import pytest

sc = pytest.importorskip("scorecardpy")
pd = pytest.importorskip("pandas")
linear_model = pytest.importorskip("sklearn.linear_model")

from workloads import registry  # noqa: E402
from workloads.loan import score  # noqa: E402
from workloads.loan import scorecard as cards  # noqa: E402

# scorecardpy and scikit-learn warn about their own deprecations; not ours to fix
pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning"
)

TARGET = "creditability"
# workloads.md §3.4: fixed bins and fixed coefficients (no fitting): a bit-stable card
BREAKS = {
    "duration_in_month": [8, 16, 34, 44],
    "credit_amount": [1400, 1800, 4000, 9200],
    "age_in_years": [26, 28, 35, 37],
    "status_of_existing_checking_account": [
        "... < 0 DM%,%0 <= ... < 200 DM",
        "... >= 200 DM / salary assignments for at least 1 year",
        "no checking account",
    ],
    "credit_history": [
        "no credits taken/ all credits paid back duly%,%all credits at this bank paid back duly",
        "existing credits paid back duly till now",
        "delay in paying off in the past",
        "critical account/ other credits existing (not at this bank)",
    ],
    "savings_account_and_bonds": [
        "... < 100 DM",
        "100 <= ... < 500 DM",
        "500 <= ... < 1000 DM%,%... >= 1000 DM%,%unknown/ no savings account",
    ],
}
COEFFICIENTS = [0.70, 0.80, 0.75, 0.80, 0.70, 0.80]


@pytest.fixture(scope="module")
def german():
    data = sc.germancredit()
    data[TARGET] = (data[TARGET] == "bad").astype(int)
    return data


def card_rows(card) -> list[dict]:
    return pd.concat(card.values())[["variable", "bin", "points"]].to_dict("records")


def our_scores(data, card_rows_, engine) -> list[int]:
    ours = cards.from_scorecardpy(card_rows_)
    schema = ours.input_schema()
    columns = {}
    for v in ours.variables:
        if schema[v.name] == pa.string():
            columns[v.name] = pa.array(data[v.name].astype(str).tolist(), pa.string())
        else:
            columns[v.name] = pa.array(data[v.name].astype("int64").to_numpy())
    applicants = pa.table(
        {"applicant_id": pa.array(np.arange(len(data), dtype=np.uint64)), **columns}
    )
    out = registry.get("loan.score").run(
        {"applicants": applicants, "scorecard": cards.as_table(ours)}, engine=engine, threads=2
    )
    assert set(out["scores"].column("status").to_pylist()) == {0}
    return out["scores"].column("score").to_pylist()


def fixed_model(xcolumns):
    model = linear_model.LogisticRegression()
    model.coef_ = np.array([COEFFICIENTS])
    model.intercept_ = np.array([-0.85])
    model.classes_ = np.array([0, 1])
    return model


@pytest.mark.parametrize("engine", ["c", "numpy", "python"])
def test_fixed_card_matches_scorecard_ply(german, engine):
    keep = [*BREAKS, TARGET]
    bins = sc.woebin(german[keep], y=TARGET, breaks_list=BREAKS, no_cores=1)
    xcolumns = [f"{v}_woe" for v in BREAKS]
    card = sc.scorecard(bins, fixed_model(xcolumns), xcolumns)
    expected = (
        sc.scorecard_ply(german[keep], card, only_total_score=True)["score"].astype(int).tolist()
    )
    assert sum(expected) == 469757  # the §3.4 known answer, from scorecardpy itself
    assert our_scores(german, card_rows(card), engine) == expected


@pytest.mark.parametrize("engine", ["c", "python"])
def test_fitted_card_matches_scorecard_ply(german, engine):
    """The usual recipe: tree binning of every variable, a fitted model; whatever bins and
    points scorecardpy produces, we score the same."""
    selected = sc.var_filter(german, y=TARGET)
    bins = sc.woebin(selected, y=TARGET, no_cores=1)
    woe = sc.woebin_ply(selected, bins)
    x = woe.drop(columns=[TARGET])
    model = linear_model.LogisticRegression(penalty="l1", C=0.9, solver="saga", max_iter=5000)
    model.fit(x, woe[TARGET])
    card = sc.scorecard(bins, model, x.columns)
    expected = sc.scorecard_ply(selected, card, only_total_score=True)["score"].astype(int).tolist()
    assert our_scores(selected, card_rows(card), engine) == expected


# woebin writes a missing bin where the breaks name 'missing' (joined with the bin beside it)
# and, alone, where the binned data has nulls and the breaks do not name it
MISSING_BREAKS = {
    **BREAKS,
    "credit_amount": [1400, 1800, "4000%,%missing", 9200],  # numeric, joined
    "savings_account_and_bonds": [  # categorical, joined
        "missing%,%... < 100 DM",
        "100 <= ... < 500 DM",
        "500 <= ... < 1000 DM%,%... >= 1000 DM%,%unknown/ no savings account",
    ],
}
ALONE = ["age_in_years", "status_of_existing_checking_account"]  # numeric, categorical
NO_MISSING_BIN = ["duration_in_month", "credit_history"]
NUMERIC = ["duration_in_month", "credit_amount", "age_in_years"]


def with_nulls(data, columns, seed, share=0.15):
    """Nulls in about `share` of each column's rows, typed as scorecardpy bins them:
    numeric columns float64 with NaN (it does not bin object-typed numbers), labels as
    objects with NaN (woebin cannot add its 'missing' to a pandas categorical)."""
    data = data.copy()
    rng = np.random.default_rng(seed)
    for name in columns:
        data[name] = data[name].astype("float64" if name in NUMERIC else object)
        data.loc[rng.random(len(data)) < share, name] = np.nan
    return data


def applicants_table(data, card) -> pa.Table:
    """The same applicants as Arrow columns with nulls: int64 numbers, string labels."""
    schema = card.input_schema()
    columns = {}
    for v in card.variables:
        present = data[v.name].notna().to_numpy()
        if schema[v.name] == pa.string():
            labels = [str(x) if ok else None for x, ok in zip(data[v.name], present, strict=True)]
            columns[v.name] = pa.array(labels, pa.string())
        else:
            values = data[v.name].fillna(0).astype("int64").to_numpy()
            columns[v.name] = pa.array(values, pa.int64(), mask=~present)
    ids = pa.array(np.arange(1, len(data) + 1, dtype=np.uint64))
    return pa.table({"applicant_id": ids, **columns})


@pytest.fixture(scope="module")
def missing_card_case(german):
    keep = [*MISSING_BREAKS, TARGET]
    trained = with_nulls(german[keep], ["credit_amount", "savings_account_and_bonds", *ALONE], 12)
    bins = sc.woebin(trained, y=TARGET, breaks_list=MISSING_BREAKS, no_cores=1)
    xcolumns = [f"{v}_woe" for v in MISSING_BREAKS]
    card = sc.scorecard(bins, fixed_model(xcolumns), xcolumns)
    applicants = with_nulls(german[keep], list(MISSING_BREAKS), 99)
    # scorecard_ply reads this text as a null
    applicants.loc[applicants.index[[5, 6, 7]], "savings_account_and_bonds"] = "missing"
    ply = sc.scorecard_ply(applicants, card, only_total_score=False)
    # scorecard_ply leaves a variable's points NaN where it gives the value none (summed as 0)
    no_points = {v: ply[f"{v}_points"].isna().to_numpy() for v in MISSING_BREAKS}
    return card_rows(card), applicants, ply["score"].astype(int).tolist(), no_points


def test_the_missing_card_has_every_kind_of_missing_bin(missing_card_case):
    rows, applicants, expected, no_points = missing_card_case
    bins = {(r["variable"], r["bin"]) for r in rows}
    assert ("credit_amount", "[1800.0,4000.0)%,%missing") in bins
    assert ("savings_account_and_bonds", "missing%,%... < 100 DM") in bins
    assert {(v, "missing") for v in ALONE} <= bins
    assert not any("missing" in b for v, b in bins if v in NO_MISSING_BIN)
    ours = {v.name: v for v in cards.from_scorecardpy(rows).variables}
    assert all(ours[v].missing_points is not None for v in [*ALONE, "credit_amount"])
    assert all(ours[v].missing_points is None for v in NO_MISSING_BIN)
    assert all(applicants[v].isna().sum() > 100 for v in MISSING_BREAKS)
    # scorecard_ply gives no points exactly to the nulls of the variables without missing bin
    for v in MISSING_BREAKS:
        no_bin_null = applicants[v].isna().to_numpy() & (v in NO_MISSING_BIN)
        assert no_points[v].tolist() == no_bin_null.tolist(), v


@pytest.mark.parametrize("engine", ["c", "numpy", "python"])
@pytest.mark.parametrize("threads", [1, 2, 4, 8])
def test_missing_bins_and_nulls_match_scorecard_ply(missing_card_case, engine, threads):
    rows, applicants, expected, no_points = missing_card_case
    ours = cards.from_scorecardpy(rows)
    out = registry.get("loan.score").run(
        {"applicants": applicants_table(applicants, ours), "scorecard": cards.as_table(ours)},
        engine=engine,
        threads=threads,
    )
    assert out["scores"].column("score").to_pylist() == expected
    # where scorecard_ply gives a variable's null no points, missing_variables names it (bit
    # i: the card's i-th variable), and nowhere else
    masks = out["scores"].column("missing_variables").to_pylist()
    assert masks == [
        sum(1 << i for i, v in enumerate(ours.variables) if no_points[v.name][row])
        for row in range(len(applicants))
    ]
    # the status says a value was missing where a variable without a missing bin is null
    no_bin_null = applicants[NO_MISSING_BIN].isna().any(axis=1).to_numpy()
    status = np.array(out["scores"].column("status").to_pylist())
    assert ((status & score.STATUS_MISSING) != 0).tolist() == no_bin_null.tolist()
    assert set((status & ~score.STATUS_MISSING).tolist()) == {0}


def test_joined_intervals_score_as_the_card_says(german):
    """A bin joining two intervals ([26,28) and [28,35) under one set of points): we score
    every value by the card. scorecardpy 0.1.9.7's scorecard_ply rebuilds its breaks from
    each bin's last left edge, so it loses 26 and gives every age below 28 no points (not
    even [-inf,26)'s own); everywhere else the scores agree."""
    keep = ["duration_in_month", "age_in_years", TARGET]
    breaks = {"duration_in_month": [8, 16, 34, 44], "age_in_years": [26, "28%,%35", 37, "missing"]}
    data = with_nulls(german[keep], ["age_in_years"], 3, share=0.1)
    bins = sc.woebin(data, y=TARGET, breaks_list=breaks, no_cores=1)
    xcolumns = [f"{v}_woe" for v in breaks]
    model = fixed_model(xcolumns)
    model.coef_ = np.array([COEFFICIENTS[:2]])
    card = sc.scorecard(bins, model, xcolumns)
    assert "[26.0,28.0)%,%[28.0,35.0)" in card["age_in_years"]["bin"].tolist()
    ply = sc.scorecard_ply(data, card, only_total_score=False)
    ours = cards.from_scorecardpy(card_rows(card))
    age = next(v for v in ours.variables if v.name == "age_in_years")
    assert age.edges == (26, 28, 35, 37) and age.points[1] == age.points[2]
    got = (
        registry.get("loan.score")
        .run({"applicants": applicants_table(data, ours), "scorecard": cards.as_table(ours)})[
            "scores"
        ]
        .column("score")
        .to_numpy()
    )
    unbinned = ply["age_in_years_points"].isna().to_numpy()
    assert (unbinned == (data["age_in_years"] < 28).to_numpy()).all()
    assert (got[~unbinned] == ply["score"].to_numpy()[~unbinned]).all()
    below_26 = (data["age_in_years"] < 26).to_numpy()
    expected_there = ply["score"].to_numpy() + np.where(below_26, age.points[0], age.points[1])
    assert (got[unbinned] == expected_there[unbinned]).all()
