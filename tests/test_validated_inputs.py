"""A workload validates an input set once while its tables live: the timed calls of a
benchmark repeat the call on the same (immutable) tables, and their Python checks were serial
work beside every parallel call (workloads/_tables.Validated)."""

from __future__ import annotations

import gc

import pyarrow as pa
import pytest

from workloads import _tables, registry
from workloads.errors import InputError


@pytest.fixture
def counted(monkeypatch):
    """loan.limit with a fresh memo and its _validate_more counted."""
    workload = registry.get("loan.limit")
    monkeypatch.setitem(workload.__dict__, "_validated", _tables.Validated())
    calls = []
    more = type(workload)._validate_more

    def counting(self, inputs):
        calls.append(1)
        return more(self, inputs)

    monkeypatch.setattr(type(workload), "_validate_more", counting)
    return workload, calls


def test_the_same_tables_are_validated_once_and_answer_the_same(counted):
    workload, calls = counted
    inputs = workload.generate(0.002, 7)
    first = workload.digest(workload.run(inputs, "c", 1))
    assert [workload.digest(workload.run(inputs, "c", t)) for t in (1, 2)] == [first, first]
    assert workload.digest(workload.run(dict(inputs), "c", 1)) == first  # same tables, new dict
    assert len(calls) == 1


def test_new_tables_with_the_same_content_are_validated_again(counted):
    workload, calls = counted
    inputs = workload.generate(0.002, 7)
    workload.run(inputs, "c", 1)
    copies = {name: pa.Table.from_batches(t.to_batches(), t.schema) for name, t in inputs.items()}
    workload.run(copies, "c", 1)
    assert len(calls) == 2


def test_bad_inputs_are_refused_on_every_call(counted):
    workload, calls = counted
    inputs = workload.generate(0.002, 7)
    table = inputs["applicants"]
    no_column = {**inputs, "applicants": table.drop_columns([table.column_names[0]])}
    bad_params = {**inputs, "params": pa.table({"json": ["{not json"]})}
    for _ in range(2):
        with pytest.raises(InputError, match="is missing"):
            workload.run(no_column, "c", 1)
        with pytest.raises(InputError):
            workload.run(bad_params, "c", 1)
    assert len(calls) == 2  # the content check ran, and refused, both times


def test_a_set_whose_table_died_is_forgotten():
    validated = _tables.Validated()
    table = pa.table({"a": [1, 2]})
    inputs = {"t": table}
    validated.add(inputs)
    assert inputs in validated
    key = _tables.Validated._key(inputs)
    del inputs, table
    gc.collect()
    (refs,) = [validated._sets[key]]
    assert all(ref() is None for _, ref in refs)  # a new table at the old address: not it
    stand_in = pa.table({"a": [1, 2]})
    assert {"t": stand_in} not in validated


def test_only_tables_are_remembered_and_the_memo_stays_small():
    validated = _tables.Validated()
    validated.add({"t": "not a table"})
    assert validated._sets == {}
    tables = [pa.table({"a": [i]}) for i in range(_tables.Validated.SETS_MAX + 3)]
    for t in tables:
        validated.add({"t": t})
    assert len(validated._sets) <= _tables.Validated.SETS_MAX
    assert {"t": tables[-1]} in validated
