"""__NAME__ — one day's interest accrual on deposit balances (replace with your workload).

Spec: for each account, interest_fen = floor(balance_fen × rate_ppm / (1 000 000 × 365)),
balance_fen in [0, 10^12), rate_ppm (annual rate, parts per million) in [0, 10^6]. Inputs
come from bankbench's PRNG (xoshiro256++, identical in C and Python), so the same (scale,
seed) gives the same bytes on every machine. Measured: accounts per second.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pyarrow as pa

from workloads import BATCH, Benchmark, InputError, Workload, _native, _tables
from workloads._base import scaled
from workloads._rng import Stream

HERE = pathlib.Path(__file__).resolve().parent
ACCOUNTS = {"balance_fen": pa.int64(), "rate_ppm": pa.int64()}
INTEREST = {"interest_fen": pa.int64()}
BALANCE_LIMIT_FEN = 10**12
RATE_LIMIT_PPM = 10**6
PPM_DAYS = 1_000_000 * 365
STATUS = {0: "OK", 1: "OVERFLOW"}  # kernel.h's codes
# the kernel's instructions per account, for how many threads a call is worth
# (_native.threads_worth): 22.01 for this example on x86-64 (bankbench run -w __NAME__ -e c
# -t 1 --measure instructions); measure yours the same way
INSTRUCTIONS_PER_ACCOUNT = 22


class __CLASS__(Workload):
    name = "__NAME__"
    version = 1  # bump when the spec changes: results of other versions don't compare
    unit = "accounts"
    engines = ("c", "python")
    input_schemas = {"accounts": ACCOUNTS}
    output_schemas = {"interest": INTEREST}
    benchmarks = (Benchmark(BATCH, threaded=True),)  # its C on bankbench's worker pool
    c_sources = (str(HERE / "kernel.c"), str(HERE / "kernel.h"))  # its source hash
    # its extension, built by build_core.py: its build record is recorded with its results
    c_module = "__PACKAGE__._core"
    golden_path = HERE / "golden.json"

    def _generate(self, scale, seed):
        count = scaled(1_000_000, scale)
        balance = Stream(seed, "__NAME__.balance").bounded(count, BALANCE_LIMIT_FEN)
        rate = Stream(seed, "__NAME__.rate").bounded(count, 200_000)  # up to 20 % a year
        columns = {"balance_fen": balance.astype(np.int64), "rate_ppm": rate.astype(np.int64)}
        return {"accounts": _tables.table(columns, ACCOUNTS)}

    def _validate_more(self, inputs):
        columns = _tables.columns(inputs["accounts"], ACCOUNTS)
        balance, rate = columns["balance_fen"], columns["rate_ppm"]
        if len(balance) and not (0 <= balance.min() and balance.max() < BALANCE_LIMIT_FEN):
            raise InputError(f"{self.name}: balance_fen must be in [0, 10^12)")
        if len(rate) and not (0 <= rate.min() and rate.max() <= RATE_LIMIT_PPM):
            raise InputError(f"{self.name}: rate_ppm must be in [0, 10^6]")

    def _run_python(self, inputs, threads):
        accounts = inputs["accounts"]
        balances = accounts.column("balance_fen").to_pylist()
        rates = accounts.column("rate_ppm").to_pylist()
        pairs = zip(balances, rates, strict=True)
        rows = [(balance * rate // PPM_DAYS,) for balance, rate in pairs]
        return {"interest": _tables.from_rows(rows, INTEREST)}

    def _run_c(self, inputs, threads):
        from __PACKAGE__._core import ffi, lib

        accounts = inputs["accounts"]
        balance = _native.column_view(accounts.column("balance_fen"))
        rate = _native.column_view(accounts.column("rate_ppm"))
        interest = np.empty(len(balance), dtype=np.int64)
        arrays = {  # kept alive here: the struct below holds only their addresses
            "balance_fen": ffi.from_buffer("int64_t[]", balance),
            "rate_ppm": ffi.from_buffer("int64_t[]", rate),
            "interest_fen": ffi.from_buffer("int64_t[]", interest, require_writable=True),
        }
        args = ffi.new("__CPREFIX___args *", arrays)
        # the threads this call is worth (a few thousand accounts are not worth a second
        # thread: its start costs more than it saves), then the kernel's range task on them
        threads = _native.threads_worth(len(balance), INSTRUCTIONS_PER_ACCOUNT, threads)
        status = _native.plugin_parallel_ranges(
            ffi, lib, "__CPREFIX___range", args, len(balance), threads
        )
        self.check_status(status, STATUS, "__CPREFIX___range")
        return {"interest": _tables.table({"interest_fen": interest}, INTEREST)}

    def _check(self, inputs, outputs):
        balance = _tables.columns(inputs["accounts"], ACCOUNTS)["balance_fen"]
        interest = _tables.columns(outputs["interest"], INTEREST)["interest_fen"]
        assert len(interest) == len(balance), "one interest per account"
        assert (interest >= 0).all(), "interest is never negative"
        assert (interest * 365 <= balance).all(), "a day's interest at <= 100 % a year"

    def _units(self, inputs):
        return inputs["accounts"].num_rows
