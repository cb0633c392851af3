"""Workload.run checks its inputs on every call; the benchmark harness checks its own inputs
once and times run_validated, which skips the checks (Python beside the parallel C, up to 13 %
of a 1-thread call at the quick profile)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from workloads import registry
from workloads.errors import InputError, UnknownNameError


@pytest.fixture
def counted(monkeypatch):
    """loan.limit with its _validate_more counted."""
    workload = registry.get("loan.limit")
    calls = []
    more = type(workload)._validate_more

    def counting(self, inputs):
        calls.append(1)
        return more(self, inputs)

    monkeypatch.setattr(type(workload), "_validate_more", counting)
    return workload, calls


def test_run_checks_every_call_and_run_validated_none(counted):
    workload, calls = counted
    inputs = workload.generate(0.002, 7)
    first = workload.digest(workload.run(inputs, "c", 1))
    workload.validate_inputs(inputs)
    assert len(calls) == 2
    timed = [workload.digest(workload.run_validated(inputs, "c", t)) for t in (1, 2, 1)]
    assert timed == [first] * 3 and len(calls) == 2
    assert workload.digest(workload.run(inputs, "c", 1)) == first and len(calls) == 3


def test_run_validated_still_refuses_a_bad_engine_or_thread_count():
    workload = registry.get("loan.limit")
    inputs = workload.generate(0.002, 7)
    with pytest.raises(UnknownNameError, match="unknown engine 'fortran'"):
        workload.run_validated(inputs, "fortran", 1)
    with pytest.raises(InputError, match="threads must be a whole number"):
        workload.run_validated(inputs, "c", 0)


def test_a_table_written_behind_arrows_back_is_refused_by_the_next_run():
    """The check that batch numbers never decrease is Python's alone (C does not repeat it):
    a table over a numpy array the caller writes after a first run must be checked again."""
    workload = registry.get("ledger.post")
    inputs = workload.generate(0.01, 7)
    transfers = inputs["transfers"]
    batch = transfers.column("batch").to_numpy().copy()
    column = transfers.column_names.index("batch")
    written = {**inputs, "transfers": transfers.set_column(column, "batch", pa.array(batch))}
    workload.run(written, "c", 1)
    batch[0] = batch[-1] + 1  # the same table object, now decreasing after its first row
    assert np.any(np.diff(written["transfers"].column("batch").to_numpy().astype(np.int64)) < 0)
    with pytest.raises(InputError, match="must not decrease"):
        workload.run(written, "c", 1)


def test_a_parameter_parse_is_reused_only_for_the_same_contents():
    """_tables.parsed_once: the C engines' configuration (decide's scorecard, limits, prices,
    rules and lists; fraud's rules and lists) is parsed once per contents, read on every call:
    a table over a numpy array changed in place is parsed again."""
    import pyarrow as pa

    from workloads import _tables

    calls = []

    def parse(tag):
        calls.append(tag)
        return tag

    values = np.array([1, 2], dtype=np.int64)
    first, second = pa.table({"a": values}), pa.table({"b": [2]})
    assert pa.table({"a": values}).column("a").chunk(0).buffers()[1].address == values.ctypes.data
    assert _tables.parsed_once("k", (first, second), lambda: parse(1)) == 1
    assert _tables.parsed_once("k", (first, second), lambda: parse(2)) == 1  # reused
    assert _tables.parsed_once("k", (first, pa.table({"b": [2]})), lambda: parse(3)) == 1
    assert _tables.parsed_once("other", (first, second), lambda: parse(4)) == 4  # its own key
    values[1] = 3  # under Arrow's feet: the same table object, other contents
    assert _tables.parsed_once("k", (first, second), lambda: parse(5)) == 5
    assert _tables.parsed_once("k", (first, first.slice(1)), lambda: parse(6)) == 6
    assert calls == [1, 4, 5, 6]
    for n in range(_tables.PARSED_KEPT + 5):  # no more than PARSED_KEPT are kept
        _tables.parsed_once("k", (pa.table({"n": [n]}),), lambda n=n: n)
    assert len(_tables._PARSED) == _tables.PARSED_KEPT


@pytest.mark.parametrize("name", ["loan.decide", "loan.fraud"])
def test_a_changed_parameter_table_is_parsed_again(name):
    """The same events with other rules give the other rules' answer, not the first parse's:
    in a new table, and in the same table changed in place (a table over numpy arrays)."""
    import pyarrow as pa

    workload = registry.get(name)
    inputs = workload.generate(0.002, 42)
    before = workload.digest(workload.run(inputs, "c", 1))
    rules = inputs["rules"]
    enabled = pa.array([0] * rules.num_rows, type=rules.schema.field("enabled").type)  # all off
    changed = {
        **inputs,
        "rules": rules.set_column(rules.schema.get_field_index("enabled"), "enabled", enabled),
    }
    after = workload.digest(workload.run(changed, "c", 1))
    assert after != before
    assert workload.digest(workload.run(changed, "python", 1)) == after
    assert workload.digest(workload.run(inputs, "c", 1)) == before
    columns = {name: rules.column(name).to_numpy().copy() for name in rules.column_names}
    shared = {**inputs, "rules": pa.table(columns, schema=rules.schema)}  # over numpy memory
    assert workload.digest(workload.run(shared, "c", 1)) == before
    columns["enabled"][:] = 0  # in place: the table object is the same
    assert workload.digest(workload.run(shared, "c", 1)) == after
