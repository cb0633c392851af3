"""Deterministic random numbers: xoshiro256++ seeded by SplitMix64, as in the C core.

``Xoshiro256pp`` is the plain Python twin (the oracle); ``Stream`` draws whole arrays
through the C core for the data generators. tests/test_rng.py proves they agree. There are
no floats: bounded integers by rejection, probabilities as integer ratios, distributions as
integer histograms (bucket weights, then uniform inside the bucket).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from native import ffi, lib
from workloads._native import check_status

MASK64 = 2**64 - 1

Histogram = Sequence[tuple[int, int, int]]  # (weight, lo, hi) per bucket, lo..hi inclusive


def stream_seed(seed: int, purpose: str) -> int:
    """One independent stream per (table, purpose): seed xor a hash of the purpose's name."""
    stream_id = int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:8], "little")
    return (seed ^ stream_id) & MASK64


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & MASK64


class Xoshiro256pp:
    """The reference generator, one number at a time."""

    def __init__(self, seed: int):
        x = seed & MASK64
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            self.s.append(z ^ (z >> 31))

    def next_u64(self) -> int:
        s = self.s
        result = (_rotl((s[0] + s[3]) & MASK64, 23) + s[0]) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def bounded(self, bound: int) -> int:
        """Uniform in [0, bound): reject draws below 2^64 mod bound."""
        threshold = (2**64 - bound) % bound
        while True:
            x = self.next_u64()
            if x >= threshold:
                return x % bound

    def histogram(self, buckets: Histogram) -> int:
        pick = self.bounded(sum(weight for weight, _, _ in buckets))
        for weight, lo, hi in buckets:
            if pick < weight:
                return lo + self.bounded(hi - lo + 1)
            pick -= weight
        raise AssertionError("unreachable: pick < total weight")


class Stream:
    """The same generator in C, filling numpy arrays (fast enough for scale=1 data)."""

    def __init__(self, seed: int, purpose: str = ""):
        self._rng = ffi.new("bb_rng *")
        lib.bb_rng_seed(self._rng, stream_seed(seed, purpose) if purpose else seed & MASK64)

    def next_u64(self) -> int:
        return int(lib.bb_rng_next(self._rng))

    def bounded(self, n: int, bound: int) -> np.ndarray:
        out = np.empty(n, dtype=np.uint64)
        rc = lib.bb_rng_fill_bounded(self._rng, bound, ffi.from_buffer("uint64_t[]", out), n)
        check_status(rc, "bb_rng_fill_bounded")
        return out

    def histogram(self, n: int, buckets: Histogram) -> np.ndarray:
        weights = np.array([b[0] for b in buckets], dtype=np.uint64)
        lo = np.array([b[1] for b in buckets], dtype=np.int64)
        hi = np.array([b[2] for b in buckets], dtype=np.int64)
        out = np.empty(n, dtype=np.int64)
        rc = lib.bb_rng_fill_histogram(
            self._rng,
            ffi.from_buffer("uint64_t[]", weights),
            ffi.from_buffer("int64_t[]", lo),
            ffi.from_buffer("int64_t[]", hi),
            len(buckets),
            ffi.from_buffer("int64_t[]", out),
            n,
        )
        check_status(rc, "bb_rng_fill_histogram")
        return out

    def choice(self, n: int, values: Sequence[int], weights: Sequence[int]) -> np.ndarray:
        """values[i] with probability weights[i] / sum(weights)."""
        index = self.histogram(n, [(w, i, i) for i, w in enumerate(weights)])
        return np.asarray(values, dtype=np.int64)[index]

    def chance(self, n: int, numerator: int, denominator: int) -> np.ndarray:
        """True with probability numerator/denominator (an integer ratio, no floats)."""
        return self.bounded(n, denominator) < numerator
