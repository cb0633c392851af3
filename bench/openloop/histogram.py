"""Latency histograms in HdrHistogram's layout (lowest 1 ns, highest 100 s, 3 significant
digits). The C core counts into arrays of that layout; this module turns counts into the
standard compressed base64 encoding (the hdrhistogram package's), merges encodings exactly
and reads percentiles, so other HdrHistogram tools read what bankbench stores."""

from __future__ import annotations

import numpy as np
from hdrh.histogram import HdrHistogram

from native import lib
from workloads.errors import InputError

LOWEST_NS = 1
HIGHEST_NS = lib.BB_OPENLOOP_HIGHEST_NS
SIGNIFICANT_DIGITS = 3
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9, "p9999": 99.99}


def empty() -> HdrHistogram:
    return HdrHistogram(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)


def from_counts(counts: np.ndarray) -> HdrHistogram:
    """A histogram holding the C core's counts (an array of BB_OPENLOOP_COUNTS)."""
    histogram = empty()
    assert counts.shape == (histogram.counts_len,), "the C layout is the package's"
    for index in np.flatnonzero(counts).tolist():
        histogram.record_value(histogram.get_value_from_index(index), int(counts[index]))
    return histogram


def encode(counts: np.ndarray) -> str:
    return from_counts(counts).encode().decode("ascii")


def decode(encoded: str) -> HdrHistogram:
    try:
        return HdrHistogram.decode(encoded)
    except Exception as error:  # the package raises bare errors for a corrupt encoding
        raise InputError(f"open loop: a stored histogram cannot be decoded ({error})") from None


def merge(encoded: list[str]) -> str:
    """One encoding holding every count of the given ones."""
    merged = empty()
    for one in encoded:
        merged.add(decode(one))
    return merged.encode().decode("ascii")


def percentiles_of(histogram: HdrHistogram) -> dict[str, int]:
    """p50 … p99.99 and max in ns (0 for an empty histogram)."""
    if histogram.get_total_count() == 0:
        return {**dict.fromkeys(PERCENTILES, 0), "max": 0}
    values = {name: int(histogram.get_value_at_percentile(p)) for name, p in PERCENTILES.items()}
    return {**values, "max": int(histogram.get_max_value())}


def percentiles(encoded: str | list[str]) -> dict[str, int]:
    """Percentiles of one encoding, or of the merge of several."""
    one = merge(encoded) if isinstance(encoded, list) else encoded
    return percentiles_of(decode(one))
