"""loan.fraud — streaming anti-fraud rules over an event stream (W7).

What it models: the rule layer in front of automated lending: every login, drawdown,
transfer and repayment is checked against block lists and sliding-window aggregates.

Events (``events``, ordered by (ts, event_id), strictly): event_id u64, ts u32 (seconds,
UTC), type u8 (0 login, 1 drawdown, 2 transfer, 3 repay), user_id u32, device_id u32,
ip24 u32, phone_hash u64, counterparty_id u32 (0 = none), amount_fen i64, label u8 (the
injected pattern, 0 = background; used only for precision/recall). An event with an unknown
type or a negative amount gets status 1 and decision reject, and changes no state.

Rules (``rules``: one row per rule; enabled, action 1 review / 2 reject, window_s, limit,
min_count). A window of W seconds holds the earlier events with ts > now − W; "outflows"
are drawdowns and transfers; "with the current" means the current event counts too.
  bit 0 blocked        user, device or phone on a block list
  bit 1 device_users_reject  distinct users on the device in the window, with the current, ≥ limit
  bit 2 device_users_review  the same with its own window and limit
  bit 3 drawdown_velocity    on a drawdown: the user's drawdowns in the window, with it, ≥ limit
  bit 4 amount_24h           on an outflow: the user's outflow sum in the window, with it, > limit
  bit 5 amount_spike         on an outflow: over the user's earlier outflows in the window
                             (without it): count ≥ min_count and amount·count > limit·sum
  bit 6 new_device_large     on an outflow: the (user, device) pair was first seen (any
                             event, this one included) less than window_s ago and amount ≥ limit
  bit 7 night_large          on an outflow: local (UTC+8) second of day < window_s and
                             amount ≥ limit
  bit 8 fan_in               on a transfer to a counterparty: distinct senders to it in the
                             window, with the current, ≥ limit
  bit 9 ip_users             distinct users on the ip24 block in the window, with the current,
                             ≥ limit
Distinct-count limits are 1..64. Lists (``lists``: list u8 0 blocked user, 1 blocked device,
2 blocked phone, 3 allowed user; value u64). Decision, in Stripe Radar's order: an allowed
user → allow; else reject if a matched rule's action is reject; else review if any rule
matched; else allow.

Outputs: ``decisions`` (event_id, decision u8, matched_rules u32, status u8) and
``confusion`` (label, decision, events u64: counts for precision and recall against the
injected labels). Unit: events. The C core keeps each rule family's state (user / device /
IP / counterparty) per key, so on more threads it splits each family's events by key into
shards, each shard a task with its own state; results do not depend on the thread count.
"""

from __future__ import annotations

from collections import defaultdict, deque

import numpy as np
import pyarrow as pa

from native import ffi, lib
from workloads import _native, _tables
from workloads._base import Workload, scaled
from workloads.errors import InputError

LOGIN, DRAWDOWN, TRANSFER, REPAY = 0, 1, 2, 3
ALLOW, REVIEW, REJECT = 0, 1, 2
STATUS_INVALID = 1
RULE_NAMES = (
    "blocked",
    "device_users_reject",
    "device_users_review",
    "drawdown_velocity",
    "amount_24h",
    "amount_spike",
    "new_device_large",
    "night_large",
    "fan_in",
    "ip_users",
)
(
    BLOCKED,
    DEVICE_USERS_REJECT,
    DEVICE_USERS_REVIEW,
    DRAWDOWN_VELOCITY,
    AMOUNT_24H,
    AMOUNT_SPIKE,
    NEW_DEVICE_LARGE,
    NIGHT_LARGE,
    FAN_IN,
    IP_USERS,
) = range(lib.BB_FRAUD_RULES)  # unpacking fails unless the core has exactly these rules
DISTINCT_RULES = (DEVICE_USERS_REJECT, DEVICE_USERS_REVIEW, FAN_IN, IP_USERS)
BLOCKED_USER, BLOCKED_DEVICE, BLOCKED_PHONE, ALLOWED_USER = 0, 1, 2, 3
LOCAL_OFFSET_S = 8 * 3600
DAY_S = 86_400
LABELS = (
    "background",
    "device_farm",
    "mule_fan_in",
    "burst_velocity",
    "account_takeover",
    "blocked",
)

