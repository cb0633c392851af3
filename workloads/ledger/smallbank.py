"""ledger.smallbank — the SmallBank mix with explicit, money-conserving semantics (W2).

What it models: the classic banking OLTP benchmark (Alomari et al.; BenchBase, H-Store) as
integer fen, with its six transactions over checking and savings balances:
- Amalgamate(a, b): everything a holds (checking + savings) moves to b's checking;
- Balance(a): reports checking + savings;
- DepositChecking(a, v): checking += v;
- SendPayment(a, b, v): aborts when checking(a) < v, else moves v between checkings;
- TransactSavings(a, v): aborts when savings − v < 0, else savings −= v;
- WriteCheck(a, v): checking −= v, or v + 1 RMB penalty when checking + savings < v
  (checking may go negative).
Unlike BenchBase (whose Amalgamate loses money and whose WriteCheck charges v − 1), money
is conserved: Σ(checking + savings) changes only by deposits, savings withdrawals and
charged cheques. Status per transaction: 0 commit, 1 abort (a business rule), 2 overflow
(nothing changes), 3 invalid (unknown customer or type, a negative amount, a = b).

Inputs: ``customers`` (checking_fen i64, savings_fen i64; the row number is the customer),
``transactions`` (batch u32, type u8 — 0 Amalgamate, 1 Balance, 2 DepositChecking,
3 SendPayment, 4 TransactSavings, 5 WriteCheck — customer_a u32, customer_b u32,
amount_fen i64) and ``config`` (cells u32). Cells as in ledger.post: customer c lives in cell
c % cells; each batch runs the transactions within one cell first (cells in parallel), then
the ones between cells in batch order.

Outputs: ``results`` (status u8, value_fen i64: the balance for Balance, the amount charged
for WriteCheck, else 0) and ``customers`` (final balances). Unit: transactions. Data:
1,000,000 customers at scale 1 with balances uniform in 10,000–50,000 RMB, 4,000,000
transactions drawn from shuffled decks of 100 with BenchBase's exact mix (Amalgamate 15,
Balance 15, DepositChecking 15, SendPayment 25, TransactSavings 15, WriteCheck 15) and its
amounts (5.00, 1.30, 20.20, 5.00 RMB), customers uniform (or a 25 % hot spot of 100).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from native import ffi, lib
from workloads import _native, _tables
from workloads._base import Workload, scaled
from workloads._rng import Stream
from workloads.errors import InputError
from workloads.ledger import _sharded
from workloads.ledger._sharded import batch_bounds, cells_of, check_batches, config_table

AMALGAMATE, BALANCE, DEPOSIT_CHECKING, SEND_PAYMENT, TRANSACT_SAVINGS, WRITE_CHECK = range(6)
COMMIT, ABORT, OVERFLOW, INVALID = range(4)
PENALTY_FEN = 100
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
MIX = [15, 15, 15, 25, 15, 15]  # per deck of 100, in type order
AMOUNT_FEN = {DEPOSIT_CHECKING: 130, SEND_PAYMENT: 500, TRANSACT_SAVINGS: 2020, WRITE_CHECK: 500}
BATCH_SIZE = 65_536  # transactions per batch: the cells synchronise once per batch
CELLS = 8
# core instructions to read one customer's balances back out (two loads, two stores, the slot)
INSTRUCTIONS_PER_CUSTOMER_READ = 10
CROSS_CELL_PERCENT = 5

CUSTOMERS = {"checking_fen": pa.int64(), "savings_fen": pa.int64()}
TRANSACTIONS = {
    "batch": pa.uint32(),
    "type": pa.uint8(),
    "customer_a": pa.uint32(),
    "customer_b": pa.uint32(),
    "amount_fen": pa.int64(),
}
RESULTS = {"status": pa.uint8(), "value_fen": pa.int64()}


def _fits(value: int) -> bool:
    return I64_MIN <= value <= I64_MAX


def run_one(
    checking: list[int], savings: list[int], kind: int, a: int, b: int, v: int
) -> tuple[int, int]:
    """The reference: (status, value_fen) of one transaction, applied to the balance lists."""
    n = len(checking)
    if kind > WRITE_CHECK or a >= n or v < 0:
        return INVALID, 0
    if kind in (AMALGAMATE, SEND_PAYMENT) and (b >= n or b == a):
        return INVALID, 0
    if kind == BALANCE:
        total = checking[a] + savings[a]
        return (COMMIT, total) if _fits(total) else (OVERFLOW, 0)
    if kind == DEPOSIT_CHECKING:
        if not _fits(checking[a] + v):
            return OVERFLOW, 0
        checking[a] += v
        return COMMIT, 0
    if kind == TRANSACT_SAVINGS:
        if savings[a] < v:
            return ABORT, 0
        savings[a] -= v
        return COMMIT, 0
    if kind == SEND_PAYMENT:
        if checking[a] < v:
            return ABORT, 0
        if not _fits(checking[b] + v):
            return OVERFLOW, 0
        checking[a] -= v
        checking[b] += v
        return COMMIT, 0
    if kind == WRITE_CHECK:
        total = checking[a] + savings[a]
        charge = v + PENALTY_FEN if total < v else v
        if not _fits(total) or not _fits(charge) or not _fits(checking[a] - charge):
            return OVERFLOW, 0
        checking[a] -= charge
        return COMMIT, charge
    total = checking[a] + savings[a]  # Amalgamate
    if not _fits(total) or not _fits(checking[b] + total):
        return OVERFLOW, 0
    checking[a] = savings[a] = 0
    checking[b] += total
    return COMMIT, 0


def cell_of(kind: int, a: int, b: int, n: int, cells: int) -> int:
    if a >= n or kind > WRITE_CHECK:
        return -1
    if kind not in (AMALGAMATE, SEND_PAYMENT):
        return a % cells
    return a % cells if b < n and b % cells == a % cells else -1


def generate(scale: float, seed: int, hotspot: bool = False) -> dict:
    n = scaled(1_000_000, scale)
    count = scaled(4_000_000, scale)

    def stream(name: str) -> Stream:
        return Stream(seed, f"ledger.smallbank.{name}")

    balances = {name: stream(name).histogram(n, [(1, 10_000_00, 50_000_00)]) for name in CUSTOMERS}
    decks = -(-count // 100)
    deck = np.repeat(np.arange(6, dtype=np.uint8), MIX)
    order = np.argsort(stream("shuffle").bounded(decks * 100, 2**63).reshape(decks, 100), axis=1)
    kind = deck[order].reshape(-1)[:count]
    a = stream("a").bounded(count, n).astype(np.int64)
    if hotspot:  # H-Store's constants: 25 % of transactions go to 100 customers
        a = np.where(
            stream("hot").chance(count, 25, 100), stream("hot_a").bounded(count, min(100, n)), a
        )
    cell = a % CELLS
    same = stream("b").bounded(count, max(1, n // CELLS)).astype(np.int64) * CELLS + cell
    b = np.where(
        stream("crossing").chance(count, CROSS_CELL_PERCENT, 100),
        stream("any_b").bounded(count, n).astype(np.int64),
        same,
    )
    b = np.where((b == a) | (b >= n), (a + CELLS) % n, b)
    b = np.where(b == a, (a + 1) % n, b)
    amount = np.zeros(count, dtype=np.int64)
    for k, value in AMOUNT_FEN.items():
        amount[kind == k] = value
    transactions: dict[str, np.ndarray] = {
        "batch": (np.arange(count) // BATCH_SIZE).astype(np.uint32),
        "type": kind,
        "customer_a": a.astype(np.uint32),
        "customer_b": b.astype(np.uint32),
        "amount_fen": amount,
    }
    return {
        "customers": _tables.table(balances, CUSTOMERS),
        "transactions": _tables.table(transactions, TRANSACTIONS),
        "config": config_table(CELLS),
    }


class SmallBank(Workload):
    name = "ledger.smallbank"
    title = "SmallBank transactions"
    unit = "transactions"
    engines = ("c", "python")
    c_sources = ("src/smallbank.c", "src/batches.c", "src/barrier.c", "src/tables.c")
    input_schemas = {
        "customers": CUSTOMERS,
        "transactions": TRANSACTIONS,
        "config": _sharded.CONFIG,
    }
    output_schemas = {"results": RESULTS, "customers": CUSTOMERS}

    def _generate(self, scale: float, seed: int) -> _tables.Tables:
        return generate(scale, seed)

    def _validate_more(self, inputs) -> None:
        cells_of(inputs["config"], self.name)
        if inputs["customers"].num_rows >= 2**32 - 1:
            raise InputError("ledger.smallbank: at most 2^32-2 customers")
        check_batches(inputs["transactions"].column("batch").to_numpy(), self.name, "transactions")

    def _units(self, inputs) -> int:
        return inputs["transactions"].num_rows

    def _run_python(self, inputs, threads: int) -> _tables.Tables:
        cells = cells_of(inputs["config"], self.name)
        checking = inputs["customers"].column("checking_fen").to_pylist()
        savings = inputs["customers"].column("savings_fen").to_pylist()
        t = inputs["transactions"]
        kinds, a, b, v = (
            t.column(c).to_pylist() for c in ("type", "customer_a", "customer_b", "amount_fen")
        )
        out: list[tuple[int, int]] = [(0, 0)] * t.num_rows
        for begin, end in batch_bounds(t.column("batch").to_numpy()):
            where = [cell_of(kinds[i], a[i], b[i], len(checking), cells) for i in range(begin, end)]
            local = [i for i, c in zip(range(begin, end), where, strict=True) if c >= 0]
            crossing = [i for i, c in zip(range(begin, end), where, strict=True) if c < 0]
            for i in local + crossing:
                out[i] = run_one(checking, savings, kinds[i], a[i], b[i], v[i])
        return {
            "results": _tables.from_rows(out, RESULTS),
            "customers": _tables.from_rows(list(zip(checking, savings, strict=True)), CUSTOMERS),
        }

    def _run_c(self, inputs, threads: int) -> _tables.Tables:
        cells = cells_of(inputs["config"], self.name)
        customers = _tables.columns(inputs["customers"], CUSTOMERS)
        cols = _tables.columns(inputs["transactions"], TRANSACTIONS)
        n = len(cols["type"])
        bank = ffi.new("bb_smallbank **")
        rc = lib.bb_smallbank_new(  # balances loaded by the run's groups, in parallel
            ffi.NULL,
            ffi.NULL,
            len(customers["checking_fen"]),
            cells,
            bank,
        )
        _native.check_status(rc, "bb_smallbank_new")
        bank_c = ffi.gc(bank[0], lib.bb_smallbank_free)
        txns = ffi.new(
            "bb_smallbank_txns *",
            {
                k: _native.pointer(cols[k])
                for k in ("type", "customer_a", "customer_b", "amount_fen")
            },
        )
        out: dict[str, np.ndarray] = {
            "status": np.empty(n, np.uint8),
            "value_fen": np.empty(n, np.int64),
        }
        results_c = ffi.new(
            "bb_smallbank_results *",
            {
                "status": _native.out_pointer(out["status"]),
                "balance_fen": _native.out_pointer(out["value_fen"]),
            },
        )
        # the groups load the balances; they are read back by a parallel call after the run:
        # final arrays written inside it would add their 16 B a customer to the run's peak
        # (the plan's arrays are still held then): RSS growth 1.41 → 1.51 × the data, scale 1
        balances = {k: _native.pointer(customers[k]) for k in CUSTOMERS}
        _sharded.run(
            batch_bounds(cols["batch"]),
            threads,
            cells,
            {"bank": bank_c, "txns": txns, "results": results_c, **balances},
            "bb_smallbank",
        )
        n_customers = len(customers["checking_fen"])
        final = {k: np.empty(n_customers, np.int64) for k in CUSTOMERS}
        read = ffi.new(
            "bb_smallbank_read_task *",
            {"bank": bank_c, **{k: _native.out_pointer(final[k]) for k in CUSTOMERS}},
        )
        threads = _native.threads_worth(n_customers, INSTRUCTIONS_PER_CUSTOMER_READ, threads)
        _native.parallel_ranges("bb_smallbank_read_rows", read, n_customers, threads)
        return {
            "results": _tables.table(out, RESULTS),
            "customers": _tables.table(final, CUSTOMERS),
        }

    def _check(self, inputs, outputs) -> None:
        t = inputs["transactions"]
        status = outputs["results"].column("status").to_numpy()
        value = outputs["results"].column("value_fen").to_numpy()
        kind = t.column("type").to_numpy()
        amount = t.column("amount_fen").to_numpy()
        committed = status == COMMIT

        def total(table: pa.Table) -> int:
            return sum(int(x) for name in CUSTOMERS for x in table.column(name).to_numpy().tolist())

        deposits = int(amount[committed & (kind == DEPOSIT_CHECKING)].astype(object).sum())
        withdrawals = int(amount[committed & (kind == TRANSACT_SAVINGS)].astype(object).sum())
        cheques = int(value[committed & (kind == WRITE_CHECK)].astype(object).sum())
        assert (
            total(outputs["customers"])
            == total(inputs["customers"]) + deposits - withdrawals - cheques
        ), "money is conserved: only deposits, withdrawals and cheques change the total"
        assert (
            outputs["customers"].column("savings_fen").to_numpy()
            >= np.minimum(inputs["customers"].column("savings_fen").to_numpy(), 0)
        ).all(), "savings never go below zero by a transaction"
