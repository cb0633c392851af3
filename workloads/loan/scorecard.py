"""Scorecards as data: the ``bankbench.scorecard/1`` JSON format, its loader, and the
converter from scorecardpy's ``scorecard()`` tables.

Format (all numbers are integers)::

    {
      "format": "bankbench.scorecard/1",
      "name": "webank-like",
      "base_points": 449,
      "cutoff": 480,                         # approve when score >= cutoff
      "band_thresholds": [700, 600, 520],    # strictly decreasing; band = how many are
                                             # above the score (0 = best, len = worst)
      "variables": [
        {"name": "age", "type": "numeric",
         "edges": [26, 28, 35],              # left-closed bins [-inf,26) [26,28) [28,35) [35,inf)
         "points": [-29, 9, -8, 47],         # one per bin: len(edges) + 1
         "missing_points": -8,               # optional: a null's points (its missing bin)
         "min": 18, "max": 100},             # optional valid range; outside → row refers
        {"name": "housing", "type": "categorical",
         "categories": [["rent"], ["own", "for free"]],   # labels per bin: strings or integers
         "points": [-20, 15],
         "unseen_points": 0}                 # optional; a label in no bin gets these (the
      ]                                      # scorecardpy behaviour is 0) and a row status
    }

A value equal to an edge goes to the right-hand bin, as in scorecardpy (``pd.cut(...,
right=False)``). Numeric and integer-labelled variables take int64 columns; string-labelled
ones take string columns. Any variable's column may hold nulls: a null scores the variable's
``missing_points`` (scorecardpy's ``missing`` bin, alone or joined with other bins, whose
points these are); a variable without ``missing_points`` gives a null 0 points and the row
the missing-value status, as scorecardpy gives it no points. A null is never out of range.
A card has 1 to 64 variables (``VARIABLES_MAX``, from the C core): loan.score names a row's
variables that were null without a missing bin by one bit each of a 64-bit mask.
"""

from __future__ import annotations

import functools
import json
import math
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from native import lib
from workloads.errors import InputError

FORMAT = "bankbench.scorecard/1"
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
DATA = pathlib.Path(__file__).resolve().parent / "data"
DEFAULT_CARD = DATA / "webank_like_scorecard.json"
# a card's variables at most: a scored row's missing_variables has one bit for each
VARIABLES_MAX = lib.BB_SCORECARD_VARIABLES_MAX


@dataclass(frozen=True)
class Variable:
    name: str
    kind: str  # "numeric" | "categorical"
    points: tuple[int, ...]
    edges: tuple[int, ...] = ()
    categories: tuple[tuple[Any, ...], ...] = ()
    unseen_points: int = 0
    missing_points: int | None = None  # a null's points; None: no missing bin (0 + status)
    min_value: int = INT64_MIN
    max_value: int = INT64_MAX

    @property
    def string_labels(self) -> bool:
        return self.kind == "categorical" and any(
            isinstance(label, str) for labels in self.categories for label in labels
        )

    @property
    def labels(self) -> list[Any]:
        """Every label in bin order (the position is a string label's code)."""
        return [label for labels in self.categories for label in labels]

    def bin_of(self) -> dict[Any, int]:
        return {label: b for b, labels in enumerate(self.categories) for label in labels}


