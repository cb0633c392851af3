"""Synthetic event stream for loan.fraud: background activity plus injected, labelled
patterns (device farms, mule fan-in, drawdown bursts, account takeovers, blocked users).
Integer-only, from named streams; sorted by (ts, a random tie-break), then numbered."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from workloads import _tables
from workloads._rng import Stream
from workloads.loan import fraud as spec

TYPE_WEIGHTS = [35, 20, 30, 15]  # login, drawdown, transfer, repay
AMOUNTS = {
    spec.DRAWDOWN: [(50, 500_00, 5_000_00), (35, 5_000_01, 30_000_00), (15, 30_000_01, 200_000_00)],
    spec.TRANSFER: [(60, 1_00, 1_000_00), (30, 1_000_01, 10_000_00), (10, 10_000_01, 100_000_00)],
    spec.REPAY: [(100, 100_00, 20_000_00)],
}
DEVICE_BASE = 50_000_000
IP_BASE = 0x0A0000  # 10.0.0.0/24 blocks, as 24-bit prefixes


def _amounts(stream: Stream, types: np.ndarray) -> np.ndarray:
    amount = np.zeros(len(types), dtype=np.int64)
    for kind, histogram in AMOUNTS.items():
        amount = np.where(types == kind, stream.histogram(len(types), histogram), amount)
    return amount


def _groups(seed: int, name: str, count: int, size_lo: int, size_hi: int):
    """count groups of size_lo..size_hi members: (group of each member, group sizes)."""
    sizes = Stream(seed, f"fraud.{name}.size").histogram(count, [(1, size_lo, size_hi)])
    return np.repeat(np.arange(count), sizes), sizes


def generate(n_background: int, seed: int) -> dict[str, pa.Table]:
    users = max(16, n_background // 10)
    counterparties = max(16, users // 2)
    ip_blocks = max(4, users // 8)
    phone = Stream(seed, "fraud.phone").bounded(users + 1, 2**63)  # per user id
    parts = []

    def part(label, ts, types, user, device, ip, counterparty, amount):
        parts.append(
            {
                "ts": ts.astype(np.int64),
                "type": types.astype(np.int64),
                "user_id": user.astype(np.int64),
                "device_id": device.astype(np.int64),
                "ip24": ip.astype(np.int64),
                "counterparty_id": counterparty.astype(np.int64),
                "amount_fen": amount,
                "label": np.full(len(ts), label, dtype=np.int64),
            }
        )

    # background: users act uniformly over a week from their own device and home block
    n = n_background
    user = 1 + Stream(seed, "fraud.bg.user").bounded(n, users).astype(np.int64)
    types = Stream(seed, "fraud.bg.type").choice(n, [0, 1, 2, 3], TYPE_WEIGHTS)
    second_device = Stream(seed, "fraud.bg.second_device").chance(n, 5, 100)
    device = np.where(
        second_device, DEVICE_BASE + users + 1 + user % max(1, users // 2), DEVICE_BASE + user
    )
    roaming = Stream(seed, "fraud.bg.roaming").chance(n, 20, 100)
    ip = IP_BASE + np.where(
        roaming,
        Stream(seed, "fraud.bg.ip").bounded(n, ip_blocks).astype(np.int64),
        user % ip_blocks,
    )
    counterparty = np.where(
        types == spec.TRANSFER,
        1 + Stream(seed, "fraud.bg.cp").bounded(n, counterparties).astype(np.int64),
        0,
    )
    ts = spec.START_TS + Stream(seed, "fraud.bg.ts").bounded(n, spec.HORIZON_S).astype(np.int64)
    part(
        0,
        ts,
        types,
        user,
        device,
        ip,
        counterparty,
        _amounts(Stream(seed, "fraud.bg.amount"), types),
    )

    next_device = DEVICE_BASE + 2 * users + 10
    # device farms: one new device, 8-20 users, a drawdown each within 3 hours
    member, sizes = _groups(seed, "farm", max(1, n // 2000), 8, 20)
    start = spec.START_TS + Stream(seed, "fraud.farm.start").bounded(
        len(sizes), spec.HORIZON_S - 3 * 3600
    )
    m = len(member)
    farm_user = 1 + Stream(seed, "fraud.farm.user").bounded(m, users).astype(np.int64)
    part(
        1,
        start[member].astype(np.int64)
        + Stream(seed, "fraud.farm.offset").bounded(m, 3 * 3600).astype(np.int64),
        np.full(m, spec.DRAWDOWN),
        farm_user,
        next_device + member,
        IP_BASE + farm_user % ip_blocks,
        np.zeros(m),
        Stream(seed, "fraud.farm.amount").histogram(m, AMOUNTS[spec.DRAWDOWN]),
    )
    next_device += len(sizes)
    # mule fan-in: 10-20 senders to one new counterparty within an hour
    member, sizes = _groups(seed, "mule", max(1, n // 2000), 10, 20)
    start = spec.START_TS + Stream(seed, "fraud.mule.start").bounded(
        len(sizes), spec.HORIZON_S - 3600
    )
    m = len(member)
    sender = 1 + Stream(seed, "fraud.mule.user").bounded(m, users).astype(np.int64)
    part(
        2,
        start[member].astype(np.int64)
        + Stream(seed, "fraud.mule.offset").bounded(m, 3600).astype(np.int64),
        np.full(m, spec.TRANSFER),
        sender,
        DEVICE_BASE + sender,
        IP_BASE + sender % ip_blocks,
        counterparties + 1 + member,
        Stream(seed, "fraud.mule.amount").histogram(m, AMOUNTS[spec.TRANSFER]),
    )
    # bursts: one user, 5-8 drawdowns within 10 minutes
    member, sizes = _groups(seed, "burst", max(1, n // 2000), 5, 8)
    start = spec.START_TS + Stream(seed, "fraud.burst.start").bounded(
        len(sizes), spec.HORIZON_S - 600
    )
    burst_user = 1 + Stream(seed, "fraud.burst.user").bounded(len(sizes), users).astype(np.int64)
    m = len(member)
    part(
        3,
        start[member].astype(np.int64)
        + Stream(seed, "fraud.burst.offset").bounded(m, 600).astype(np.int64),
        np.full(m, spec.DRAWDOWN),
        burst_user[member],
        DEVICE_BASE + burst_user[member],
        IP_BASE + burst_user[member] % ip_blocks,
        np.zeros(m),
        Stream(seed, "fraud.burst.amount").histogram(m, AMOUNTS[spec.DRAWDOWN]),
    )
    # account takeover: a new device, a large outflow between 01:00 and 04:00 local time
    m = max(1, n // 500)
    victim = 1 + Stream(seed, "fraud.ato.user").bounded(m, users).astype(np.int64)
    day = Stream(seed, "fraud.ato.day").bounded(m, 7).astype(np.int64)
    night = 3600 + Stream(seed, "fraud.ato.second").bounded(m, 3 * 3600).astype(np.int64)
    part(
        4,
        spec.START_TS + day * spec.DAY_S + night,
        Stream(seed, "fraud.ato.type").choice(m, [spec.DRAWDOWN, spec.TRANSFER], [50, 50]),
        victim,
        next_device + np.arange(m),
        IP_BASE + Stream(seed, "fraud.ato.ip").bounded(m, ip_blocks).astype(np.int64),
        np.zeros(m),
        Stream(seed, "fraud.ato.amount").histogram(m, [(1, 10_000_00, 50_000_00)]),
    )
    # blocked users acting (0.2 % of events)
    blocked_users = 1 + np.unique(
        Stream(seed, "fraud.blocked").bounded(max(1, users // 1000), users).astype(np.int64)
    )
    m = max(1, n // 500)
    actor = blocked_users[
        Stream(seed, "fraud.blocked.who").bounded(m, len(blocked_users)).astype(np.int64)
    ]
    blocked_types = Stream(seed, "fraud.blocked.type").choice(m, [0, 1, 2, 3], TYPE_WEIGHTS)
    part(
        5,
        spec.START_TS
        + Stream(seed, "fraud.blocked.ts").bounded(m, spec.HORIZON_S).astype(np.int64),
        blocked_types,
        actor,
        DEVICE_BASE + actor,
        IP_BASE + actor % ip_blocks,
        np.where(blocked_types == spec.TRANSFER, 1 + actor % counterparties, 0),
        _amounts(Stream(seed, "fraud.blocked.amount"), blocked_types),
    )

    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    tie = Stream(seed, "fraud.order").bounded(len(merged["ts"]), 2**63)
    order = np.lexsort((tie, merged["ts"]))
    events = {k: v[order] for k, v in merged.items()}
    events["event_id"] = np.arange(1, len(order) + 1, dtype=np.uint64)
    events["phone_hash"] = phone[events["user_id"]]
    typed = {k: events[k].astype(t.to_pandas_dtype()) for k, t in spec.EVENTS_WITH_LABEL.items()}
    lists = [(spec.BLOCKED_USER, int(u)) for u in blocked_users]
    lists += [(spec.BLOCKED_PHONE, int(phone[u])) for u in blocked_users[:1]]
    lists += [(spec.ALLOWED_USER, int(u)) for u in (1 + np.arange(min(3, users)))]
    return {
        "events": _tables.table(typed, spec.EVENTS_WITH_LABEL),
        "rules": spec.rules_table(),
        "lists": _tables.from_rows(lists, spec.LISTS),
    }
