"""The W1 transfer stream for ledger.post (reference/workloads.md §7): per customer a deposit
account (liability, may not be overdrawn) and a loan receivable (asset, may not be over-repaid);
per cell the GL accounts (settlement, interest, fee, funding). After a funding batch, an
operation mix of P2P payments, card holds with their posts and voids, loan drawdowns and
repayments as linked pairs, retries and invalid events. Integer-only, from named streams."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from workloads import _tables
from workloads._base import scaled
from workloads._rng import Stream
from workloads.ledger import _sharded, post
from workloads.ledger import _tigerbeetle as tb

CELLS = 8
LEDGER_CNY = 156
CROSS_CELL_PERCENT = 5  # P2P payments to a customer of another cell
HOT_PERCENT = 20  # of debits go to the hot 1 % of customers
FEE_BP = 30  # drawdown fee: 0.30 %
SETTLEMENT, INTEREST, FEE, FUNDING = 1, 2, 3, 4  # GL account slots per cell
KINDS = ["p2p", "hold", "post", "void", "drawdown", "repay", "retry", "retry_changed", "invalid"]
WEIGHTS = [40, 15, 10, 5, 10, 10, 3, 1, 6]
BALANCE = [
    (10, 0, 99_99),
    (50, 100_00, 9_999_99),
    (35, 10_000_00, 99_999_99),
    (5, 100_000_00, 999_999_99),
]
P2P = [(40, 1_00, 99_99), (35, 100_00, 999_99), (20, 1_000_00, 9_999_99), (5, 10_000_00, 50_000_00)]


def account_ids(customers: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """(deposit, loan) account ids of customers 0..n-1; customer k lives in cell k % cells."""
    k = np.arange(customers, dtype=np.uint64)
    c = np.uint64(cells)
    return c * (2 * k + 10) + k % c, c * (2 * k + 11) + k % c


def gl_id(slot: int, cell, cells: int):
    return np.uint64(cells) * np.uint64(slot) + np.asarray(cell, dtype=np.uint64)


def accounts_table(customers: int, cells: int) -> pa.Table:
    deposit, loan = account_ids(customers, cells)
    gl = [
        (gl_id(slot, c, cells), code)
        for c in range(cells)
        for slot, code in ((SETTLEMENT, 1002), (INTEREST, 6011), (FEE, 6021), (FUNDING, 2301))
    ]
    ids = np.concatenate([deposit, loan, np.array([int(g) for g, _ in gl], dtype=np.uint64)])
    codes = np.concatenate(
        [np.full(customers, 2001), np.full(customers, 1301), [code for _, code in gl]]
    )
    flags = np.concatenate(
        [
            np.full(customers, tb.DEBITS_MUST_NOT_EXCEED_CREDITS),
            np.full(customers, tb.CREDITS_MUST_NOT_EXCEED_DEBITS),
            np.zeros(len(gl)),
        ]
    )
    return _tables.table(
        {
            "id": ids,
            "ledger": np.full(len(ids), LEDGER_CNY, np.uint32),
            "code": codes.astype(np.uint16),
            "flags": flags.astype(np.uint16),
        },
        post.ACCOUNTS,
    )


def generate(
    scale: float, seed: int, cells: int = CELLS, batch_size: int = post.BATCH_SIZE_MAX
) -> dict:
    customers = max(4 * cells, scaled(100_000, scale))
    n_ops = scaled(2_000_000, scale)
    deposit, loan = account_ids(customers, cells)
    zeros = np.zeros(n_ops, dtype=np.uint64)

    def stream(name: str) -> Stream:
        return Stream(seed, f"ledger.post.{name}")

    kind = stream("kind").choice(n_ops, list(range(len(KINDS))), WEIGHTS)
    hot = stream("hot").chance(n_ops, HOT_PERCENT, 100)
    hot_set = max(1, customers // 100)
    actor = np.where(
        hot, stream("hot_actor").bounded(n_ops, hot_set), stream("actor").bounded(n_ops, customers)
    ).astype(np.int64)
    cell = actor % cells
    # P2P payee: same cell unless the payment crosses cells
    same_cell_payee = (
        stream("payee").bounded(n_ops, customers // cells).astype(np.int64) * cells + cell
    )
    crossing = stream("crossing").chance(n_ops, CROSS_CELL_PERCENT, 100)
    payee = np.where(
        crossing, stream("any_payee").bounded(n_ops, customers).astype(np.int64), same_cell_payee
    )
    payee = np.where(payee == actor, (actor + cells) % customers, payee)
    amount = stream("amount").histogram(n_ops, P2P).astype(np.uint64)
    principal = stream("principal").histogram(n_ops, [(1, 500_00, 40_000_00)]).astype(np.uint64)
    repaid = stream("repaid").histogram(n_ops, [(1, 100_00, 5_000_00)]).astype(np.uint64)
    interest = stream("interest").histogram(n_ops, [(1, 1_00, 500_00)]).astype(np.uint64)
    timeout = stream("timeout").histogram(n_ops, [(1, 1, 5)]).astype(np.uint32)
    seq = np.arange(n_ops, dtype=np.uint64) + np.uint64(customers + 1000)

    def tid(home):  # a transfer id homed in a cell, unique per operation
        return seq * np.uint64(cells) + np.asarray(home, dtype=np.uint64)

    fields = {
        f: zeros.copy()
        for f in ("debit_account_id", "credit_account_id", "amount", "pending_id", "user_data_64")
    }
    fields.update(
        id=tid(cell),
        user_data_32=np.zeros(n_ops, np.uint32),
        timeout=np.zeros(n_ops, np.uint32),
        ledger=np.full(n_ops, LEDGER_CNY, np.uint32),
        code=np.ones(n_ops, np.uint16),
        flags=np.zeros(n_ops, np.uint16),
    )
    second = {
        "debit_account_id": zeros.copy(),
        "credit_account_id": zeros.copy(),
        "amount": zeros.copy(),
    }

    def put(mask, **values):
        for name, value in values.items():
            fields[name][mask] = value[mask] if isinstance(value, np.ndarray) else value

    k = {name: kind == i for i, name in enumerate(KINDS)}
    everything = np.ones(n_ops, dtype=bool)  # a P2P payment unless its kind says otherwise
    put(
        everything,
        debit_account_id=deposit[actor],
        credit_account_id=deposit[payee],
        amount=amount,
        code=1,
    )
    put(
        k["hold"],
        debit_account_id=deposit[actor],
        credit_account_id=gl_id(SETTLEMENT, cell, cells),
        amount=amount,
        timeout=timeout,
        flags=tb.PENDING,
        code=2,
    )
    # posts and voids of a recent hold: the hold's accounts and cell, full post 70 % of the time
    holds = np.flatnonzero(k["hold"])
    resolve = k["post"] | k["void"]
    before = np.searchsorted(holds, np.arange(n_ops))
    recent = np.maximum(np.minimum(before, 64), 1)  # one of the last 64 holds
    back = stream("pick").bounded(n_ops, 2**32).astype(np.int64) % recent
    target = holds[np.maximum(before - 1 - back, 0)] if len(holds) else np.zeros(n_ops, np.int64)
    resolve &= before > 0
    full = stream("full").chance(n_ops, 70, 100)
    put(
        resolve,
        id=tid(cell[target]),
        pending_id=fields["id"][target],
        debit_account_id=fields["debit_account_id"][target],
        credit_account_id=fields["credit_account_id"][target],
        code=0,
        ledger=0,
    )
    post_amount = np.where(full, np.uint64(tb.U64_MAX), fields["amount"][target] // np.uint64(2))
    put(resolve & k["post"], amount=post_amount, flags=tb.POST_PENDING)
    put(resolve & k["void"], amount=0, flags=tb.VOID_PENDING)
    # linked pairs: drawdown (loan → deposit, then the fee), repayment (deposit → loan, interest)
    fee = (principal * np.uint64(FEE_BP) + np.uint64(5000)) // np.uint64(10_000)
    put(
        k["drawdown"],
        debit_account_id=loan[actor],
        credit_account_id=deposit[actor],
        amount=principal,
        flags=tb.LINKED,
        code=3,
    )
    put(
        k["repay"],
        debit_account_id=deposit[actor],
        credit_account_id=loan[actor],
        amount=repaid,
        flags=tb.LINKED,
        code=4,
    )
    chain = k["drawdown"] | k["repay"]
    second["debit_account_id"] = np.where(chain, deposit[actor], 0).astype(np.uint64)
    second["credit_account_id"] = np.where(
        k["drawdown"], gl_id(FEE, cell, cells), gl_id(INTEREST, cell, cells)
    ).astype(np.uint64)
    second["amount"] = np.where(k["drawdown"], fee, interest).astype(np.uint64)
    # retries of an earlier operation's first event: identical, or with one field changed
    earlier = np.maximum(
        np.arange(n_ops) - 1 - stream("earlier").bounded(n_ops, 10_000).astype(np.int64), 0
    )
    retry = (k["retry"] | k["retry_changed"]) & (np.arange(n_ops) > 0)
    for name in fields:
        put(retry, **{name: fields[name][earlier]})
    put(retry, flags=fields["flags"][earlier] & np.uint16(~tb.LINKED & 0xFFFF))  # a lone event
    put(retry & k["retry_changed"], amount=fields["amount"][earlier] + np.uint64(1))
    # invalid events, cycling through the kinds of mistake
    invalid = np.flatnonzero(k["invalid"])
    mistake = np.arange(len(invalid)) % 7
    base = {
        "debit_account_id": deposit[actor[invalid]],
        "credit_account_id": deposit[payee[invalid]],
        "amount": amount[invalid],
    }
    for name, value in base.items():
        fields[name][invalid] = value
    fields["credit_account_id"][invalid[mistake == 0]] = fields["debit_account_id"][
        invalid[mistake == 0]
    ]
    fields["credit_account_id"][invalid[mistake == 1]] = 7  # no such account
    fields["ledger"][invalid[mistake == 2]] = 0
    fields["code"][invalid[mistake == 3]] = 0
    fields["pending_id"][invalid[mistake == 4]] = 12345
    fields["timeout"][invalid[mistake == 5]] = 3
    posts = np.flatnonzero(resolve & k["post"])
    again = invalid[mistake == 6]
    if len(posts) and len(again):  # post a pending that was (probably) posted already
        source = posts[np.minimum(np.searchsorted(posts, again), len(posts)) - 1]
        usable = source < again
        for name in ("pending_id", "debit_account_id", "credit_account_id"):
            fields[name][again[usable]] = fields[name][source[usable]]
        fields["flags"][again[usable]] = tb.POST_PENDING
        fields["amount"][again[usable]] = tb.U64_MAX
        fields["code"][again[usable]] = 0
        fields["ledger"][again[usable]] = 0

    # expand operations into events (a linked pair is two), after one funding event per customer
    per_op = np.where(chain, 2, 1)
    event_op = np.repeat(np.arange(n_ops), per_op)
    is_second = np.concatenate([[False], event_op[1:] == event_op[:-1]])
    events = {}
    for name, value in fields.items():
        column = value[event_op].copy()
        if name in second:
            column[is_second] = second[name][event_op[is_second]]
        events[name] = column
    events["id"][is_second] = events["id"][is_second] + np.uint64(
        cells * (n_ops + customers + 2000)
    )
    events["flags"][is_second] = 0
    funding = {
        "id": np.uint64(cells) * np.arange(1, customers + 1, dtype=np.uint64) * np.uint64(7)
        + np.arange(customers, dtype=np.uint64) % np.uint64(cells)
        + np.uint64(cells * 4 * (n_ops + customers + 2000)),
        "debit_account_id": gl_id(SETTLEMENT, np.arange(customers) % cells, cells),
        "credit_account_id": deposit,
        "amount": stream("balance").histogram(customers, BALANCE).astype(np.uint64),
    }
    for name in fields:
        if name not in funding:
            funding[name] = np.zeros(customers, dtype=fields[name].dtype)
    funding["ledger"][:] = LEDGER_CNY
    funding["code"][:] = 9
    columns = {name: np.concatenate([funding[name], events[name]]) for name in fields}
    columns["timestamp"] = np.zeros(len(columns["id"]), dtype=np.uint64)
    columns["batch"] = np.zeros(len(columns["id"]), dtype=np.uint32)
    transfers = post.rebatch(_tables.table(columns, post.TRANSFERS), batch_size)
    return {
        "accounts": accounts_table(customers, cells),
        "transfers": transfers,
        "config": _sharded.config_table(cells),
    }