@dataclass(frozen=True)
class Scorecard:
    name: str
    base_points: int
    cutoff: int
    band_thresholds: tuple[int, ...]
    variables: tuple[Variable, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        def var(v: Variable) -> dict:
            d: dict[str, Any] = {"name": v.name, "type": v.kind}
            if v.kind == "numeric":
                d["edges"] = list(v.edges)
            else:
                d["categories"] = [list(c) for c in v.categories]
                d["unseen_points"] = v.unseen_points
            d["points"] = list(v.points)
            if v.missing_points is not None:
                d["missing_points"] = v.missing_points
            if v.min_value != INT64_MIN:
                d["min"] = v.min_value
            if v.max_value != INT64_MAX:
                d["max"] = v.max_value
            return d

        return json.dumps(
            {
                "format": FORMAT,
                "name": self.name,
                "base_points": self.base_points,
                "cutoff": self.cutoff,
                "band_thresholds": list(self.band_thresholds),
                "variables": [var(v) for v in self.variables],
            },
            indent=1,
        )

    def input_schema(self) -> dict[str, pa.DataType]:
        return {v.name: pa.string() if v.string_labels else pa.int64() for v in self.variables}


# ---- loading, with errors that name the field ----


def _int(value: Any, where: str, lo: int = INT32_MIN, hi: int = INT32_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"scorecard field '{where}' must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise InputError(f"scorecard field '{where}' = {value} is outside [{lo}, {hi}]")
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise InputError(f"scorecard field '{where}' must be a list, got {type(value).__name__}")
    return value


def _increasing(values: list[int], where: str, strictly_decreasing: bool = False) -> None:
    for a, b in zip(values, values[1:], strict=False):
        if (a <= b) if strictly_decreasing else (a >= b):
            order = "decreasing" if strictly_decreasing else "increasing"
            raise InputError(f"scorecard field '{where}' must be strictly {order}: {a} then {b}")


def _variable(raw: Any, i: int) -> Variable:
    where = f"variables[{i}]"
    if not isinstance(raw, dict):
        raise InputError(f"scorecard field '{where}' must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"scorecard field '{where}.name' must be a non-empty string")
    where = f"variables[{i}] ({name})"
    kind = raw.get("type")
    points = [
        _int(p, f"{where}.points[{j}]")
        for j, p in enumerate(_list(raw.get("points"), f"{where}.points"))
    ]
    common: dict[str, Any] = {
        "min_value": _int(raw.get("min", INT64_MIN), f"{where}.min", INT64_MIN, INT64_MAX),
        "max_value": _int(raw.get("max", INT64_MAX), f"{where}.max", INT64_MIN, INT64_MAX),
    }
    if "missing_points" in raw:
        common["missing_points"] = _int(raw["missing_points"], f"{where}.missing_points")
    if common["min_value"] > common["max_value"]:
        raise InputError(f"scorecard field '{where}.min' is above '{where}.max'")
    if kind == "numeric":
        edges = [
            _int(e, f"{where}.edges[{j}]", INT64_MIN, INT64_MAX)
            for j, e in enumerate(_list(raw.get("edges"), f"{where}.edges"))
        ]
        _increasing(edges, f"{where}.edges")
        if len(points) != len(edges) + 1:
            raise InputError(
                f"scorecard field '{where}.points' needs {len(edges) + 1} entries "
                f"(one per bin of {len(edges)} edges), got {len(points)}"
            )
        return Variable(name, kind, tuple(points), edges=tuple(edges), **common)
    if kind == "categorical":
        categories = _list(raw.get("categories"), f"{where}.categories")
        seen: set = set()
        bins = []
        for b, labels in enumerate(categories):
            for label in _list(labels, f"{where}.categories[{b}]"):
                if isinstance(label, bool) or not isinstance(label, (str, int)):
                    raise InputError(
                        f"scorecard field '{where}.categories[{b}]' has label "
                        f"{label!r}: labels are strings or integers"
                    )
                if isinstance(label, int):
                    _int(label, f"{where}.categories[{b}]", INT64_MIN, INT64_MAX)
                if label in seen:
                    raise InputError(f"scorecard field '{where}.categories' lists {label!r} twice")
                seen.add(label)
            bins.append(tuple(labels))
        if len({type(label) for label in seen}) > 1:
            raise InputError(
                f"scorecard field '{where}.categories' mixes string and integer labels"
            )
        if any(isinstance(label, str) for label in seen) and ("min" in raw or "max" in raw):
            raise InputError(f"scorecard field '{where}.min'/'max' applies to integer values only")
        if len(points) != len(bins) or not bins:
            raise InputError(
                f"scorecard field '{where}.points' needs one entry per category bin "
                f"({len(bins)}), got {len(points)}"
            )
        unseen = _int(raw.get("unseen_points", 0), f"{where}.unseen_points")
        return Variable(
            name, kind, tuple(points), categories=tuple(bins), unseen_points=unseen, **common
        )
    raise InputError(
        f"scorecard field '{where}.type' must be 'numeric' or 'categorical', got {kind!r}"
    )


def parse(text: str, source: str = "scorecard") -> Scorecard:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{source}: not valid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{source}: a scorecard is a JSON object")
    if raw.get("format") != FORMAT:
        raise InputError(f"scorecard field 'format' must be '{FORMAT}', got {raw.get('format')!r}")
    for required in ("base_points", "cutoff", "band_thresholds", "variables"):
        if required not in raw:
            raise InputError(f"scorecard field '{required}' is missing")
    thresholds = [
        _int(t, f"band_thresholds[{j}]")
        for j, t in enumerate(_list(raw["band_thresholds"], "band_thresholds"))
    ]
    _increasing(thresholds, "band_thresholds", strictly_decreasing=True)
    if len(thresholds) > 15:
        raise InputError(
            "scorecard field 'band_thresholds' allows at most 15 thresholds (16 bands)"
        )
    variables = [_variable(v, i) for i, v in enumerate(_list(raw["variables"], "variables"))]
    if len({v.name for v in variables}) != len(variables):
        raise InputError("scorecard field 'variables' names a variable twice")
    if not 1 <= len(variables) <= VARIABLES_MAX:
        raise InputError(
            f"scorecard field 'variables' needs 1 to {VARIABLES_MAX} variables, got "
            f"{len(variables)} (a scored row's missing_variables has one bit per variable)"
        )
    return Scorecard(
        str(raw.get("name", "")),
        _int(raw["base_points"], "base_points"),
        _int(raw["cutoff"], "cutoff"),
        tuple(thresholds),
        tuple(variables),
    )


def load(path: str | pathlib.Path) -> Scorecard:
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise InputError(f"cannot read scorecard {path}: {error.strerror}") from None
    return parse(text, str(path))


def default() -> Scorecard:
    return load(DEFAULT_CARD)


def from_table(table: pa.Table) -> Scorecard:
    """The scorecard carried as workload input: a one-row table with a 'json' column."""
    if table.num_rows != 1:
        raise InputError(f"the scorecard table must have exactly one row, got {table.num_rows}")
    return _parsed_table_text(table.column("json")[0].as_py())


@functools.lru_cache(maxsize=16)
def _parsed_table_text(text: str) -> Scorecard:
    """Parsed once per card text, as a service loads its card once: parsing took ~0.4 ms of a
    0.5 ms loan.score call at the smoke profile, serial, so 2 threads could not beat 1. A
    Scorecard is immutable (frozen, tuples); a card that fails to parse is not cached."""
    return parse(text, "scorecard table")


def as_table(card: Scorecard) -> pa.Table:
    return pa.table({"json": pa.array([card.to_json()], type=pa.string())})


# ---- the applicants' columns as integer codes for the vectorized engines ----


@dataclass(frozen=True)
class FeatureColumn:
    """One variable's applicant column as the vectorized engines read it: int64 values
    (string labels as codes), and the Arrow validity bitmap beside them (zero copy)."""

    values: np.ndarray  # int64; unspecified where the value is null
    validity: np.ndarray | None  # uint8 bitmap, bit set = present; None: no nulls
    validity_offset: int  # the bit of row 0 in validity

    def present(self) -> np.ndarray | None:
        """A bool per row, True where the value is present; None when none is null."""
        if self.validity is None:
            return None
        bits = np.unpackbits(self.validity, bitorder="little")
        return bits[self.validity_offset : self.validity_offset + len(self.values)].astype(bool)


def feature_columns(card: Scorecard, applicants: pa.Table) -> list[FeatureColumn]:
    """One column per variable, in the card's order: numeric and integer-labelled columns as
    they are (zero copy); string labels as their position in the variable's label list, −1
    if unseen (a copy: the codes are new), with the string column's own validity bitmap."""
    from workloads._native import nullable_column_view, single_array, validity_view

    out = []
    for v in card.variables:
        column = single_array(applicants.column(v.name))
        if v.string_labels:
            codes = pc.index_in(column, value_set=pa.array(v.labels, type=pa.string()))
            values = pc.fill_null(codes, -1).cast(pa.int64()).to_numpy(zero_copy_only=True)
            out.append(FeatureColumn(values, *validity_view(column)))
        else:
            out.append(FeatureColumn(*nullable_column_view(column)))
    return out


def category_keys(v: Variable) -> tuple[list[int], list[int]]:
    """(sorted keys, their bins) for a categorical variable as the C core wants them."""
    if v.string_labels:
        pairs = [
            (code, b)
            for code, b in enumerate(b for b, labels in enumerate(v.categories) for _ in labels)
        ]
    else:
        pairs = sorted(v.bin_of().items())
    return [k for k, _ in pairs], [b for _, b in pairs]


# ---- from scorecardpy ----

_INTERVAL = re.compile(r"^\[(-inf|[-+0-9.eE]+),(inf|[-+0-9.eE]+)\)$")
MISSING = "missing"  # scorecardpy's name for the bin of nulls
JOIN = "%,%"  # scorecardpy joins the members of one bin with it


def from_scorecardpy(
    rows: list[dict],
    name: str = "scorecardpy",
    cutoff: int = 0,
    band_thresholds: tuple[int, ...] = (),
) -> Scorecard:
    """Converts scorecardpy ``scorecard()`` output, flattened to rows of
    {variable, bin, points} (``pd.concat(card.values())[["variable","bin","points"]]``).

    Bins as scorecardpy's ``woebin`` writes them, each member joined by ``%,%``:
    - numeric: intervals ``[a,b)`` that together cover (-inf, inf) become integer edges (a
      non-integral edge a becomes ceil(a): every integer falls on the same side of both);
      intervals joined in one bin each get its points (scorecardpy 0.1.9.7's scorecard_ply
      gives no points below the last of them: it keeps only each bin's last left edge);
    - categorical: ``x%,%y`` become a label list;
    - ``missing``, alone or joined (``missing%,%A``, ``[35.0,37.0)%,%missing``): its points
      become the variable's ``missing_points``. scorecardpy's scorecard_ply reads the text
      'missing' as a null too, so a categorical bin keeps 'missing' as a label.
    A bin that cannot be expressed exactly — a numeric special value beside intervals,
    intervals with a gap or an overlap, a member in two bins, a blank label — is an
    InputError naming the variable and the bin: the card would not score as scorecardpy's.
    (scorecard_ply also reads blank text as a null; here text is text: pass blanks as nulls.)
    """
    base, by_variable = _bins_by_variable(rows)
    variables = [_variable_from_bins(variable, bins) for variable, bins in by_variable.items()]
    card = Scorecard(name, base, cutoff, tuple(band_thresholds), tuple(variables))
    return parse(card.to_json())  # one validation path for every card


def _bins_by_variable(rows: list[dict]) -> tuple[int, dict[str, list[tuple[str, int]]]]:
    base = None
    by_variable: dict[str, list[tuple[str, int]]] = {}
    for i, row in enumerate(rows):
        for key in ("variable", "bin", "points"):
            if key not in row:
                raise InputError(f"scorecardpy row {i} has no '{key}' field")
        points = row["points"]
        if isinstance(points, str):  # rows read from a CSV export
            try:
                points = float(points)
            except ValueError:
                raise InputError(
                    f"scorecardpy row {i}: points {points!r} is not a number"
                ) from None
        if isinstance(points, float) and points.is_integer():
            points = int(points)
        points = _int(points, f"row {i} points")
        if row["variable"] == "basepoints":
            base = points
        elif not isinstance(row["bin"], str) or not row["bin"]:
            raise InputError(
                f"scorecardpy variable '{row['variable']}': row {i} has no bin "
                f"({row['bin']!r}); every bin is a text such as '[1.0,2.0)' or 'A%,%B'"
            )
        else:
            by_variable.setdefault(str(row["variable"]), []).append((row["bin"], points))
    if base is None:
        raise InputError("scorecardpy table has no 'basepoints' row")
    return base, by_variable


def _cannot_express(variable: str, label: str, why: str) -> InputError:
    return InputError(
        f"scorecardpy variable '{variable}', bin {label!r}: {why}; bankbench cannot express "
        "this bin exactly, so it refuses the card rather than score it differently"
    )


def _variable_from_bins(variable: str, bins: list[tuple[str, int]]) -> Variable:
    members = [(label, label.split(JOIN), points) for label, points in bins]
    with_missing = [(label, points) for label, parts, points in members if MISSING in parts]
    if len(with_missing) > 1:
        raise _cannot_express(variable, with_missing[1][0], "a second bin holds 'missing'")
    missing_points = with_missing[0][1] if with_missing else None
    if any(_INTERVAL.match(part) for _, parts, _ in members for part in parts):
        return _numeric_from_bins(variable, members, missing_points)
    return _categorical_from_bins(variable, members, missing_points)


def _numeric_from_bins(
    variable: str, members: list[tuple[str, list[str], int]], missing_points: int | None
) -> Variable:
    intervals = []  # (lower, upper, points, the bin's label)
    for label, parts, points in members:
        for part in parts:
            if part == MISSING:
                continue
            match = _INTERVAL.match(part)
            if match is None:
                raise _cannot_express(
                    variable, label, f"{part!r} is neither an interval [a,b) nor 'missing'"
                )
            lower, upper = float(match.group(1)), float(match.group(2))
            if not lower < upper:
                raise _cannot_express(variable, label, f"{part!r} is empty")
            intervals.append((lower, upper, points, label))
    intervals.sort(key=lambda interval: interval[0])
    if intervals[0][0] != -math.inf or intervals[-1][1] != math.inf:
        label = intervals[0][3] if intervals[0][0] != -math.inf else intervals[-1][3]
        raise _cannot_express(variable, label, "the intervals do not reach from -inf to inf")
    for before, after in zip(intervals, intervals[1:], strict=False):
        if before[1] != after[0]:
            raise _cannot_express(
                variable, after[3], f"a gap or an overlap between {before[1]} and {after[0]}"
            )
    edges = [math.ceil(lower) for lower, _, _, _ in intervals[1:]]  # finite: they join
    lowest = [INT64_MIN, *edges]  # each interval's integers: [lowest, beyond)
    beyond = [*edges, INT64_MAX + 1]
    for (_, _, _, label), low, high in zip(intervals, lowest, beyond, strict=True):
        if not low < high:
            raise _cannot_express(variable, label, "an interval that holds no int64 value")
    return Variable(
        variable,
        "numeric",
        tuple(points for _, _, points, _ in intervals),
        edges=tuple(edges),
        missing_points=missing_points,
    )


def _categorical_from_bins(
    variable: str, members: list[tuple[str, list[str], int]], missing_points: int | None
) -> Variable:
    seen: set[str] = set()
    for label, parts, _ in members:
        for part in parts:
            if not part.strip():
                raise _cannot_express(
                    variable, label, "a blank label (scorecard_ply reads blank text as null)"
                )
            if part in seen:
                raise _cannot_express(variable, label, f"{part!r} is in two bins")
            seen.add(part)
    return Variable(
        variable,
        "categorical",
        tuple(points for _, _, points in members),
        categories=tuple(tuple(parts) for _, parts, _ in members),
        missing_points=missing_points,
    )