EVENTS = {
    "event_id": pa.uint64(),
    "ts": pa.uint32(),
    "type": pa.uint8(),
    "user_id": pa.uint32(),
    "device_id": pa.uint32(),
    "ip24": pa.uint32(),
    "phone_hash": pa.uint64(),
    "counterparty_id": pa.uint32(),
    "amount_fen": pa.int64(),
}
EVENTS_WITH_LABEL = {**EVENTS, "label": pa.uint8()}
RULES = {
    "rule_id": pa.uint8(),
    "enabled": pa.uint8(),
    "action": pa.uint8(),
    "window_s": pa.uint32(),
    "limit": pa.int64(),
    "min_count": pa.int64(),
}
LISTS = {"list": pa.uint8(), "value": pa.uint64()}
DECISIONS = {
    "event_id": pa.uint64(),
    "decision": pa.uint8(),
    "matched_rules": pa.uint32(),
    "status": pa.uint8(),
}
CONFUSION = {"label": pa.uint8(), "decision": pa.uint8(), "events": pa.uint64()}

# rule → (action, window_s, limit, min_count)
DEFAULT_RULES = {
    BLOCKED: (REJECT, 0, 0, 0),
    DEVICE_USERS_REJECT: (REJECT, DAY_S, 5, 0),
    DEVICE_USERS_REVIEW: (REVIEW, DAY_S, 3, 0),
    DRAWDOWN_VELOCITY: (REVIEW, 3600, 3, 0),
    AMOUNT_24H: (REVIEW, DAY_S, 100_000_00, 0),
    AMOUNT_SPIKE: (REVIEW, 30 * DAY_S, 8, 3),
    NEW_DEVICE_LARGE: (REVIEW, DAY_S, 10_000_00, 0),
    NIGHT_LARGE: (REVIEW, 5 * 3600, 10_000_00, 0),
    FAN_IN: (REVIEW, 3600, 10, 0),
    IP_USERS: (REVIEW, 3600, 20, 0),
}
START_TS = 1_767_196_800  # 2026-01-01 00:00 in UTC+8
HORIZON_S = 7 * DAY_S


def rules_table(overrides: dict | None = None) -> pa.Table:
    rules = {**DEFAULT_RULES, **(overrides or {})}
    rows = [(r, 1, *rules[r]) for r in range(lib.BB_FRAUD_RULES)]
    return _tables.from_rows(rows, RULES)


def parse_rules(table: pa.Table) -> list[dict]:
    """The rule table as a dict per rule id, checked (the C core checks the same again)."""
    ids = table.column("rule_id").to_pylist()
    if sorted(ids) != list(range(lib.BB_FRAUD_RULES)):
        raise InputError(
            f"loan.fraud rules table needs rule_id 0..{lib.BB_FRAUD_RULES - 1} once each, "
            f"got {sorted(ids)}"
        )
    rows = {row["rule_id"]: row for row in table.to_pylist()}
    rules = [rows[r] for r in range(lib.BB_FRAUD_RULES)]
    for r, rule in enumerate(rules):
        where = f"loan.fraud rule {r} ({RULE_NAMES[r]})"
        if not rule["enabled"]:
            continue
        if rule["action"] not in (REVIEW, REJECT):
            raise InputError(
                f"{where}: action must be 1 (review) or 2 (reject), got {rule['action']}"
            )
        if rule["limit"] < 0 or rule["min_count"] < 0:
            raise InputError(f"{where}: limit and min_count must be >= 0")
        if r != BLOCKED and rule["window_s"] == 0:
            raise InputError(f"{where}: window_s must be >= 1")
        if r in DISTINCT_RULES and not 1 <= rule["limit"] <= 64:
            raise InputError(f"{where}: a distinct-count limit must be 1..64, got {rule['limit']}")
        if r == AMOUNT_SPIKE and rule["limit"] > 2**31 - 1:
            raise InputError(f"{where}: the spike multiple must be below 2^31")
        if r == NIGHT_LARGE and rule["window_s"] > DAY_S:
            raise InputError(f"{where}: the night ends within the day (window_s <= 86400)")
    return rules


