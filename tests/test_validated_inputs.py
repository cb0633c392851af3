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


def test_a_parameter_parse_is_reused_only_for_the_very_same_tables():
    """_tables.parsed_once: the C engines' configuration (decide's scorecard, limits, prices,
    rules and lists; fraud's rules and lists) is parsed once per set of table objects, again
    for any other object (equal content or not), and forgotten with its first table."""
    import gc

    import pyarrow as pa

    from workloads import _tables

    calls = []

    def parse(tag):
        calls.append(tag)
        return tag

    first, second = pa.table({"a": [1]}), pa.table({"b": [2]})
    assert _tables.parsed_once("k", (first, second), lambda: parse(1)) == 1
    assert _tables.parsed_once("k", (first, second), lambda: parse(2)) == 1  # reused
    assert _tables.parsed_once("other", (first, second), lambda: parse(3)) == 3  # its own key
    same_content = pa.table({"b": [2]})
    assert _tables.parsed_once("k", (first, same_content), lambda: parse(4)) == 4
    assert _tables.parsed_once("k", (pa.table({"a": [1]}), second), lambda: parse(5)) == 5
    assert calls == [1, 3, 4, 5]
    held = len(_tables._PARSED)
    del first
    gc.collect()
    assert len(_tables._PARSED) < held  # gone with its table


@pytest.mark.parametrize("name", ["loan.decide", "loan.fraud"])
def test_a_changed_parameter_table_is_parsed_again(name):
    """The same events with other rules (a new table object) give the other rules' answer,
    not the first parse's."""
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
