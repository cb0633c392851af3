"""example.tiered_interest — one day's interest on deposits at tiered (marginal) rates, as a
bank pays on a savings product: 0.35 % a year on the first 50 000 RMB, 1.5 % on the part up
to 500 000 RMB, 2 % above (the tiers are a table, any ascending cut works).

Spec: interest_fen = floor(Σ_k part_k × rate_ppm_k / (1 000 000 × 365)), part_k the part of
balance_fen in [upper_fen_{k-1}, upper_fen_k) (upper_fen_{-1} = 0, the last tier open-ended),
summed exactly and floored once. balance_fen in [0, 10^12), rate_ppm in [0, 10^6]. Inputs come
from bankbench's PRNG, so the same (scale, seed) gives the same bytes on every machine.
Measured: accounts per second."""

from __future__ import annotations

import pathlib

import numpy as np
import pyarrow as pa

from workloads import BATCH, Benchmark, InputError, Workload, _native, _tables
from workloads._base import scaled
from workloads._rng import Stream

HERE = pathlib.Path(__file__).resolve().parent
ACCOUNTS = {"balance_fen": pa.int64()}
TIERS = {"upper_fen": pa.int64(), "rate_ppm": pa.int64()}
# the product's tiers: (upper bound in fen, annual rate in ppm); the last one is open-ended
PRODUCT_TIERS = ((5_000_000, 3_500), (50_000_000, 15_000), (2**63 - 1, 20_000))
INTEREST = {"interest_fen": pa.int64()}
BALANCE_LIMIT_FEN = 10**12
RATE_LIMIT_PPM = 10**6
PPM_DAYS = 1_000_000 * 365
STATUS = {0: "OK", 1: "OVERFLOW", 2: "BAD_INPUT"}  # kernel.h's codes


class ExampleTieredInterest(Workload):
    name = "example.tiered_interest"
    version = 1  # bump when the spec changes: results of other versions don't compare
    unit = "accounts"
    engines = ("c", "python")
    input_schemas = {"accounts": ACCOUNTS, "tiers": TIERS}
    output_schemas = {"interest": INTEREST}
    benchmarks = (Benchmark(BATCH, threaded=True),)  # the C on the core's pool
    c_sources = (str(HERE / "kernel.c"), str(HERE / "kernel.h"))  # its source hash
    # its extension, built by build_core.py: its build record is recorded with its results
    c_module = "example_tiered_interest._core"
    golden_path = HERE / "golden.json"

    def _generate(self, scale, seed):
        count = scaled(1_000_000, scale)
        # balances: most small, some large: a uniform draw below a uniform cap per account
        cap = Stream(seed, "example.tiered_interest.cap").bounded(count, BALANCE_LIMIT_FEN // 1000)
        draw = Stream(seed, "example.tiered_interest.balance").bounded(count, 1000)
        balance = (cap.astype(np.int64) + 1) * draw.astype(np.int64)
        tiers = _tables.from_rows(list(PRODUCT_TIERS), TIERS)
        accounts = _tables.table({"balance_fen": balance}, ACCOUNTS)
        return {"accounts": accounts, "tiers": tiers}

    def _validate_more(self, inputs):
        balance = _tables.columns(inputs["accounts"], ACCOUNTS)["balance_fen"]
        if len(balance) and not (0 <= balance.min() and balance.max() < BALANCE_LIMIT_FEN):
            raise InputError(f"{self.name}: balance_fen must be in [0, 10^12)")
        tiers = _tables.columns(inputs["tiers"], TIERS)
        upper, rate = tiers["upper_fen"], tiers["rate_ppm"]
        if not len(upper) or not (np.diff(upper) > 0).all() or upper[0] <= 0:
            raise InputError(f"{self.name}: tiers need ascending positive upper_fen bounds")
        if upper[-1] < BALANCE_LIMIT_FEN:
            raise InputError(f"{self.name}: the last tier's upper_fen must cover 10^12 fen")
        if not (0 <= rate.min() and rate.max() <= RATE_LIMIT_PPM):
            raise InputError(f"{self.name}: rate_ppm must be in [0, 10^6]")

    def _run_python(self, inputs, threads):
        tiers = list(zip(*(inputs["tiers"].column(c).to_pylist() for c in TIERS), strict=True))
        rows = []
        for balance in inputs["accounts"].column("balance_fen").to_pylist():
            numerator, lower = 0, 0
            for upper, rate in tiers:
                if balance <= lower:
                    break
                numerator += (min(balance, upper) - lower) * rate
                lower = upper
            rows.append((numerator // PPM_DAYS,))
        return {"interest": _tables.from_rows(rows, INTEREST)}

    def _run_c(self, inputs, threads):
        from example_tiered_interest._core import ffi, lib

        balance = _native.column_view(inputs["accounts"].column("balance_fen"))
        upper = _native.column_view(inputs["tiers"].column("upper_fen"))
        rate = _native.column_view(inputs["tiers"].column("rate_ppm"))
        interest = np.empty(len(balance), dtype=np.int64)
        arrays = {  # kept alive here: the struct below holds only their addresses
            "balance_fen": ffi.from_buffer("int64_t[]", balance),
            "upper_fen": ffi.from_buffer("int64_t[]", upper),
            "rate_ppm": ffi.from_buffer("int64_t[]", rate),
            "interest_fen": ffi.from_buffer("int64_t[]", interest, require_writable=True),
        }
        args = ffi.new("example_tiered_interest_args *", {**arrays, "tier_count": len(upper)})
        # the core's pool runs the kernel's range task on `threads` threads
        status = _native.plugin_parallel_ranges(
            ffi, lib, "example_tiered_interest_range", args, len(balance), threads
        )
        self.check_status(status, STATUS, "example_tiered_interest_range")
        return {"interest": _tables.table({"interest_fen": interest}, INTEREST)}

    def _check(self, inputs, outputs):
        balance = _tables.columns(inputs["accounts"], ACCOUNTS)["balance_fen"]
        interest = _tables.columns(outputs["interest"], INTEREST)["interest_fen"]
        assert len(interest) == len(balance), "one interest per account"
        assert (interest >= 0).all(), "interest is never negative"
        assert (interest * 365 <= balance).all(), "a day's interest at <= 100 % a year"
        top = int(inputs["tiers"].column("rate_ppm").to_numpy().max())
        assert (interest <= balance * top // PPM_DAYS).all(), "never above the top tier's rate"

    def _units(self, inputs):
        return inputs["accounts"].num_rows