def parse_lists(table: pa.Table) -> dict[int, np.ndarray]:
    kinds = table.column("list").to_numpy()
    values = table.column("value").to_numpy()
    if (kinds > ALLOWED_USER).any():
        raise InputError(
            "loan.fraud lists: 'list' must be 0 (blocked user), 1 (blocked device), "
            "2 (blocked phone) or 3 (allowed user)"
        )
    return {k: np.unique(values[kinds == k]) for k in range(4)}


def check_order(events: pa.Table) -> None:
    ts = events.column("ts").to_numpy().astype(np.int64)
    ids = events.column("event_id").to_numpy()
    later = (ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (ids[1:] > ids[:-1]))
    if not later.all():
        at = int(np.argmin(later)) + 1
        raise InputError(
            f"loan.fraud events must be strictly ordered by (ts, event_id): row {at} "
            f"(event_id {ids[at]}) does not follow row {at - 1}; sort them first"
        )


# ---- reference (the oracle) ----


class Reference:
    """Plain Python rule evaluation: per key, the earlier events still inside the longest
    window, and each rule recounted from them."""

    def __init__(self, rules: list[dict], lists: dict[int, np.ndarray]):
        self.rules = rules
        self.lists = {k: set(v.tolist()) for k, v in lists.items()}
        self.user_outflows: dict[int, deque] = defaultdict(deque)  # (ts, type, amount)
        self.first_seen: dict[tuple[int, int], int] = {}
        self.device_users: dict[int, deque] = defaultdict(deque)  # (ts, user)
        self.counterparty_senders: dict[int, deque] = defaultdict(deque)
        self.ip_users: dict[int, deque] = defaultdict(deque)

    def on(self, rule: int) -> bool:
        return bool(self.rules[rule]["enabled"])

    def window(self, rule: int) -> int:
        return self.rules[rule]["window_s"]

    def limit(self, rule: int) -> int:
        return self.rules[rule]["limit"]

    def distinct(self, history: deque, now: int, member: int, window: int) -> int:
        return len({m for t, m in history if t > now - window} | {member})

    def evaluate(self, e: dict) -> tuple[int, int]:
        """(matched_rules, status) of one event; then the event joins the state."""
        if e["type"] > REPAY or e["amount_fen"] < 0:
            return 0, STATUS_INVALID
        now, user, amount = e["ts"], e["user_id"], e["amount_fen"]
        outflow = e["type"] in (DRAWDOWN, TRANSFER)
        matched = set()
        if self.on(BLOCKED) and (
            user in self.lists[BLOCKED_USER]
            or e["device_id"] in self.lists[BLOCKED_DEVICE]
            or e["phone_hash"] in self.lists[BLOCKED_PHONE]
        ):
            matched.add(BLOCKED)
        first = self.first_seen.setdefault((user, e["device_id"]), now)
        if outflow:
            if (
                self.on(NEW_DEVICE_LARGE)
                and first > now - self.window(NEW_DEVICE_LARGE)
                and amount >= self.limit(NEW_DEVICE_LARGE)
            ):
                matched.add(NEW_DEVICE_LARGE)
            if (
                self.on(NIGHT_LARGE)
                and (now + LOCAL_OFFSET_S) % DAY_S < self.window(NIGHT_LARGE)
                and amount >= self.limit(NIGHT_LARGE)
            ):
                matched.add(NIGHT_LARGE)
            history = self.user_outflows[user]
            window = [h for h in history if h[0] > now - self.window(DRAWDOWN_VELOCITY)]
            drawdowns = sum(1 for _, kind, _ in window if kind == DRAWDOWN) + 1
            if (
                self.on(DRAWDOWN_VELOCITY)
                and e["type"] == DRAWDOWN
                and drawdowns >= self.limit(DRAWDOWN_VELOCITY)
            ):
                matched.add(DRAWDOWN_VELOCITY)
            day_sum = amount + sum(a for t, _, a in history if t > now - self.window(AMOUNT_24H))
            if self.on(AMOUNT_24H) and day_sum > self.limit(AMOUNT_24H):
                matched.add(AMOUNT_24H)
            earlier = [a for t, _, a in history if t > now - self.window(AMOUNT_SPIKE)]
            count, total = len(earlier), sum(earlier)
            if (
                self.on(AMOUNT_SPIKE)
                and count >= self.rules[AMOUNT_SPIKE]["min_count"]
                and count > 0
                and amount * count > self.limit(AMOUNT_SPIKE) * total
            ):
                matched.add(AMOUNT_SPIKE)
            history.append((now, e["type"], amount))
            longest = max(
                [
                    self.window(r)
                    for r in (DRAWDOWN_VELOCITY, AMOUNT_24H, AMOUNT_SPIKE)
                    if self.on(r)
                ],
                default=0,
            )
            while history and history[0][0] <= now - longest:
                history.popleft()
        for rules, seen_by, key, applies in (
            ((DEVICE_USERS_REJECT, DEVICE_USERS_REVIEW), self.device_users, e["device_id"], True),
            (
                (FAN_IN,),
                self.counterparty_senders,
                e["counterparty_id"],
                e["type"] == TRANSFER and e["counterparty_id"] != 0,
            ),
            ((IP_USERS,), self.ip_users, e["ip24"], True),
        ):
            if not applies:
                continue
            seen = seen_by[key]
            for rule in rules:
                if self.on(rule) and self.distinct(
                    seen, now, user, self.window(rule)
                ) >= self.limit(rule):
                    matched.add(rule)
            seen.append((now, user))
            longest = max(self.window(r) for r in rules)
            while seen and seen[0][0] <= now - longest:
                seen.popleft()
        return sum(1 << r for r in matched), 0

    def decide(self, user: int, matched: int, status: int) -> int:
        if status:
            return REJECT
        if user in self.lists[ALLOWED_USER]:
            return ALLOW
        actions = [self.rules[r]["action"] for r in range(lib.BB_FRAUD_RULES) if matched >> r & 1]
        return max(actions, default=ALLOW)


