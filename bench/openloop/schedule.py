"""The arrival schedule of an open-loop point: integer nanoseconds fixed by (seed, rate, n),
computed by the C core without floating point (native/src/openloop.c), so the same seed and
rate give the same schedule, and the same digest, on every architecture."""

from __future__ import annotations

import hashlib
from fractions import Fraction

import numpy as np

from native import lib
from workloads import _native
from workloads.errors import InputError

ARRIVALS = {"poisson": lib.BB_ARRIVAL_POISSON, "constant": lib.BB_ARRIVAL_CONSTANT}
NS_PER_S = 10**9
Q16 = 1 << 16


def mean_gap_q16_ns(offered_per_s: float) -> int:
    """The mean gap between arrivals in 1/65536 ns, rounded to nearest: exact arithmetic on
    the rate's binary value, so the C schedule gets one integer on every machine."""
    if not offered_per_s > 0 or offered_per_s == float("inf"):
        raise InputError(f"open loop: offered rate {offered_per_s!r}/s must be a positive number")
    gap = round(Fraction(NS_PER_S * Q16) / Fraction(offered_per_s))
    if not 1 <= gap < 2**62:
        raise InputError(
            f"open loop: offered rate {offered_per_s!r}/s is outside what a schedule holds"
        )
    return gap


def arrivals_ns(seed: int, offered_per_s: float, n: int, arrival: str = "poisson") -> np.ndarray:
    """n arrival times in ns from the point's start (int64, non-decreasing)."""
    if arrival not in ARRIVALS:
        raise InputError(f"open loop: arrival {arrival!r} is not one of {', '.join(ARRIVALS)}")
    if n < 0:
        raise InputError(f"open loop: {n} requests: needs 0 or more")
    out = np.empty(n, dtype=np.int64)
    code = lib.bb_openloop_arrivals(
        seed % 2**64, mean_gap_q16_ns(offered_per_s), ARRIVALS[arrival], n, _native.out_pointer(out)
    )
    _native.check_status(code, "bb_openloop_arrivals")
    return out


def digest(arrivals: np.ndarray) -> str:
    """sha256 hex of the schedule's int64 nanoseconds, little-endian."""
    return hashlib.sha256(np.ascontiguousarray(arrivals, dtype="<i8").tobytes()).hexdigest()


def exponential_ns(seed: int, mean_ns: float, n: int) -> np.ndarray:
    """n exponential durations of mean mean_ns (the simulated clock's service times)."""
    out = np.empty(n, dtype=np.int64)
    mean_q16 = round(Fraction(mean_ns) * Q16)
    code = lib.bb_openloop_exponential(seed % 2**64, mean_q16, n, _native.out_pointer(out))
    _native.check_status(code, "bb_openloop_exponential")
    return out
