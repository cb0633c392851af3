"""loan.fraud: a hand-derived script through every rule, ordering, bad events, parity."""

import json

import pyarrow as pa
import pytest

from workloads import _native, _tables, registry
from workloads.errors import InputError, NativeError
from workloads.loan import fraud

W = registry.get("loan.fraud")


def script_inputs(data_dir):
    script = json.loads((data_dir / "fraud_script.json").read_text())
    events = _tables.from_rows(
        [tuple(e[c] for c in fraud.EVENTS) for e in script["events"]], fraud.EVENTS
    )
    rules = _tables.from_rows([tuple(r) for r in script["rules"]], fraud.RULES)
    lists = _tables.from_rows([tuple(x) for x in script["lists"]], fraud.LISTS)
    return {"events": events, "rules": rules, "lists": lists}, script["events"]


@pytest.mark.parametrize("engine, threads", [("python", 1), ("c", 1), ("c", 2), ("c", 3), ("c", 4)])
def test_script_matches_hand_derived_expectations(data_dir, engine, threads):
    inputs, expected = script_inputs(data_dir)
    out = W.run(inputs, engine=engine, threads=threads)
    W.check(inputs, out)
    got = out["decisions"].to_pylist()
    for row, e in zip(got, expected, strict=True):
        assert (row["matched_rules"], row["decision"], row["status"]) == (
            e["expect_rules"],
            e["expect_decision"],
            e["expect_status"],
        ), e["why"]
    assert {r for e in expected for r in range(10) if e["expect_rules"] >> r & 1} == set(
        range(10)
    ), "the script exercises every rule"


@pytest.fixture
def every_thread_asked(monkeypatch):
    """The call split over every thread asked for, however little its work."""
    monkeypatch.setattr(_native, "threads_worth", lambda units, per, asked, parts_max=None: asked)


@pytest.mark.parametrize("threads", [2, 3, 4, 7, 16, 64])
def test_the_script_split_by_key_gives_the_same_decisions(data_dir, threads, every_thread_asked):
    """Each rule family's events split by its key into a shard a thread, the (family, shard)
    tasks claimed in turn, then a range of decisions each: the hand-derived answers at every
    split (64 asked: most shards empty)."""
    inputs, expected = script_inputs(data_dir)
    one = W.run(inputs, engine="c", threads=1)
    split = W.run(inputs, engine="c", threads=threads)
    assert split["decisions"].equals(one["decisions"]), threads
    assert split["confusion"].equals(one["confusion"]), threads


@pytest.mark.parametrize("seed", [3, 42])
def test_generated_events_split_by_key_equal_the_reference(seed, every_thread_asked):
    """Thousands of users, devices, counterparties and IP blocks over 2 to 64 shards (and
    their rows in event order inside each) give the reference's digest."""
    inputs = W.generate(scale=0.01, seed=seed)
    expected = W.digest(W.run(inputs, engine="python"))
    for threads in (2, 3, 5, 16, 64):
        out = W.run(inputs, engine="c", threads=threads)
        W.check(inputs, out)
        assert W.digest(out) == expected, threads


@pytest.mark.parametrize("threads", [1, 2, 3, 4, 16])
def test_a_group_that_fails_stops_the_others_with_its_own_status(
    data_dir, threads, every_thread_asked
):
    """Events out of order reach the core (the workload checks them first; evaluate_c does
    not): the groups that check them refuse and abort the barrier, so no group waits for
    another, and the call's status is the refusal, not 'aborted'."""
    inputs, _ = script_inputs(data_dir)
    # the script's events last to first: (ts, event_id) falls at the second event
    cols = {k: v[::-1].copy() for k, v in _tables.columns(inputs["events"], fraud.EVENTS).items()}
    rules, lists = fraud.parse_rules(inputs["rules"]), fraud.parse_lists(inputs["lists"])
    with pytest.raises(NativeError) as refused:
        fraud.evaluate_c(rules, lists, cols, threads)
    assert refused.value.code_name == "BB_EVENTS_NOT_ORDERED"


@pytest.mark.parametrize("scripted, threads", [(True, 2), (True, 3), (False, 16), (False, 64)])
def test_a_fall_in_order_where_two_groups_ranges_meet_is_refused(
    data_dir, scripted, threads, every_thread_asked
):
    """Each group checks its range and its first event against the one before: a fall at
    the first event of a group's range (and nowhere else) is found, also where the two
    events' keys are in other shards in every family, so no shard's list shows it."""
    inputs = script_inputs(data_dir)[0] if scripted else W.generate(scale=0.01, seed=7)
    cols = {k: v.copy() for k, v in _tables.columns(inputs["events"], fraud.EVENTS).items()}
    n = len(cols["event_id"])
    first = n // threads + (n % threads > 0)  # where group 1's range begins
    for name in ("ts", "event_id"):  # one event later than the next: the fall is at `first`
        cols[name][first - 1] = cols[name][first]
    cols["event_id"][first - 1] += 1
    rules, lists = fraud.parse_rules(inputs["rules"]), fraud.parse_lists(inputs["lists"])
    with pytest.raises(NativeError) as refused:
        fraud.evaluate_c(rules, lists, cols, threads)
    assert refused.value.code_name == "BB_EVENTS_NOT_ORDERED"


def test_events_out_of_order_are_refused(data_dir):
    inputs, _ = script_inputs(data_dir)
    events = inputs["events"]
    swapped = pa.concat_tables([events.slice(1, 1), events.slice(0, 1), events.slice(2)])
    for engine in W.engines:
        with pytest.raises(InputError, match="strictly ordered by \\(ts, event_id\\): row 1"):
            W.run({**inputs, "events": swapped}, engine=engine)


@pytest.mark.parametrize(
    "rule, change, message",
    [
        (fraud.FAN_IN, {"limit": 65}, "distinct-count limit must be 1..64"),
        (fraud.IP_USERS, {"window_s": 0}, "window_s must be >= 1"),
        (fraud.BLOCKED, {"action": 3}, "action must be 1"),
    ],
)
def test_bad_rules_are_refused(data_dir, rule, change, message):
    inputs, _ = script_inputs(data_dir)
    rows = inputs["rules"].to_pylist()
    rows[rule].update(change)
    with pytest.raises(InputError, match=message):
        W.run({**inputs, "rules": pa.Table.from_pylist(rows, schema=inputs["rules"].schema)})


def test_disabled_rules_never_match(data_dir):
    inputs, _ = script_inputs(data_dir)
    rows = inputs["rules"].to_pylist()
    for row in rows:
        row["enabled"] = 0
    inputs = {**inputs, "rules": pa.Table.from_pylist(rows, schema=inputs["rules"].schema)}
    for engine in W.engines:
        out = W.run(inputs, engine=engine)["decisions"]
        assert set(out.column("matched_rules").to_pylist()) == {0}


def test_precision_and_recall_are_integer_ratios():
    inputs = W.generate(scale=0.005, seed=9)
    out = W.run(inputs, engine="c", threads=2)
    (tp, flagged), (tp2, fraud_events) = fraud.precision_recall(out["confusion"])
    assert tp == tp2 and 0 < tp <= min(flagged, fraud_events)
    assert tp * 2 > fraud_events, "the rules catch most injected fraud"