# ---- the C core ----


def c_rules(rules: list[dict]):
    c = ffi.new("bb_fraud_rules *")
    for r, rule in enumerate(rules):
        c.enabled[r] = rule["enabled"]
        c.action[r] = rule["action"]
        c.window_s[r] = rule["window_s"]
        c.limit[r] = rule["limit"]
        c.min_count[r] = rule["min_count"]
    _native.check_status(lib.bb_fraud_check_rules(c), "bb_fraud_check_rules")
    return c


def c_lists(lists: dict[int, np.ndarray]):
    """The C view of the lists; keep the returned arrays alive as long as the struct."""
    arrays = {k: np.ascontiguousarray(v, dtype=np.uint64) for k, v in lists.items()}
    c = ffi.new("bb_fraud_lists *")
    for kind, field in (
        (BLOCKED_USER, "blocked_users"),
        (BLOCKED_DEVICE, "blocked_devices"),
        (BLOCKED_PHONE, "blocked_phones"),
        (ALLOWED_USER, "allowed_users"),
    ):
        setattr(c, field, _native.pointer(arrays[kind]) if len(arrays[kind]) else ffi.NULL)
        setattr(c, f"n_{field}", len(arrays[kind]))
    return c, arrays


def c_events(cols: dict[str, np.ndarray]):
    return ffi.new("bb_events *", {name: _native.pointer(cols[name]) for name in EVENTS})


class FraudState:
    """A C rule state over some families (freed with the object)."""

    def __init__(self, rules, lists, families: int):
        out = ffi.new("bb_fraud **")
        _native.check_status(lib.bb_fraud_new(rules, lists, families, out), "bb_fraud_new")
        self.c = ffi.gc(out[0], lib.bb_fraud_free)


