"""``bankbench export``: a run's samples as CSV or JSON, every column, every run kind.

CSV has no lists: a list column (the latency distribution at samples.LATENCY_QUANTILES) is
written as JSON text in its one cell, ``[812, 840, …]``, which every CSV reader keeps as one
field and ``json.loads`` turns back into the list. Timestamps are ISO 8601.
"""

from __future__ import annotations

import json
from typing import IO

import pyarrow as pa
import pyarrow.csv as pacsv


def _json_cells(column: pa.ChunkedArray) -> pa.Array:
    return pa.array(
        [None if value is None else json.dumps(value) for value in column.to_pylist()],
        type=pa.string(),
    )


def csv_table(samples: pa.Table) -> pa.Table:
    """``samples`` with every column in a type CSV can hold."""
    columns = []
    for field, column in zip(samples.schema, samples.columns, strict=True):
        nested = pa.types.is_list(field.type) or pa.types.is_large_list(field.type)
        columns.append(_json_cells(column) if nested else column)
    return pa.Table.from_arrays(columns, names=samples.column_names)


def write_csv(samples: pa.Table, stream: IO[bytes]) -> None:
    pacsv.write_csv(csv_table(samples), stream)


def write_json(run: dict, samples: pa.Table, stream: IO[str]) -> None:
    document = {
        "run": {k: (str(v) if k.endswith("_at") else v) for k, v in run.items()},
        "samples": samples.to_pylist(),
    }
    json.dump(document, stream, indent=1, default=str)
    stream.write("\n")