# core instructions per event of the parallel call, what _native.threads_worth splits it by
# (callgrind, inclusive, at scale 0.05 over its 51,091 events: the rule families' pass
# 64,719,815, the decisions 2,349,370)
INSTRUCTIONS_PER_EVENT = 1_313

FAMILIES = lib.BB_FRAUD_FAMILIES  # user, device, IP, counterparty: each split by its key
TASKS_MAX = FAMILIES * lib.BB_FRAUD_SHARDS_MAX


def evaluate_c(
    rules: list[dict], lists: dict[int, np.ndarray], cols: dict[str, np.ndarray], threads: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(matched_rules, status, decision) of every event through the C core in one parallel
    call (bb_fraud_task, bankcore.h): on one thread, each rule family in turn over every
    event; on more, each family's events split by its key into a shard a thread, the
    (family, shard) tasks claimed in turn, then the decisions of a range each. A family's
    state is per key, so the answers are the same on any number of threads."""
    rules_c = c_rules(rules)
    lists_c, _keep = c_lists(lists)
    n = len(cols["event_id"])
    # at most a task a thread: each family's shards
    groups = _native.threads_worth(n, INSTRUCTIONS_PER_EVENT, threads, TASKS_MAX)
    if n > 0xFFFF_FFFF:  # the shards' lists hold uint32 rows
        groups = 1
    shards = min(groups, lib.BB_FRAUD_SHARDS_MAX)  # more: a state each, its set-up and tables
    # each family ORs its bits into its own array, read together by the decisions
    matched = [np.zeros(n, dtype=np.uint32) for _ in range(1 if groups == 1 else FAMILIES)]
    status = np.empty(n, dtype=np.uint8)
    decision = np.empty(n, dtype=np.uint8)
    rows = np.empty(FAMILIES * n if groups > 1 else 0, dtype=np.uint32)
    shard_ids = np.empty(FAMILIES * n if groups > 1 else 0, dtype=np.uint8)
    counts = np.empty((2 * groups + 1) * FAMILIES * shards if groups > 1 else 0, dtype=np.int64)
    barrier = _native.Barrier(groups)
    events = c_events(cols)
    keep = {  # the task's arrays, alive through the call
        "matched": ffi.new("uint32_t *[]", [_native.out_pointer(m) for m in matched]),
    }
    task = ffi.new(
        "bb_fraud_task *",
        {
            "rules": rules_c,
            "lists": lists_c,
            "events": events,
            "n_events": n,
            "groups": groups,
            "shards": shards,
            "status": _native.out_pointer(status),
            "decision": _native.out_pointer(decision),
            "barrier": barrier.c,
            "rows": _native.out_pointer(rows) if groups > 1 else ffi.NULL,
            "counts": _native.out_pointer(counts) if groups > 1 else ffi.NULL,
            "shard_ids": _native.out_pointer(shard_ids) if groups > 1 else ffi.NULL,
            **keep,
        },
    )
    _native.parallel_groups("bb_fraud_run_groups", task, groups)
    return matched[0], status, decision


def confusion(labels: np.ndarray, decisions: np.ndarray) -> pa.Table:
    code = labels.astype(np.uint8) * np.uint8(3) + decisions  # one byte per event, no int64 copy
    counts = [np.count_nonzero(code == k) for k in range(len(LABELS) * 3)]
    rows = [
        (label, decision, int(counts[label * 3 + decision]))
        for label in range(len(LABELS))
        for decision in range(3)
    ]
    return _tables.from_rows(rows, CONFUSION)


def precision_recall(confusion_table: pa.Table) -> tuple[tuple[int, int], tuple[int, int]]:
    """(precision, recall) as integer ratios (numerator, denominator): flagged = not allow,
    fraud = any injected label."""
    rows = confusion_table.to_pylist()
    flagged_fraud = sum(r["events"] for r in rows if r["label"] and r["decision"] != ALLOW)
    flagged = sum(r["events"] for r in rows if r["decision"] != ALLOW)
    fraud = sum(r["events"] for r in rows if r["label"])
    return (flagged_fraud, flagged), (flagged_fraud, fraud)


class Fraud(Workload):
    name = "loan.fraud"
    title = "fraud screening"
    unit = "events"
    engines = ("c", "python")
    c_sources = ("src/fraud.c", "src/barrier.c", "src/hashmap.c", "src/tables.c")
    input_schemas = {"events": EVENTS, "rules": RULES, "lists": LISTS}
    output_schemas = {"decisions": DECISIONS, "confusion": CONFUSION}

    def _generate(self, scale: float, seed: int) -> _tables.Tables:
        from workloads.loan._fraud_data import generate

        return generate(scaled(1_000_000, scale), seed)

    def _validate_more(self, inputs) -> None:
        parse_rules(inputs["rules"])
        parse_lists(inputs["lists"])
        events = inputs["events"]
        check_order(events)
        if "label" in events.column_names:  # optional: scored against when present
            _tables.validate({"events": events}, {"events": {"label": pa.uint8()}}, self.name)
            labels = events.column("label").to_numpy()
            if (labels >= len(LABELS)).any():
                raise InputError(
                    f"{self.name}: events.label row {int(np.argmax(labels >= len(LABELS)))} "
                    f"is not a known label 0..{len(LABELS) - 1}"
                )

    def _units(self, inputs) -> int:
        return inputs["events"].num_rows

    def _labels(self, events: pa.Table) -> np.ndarray:
        if "label" in events.schema.names:  # validated: uint8, no nulls, a known label
            return _native.column_view(events.column("label"))
        return np.zeros(events.num_rows, dtype=np.uint8)

    def _run_python(self, inputs, threads: int) -> _tables.Tables:
        reference = Reference(parse_rules(inputs["rules"]), parse_lists(inputs["lists"]))
        rows = []
        for event in inputs["events"].select(list(EVENTS)).to_pylist():
            matched, status = reference.evaluate(event)
            rows.append(
                (
                    event["event_id"],
                    reference.decide(event["user_id"], matched, status),
                    matched,
                    status,
                )
            )
        decisions = _tables.from_rows(rows, DECISIONS)
        labels = self._labels(inputs["events"])
        return {
            "decisions": decisions,
            "confusion": confusion(labels, decisions.column("decision").to_numpy()),
        }

    def _run_c(self, inputs, threads: int) -> _tables.Tables:
        cols = _tables.columns(inputs["events"], EVENTS)
        rules, lists = _tables.parsed_once(  # read only
            "loan.fraud",
            (inputs["rules"], inputs["lists"]),
            lambda: (parse_rules(inputs["rules"]), parse_lists(inputs["lists"])),
        )
        matched, status, decision = evaluate_c(rules, lists, cols, threads)
        out = {
            "event_id": cols["event_id"],
            "decision": decision,
            "matched_rules": matched,
            "status": status,
        }
        return {
            "decisions": _tables.table(out, DECISIONS),
            "confusion": confusion(self._labels(inputs["events"]), decision),
        }

    def _check(self, inputs, outputs) -> None:
        decisions = outputs["decisions"]
        events = inputs["events"]
        assert decisions.num_rows == events.num_rows, "one decision per event"
        assert (
            decisions.column("event_id").to_numpy() == events.column("event_id").to_numpy()
        ).all(), "decisions in event order"
        matched = decisions.column("matched_rules").to_numpy()
        decision = decisions.column("decision").to_numpy()
        status = decisions.column("status").to_numpy()
        assert (matched < (1 << lib.BB_FRAUD_RULES)).all(), "only the rules' bits"
        lists = parse_lists(inputs["lists"])
        allowed = np.isin(
            events.column("user_id").to_numpy().astype(np.uint64), lists[ALLOWED_USER]
        )
        assert ((decision[(matched == 0) & (status == 0)]) == ALLOW).all(), "no rule, no flag"
        assert (decision[(status == 0) & allowed] == ALLOW).all(), "the allow list wins"
        assert (decision[status != 0] == REJECT).all(), "bad events are rejected"
        total = outputs["confusion"].column("events").to_numpy().sum()
        assert total == events.num_rows, "the confusion counts cover every event"
