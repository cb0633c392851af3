"""Known answers for the open-loop driver: the queueing maths on the simulated clock (the
same C loop as the real driver, virtual service times), the arrival schedule against the
exponential distribution and a golden digest every architecture must reproduce, and the
histogram layout against the hdrhistogram package's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from bench.openloop import driver, histogram, schedule
from native import lib

SERVICE_NS = 10_000  # μ = 100,000/s
REQUESTS = 500_000
SEEDS = range(20)
# The tolerance is sampling error, measured: the spread of the per-seed results gives the
# standard error of their mean; the mean must be within 4 of them of the formula, and the
# seeds must be enough for that to be a sharp test (standard error ≤ 2 % of the answer).
# Measured (x86-64, these seeds): M/D/1 mean wait / formula 1.0009, 1.0027, 1.0042 and
# M/M/1 p99 / formula 1.0000, 1.0057, 0.9971 at ρ = 0.5, 0.8, 0.9; standard errors 0.1–1.4 %.
STANDARD_ERRORS = 4
STANDARD_ERROR_MAX = 0.02


def assert_within_sampling_error(values: list[float], expected: float) -> None:
    mean = float(np.mean(values))
    standard_error = float(np.std(values, ddof=1)) / math.sqrt(len(values))
    assert standard_error <= STANDARD_ERROR_MAX * expected, (standard_error, expected)
    assert abs(mean - expected) <= STANDARD_ERRORS * standard_error, (
        mean,
        expected,
        standard_error,
    )


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.9])
def test_md1_mean_wait_is_rho_s_over_2_1_minus_rho(rho):
    rate = rho * 1e9 / SERVICE_NS
    waits = [
        driver.simulate(
            offered_per_s=rate,
            service_mean_ns=SERVICE_NS,
            service="deterministic",
            requests=REQUESTS,
            seed=seed,
        ).mean_wait_ns
        for seed in SEEDS
    ]
    assert_within_sampling_error(waits, rho * SERVICE_NS / (2 * (1 - rho)))


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.9])
def test_mm1_sojourn_p99_is_ln100_over_mu_minus_lambda(rho):
    mu = 1e9 / SERVICE_NS
    p99s = [
        driver.simulate(
            offered_per_s=rho * mu,
            service_mean_ns=SERVICE_NS,
            service="exponential",
            requests=REQUESTS,
            seed=seed,
        ).latency_ns["p99"]
        for seed in SEEDS
    ]
    assert_within_sampling_error(p99s, math.log(100) / (mu - rho * mu) * 1e9)


def test_an_idle_server_adds_no_wait():
    """Constant arrivals slower than the service: nobody waits, every latency is S."""
    point = driver.simulate(
        offered_per_s=50_000,
        service_mean_ns=SERVICE_NS,
        service="deterministic",
        requests=1000,
        seed=1,
        arrival="constant",
    )
    assert point.mean_wait_ns == 0
    assert histogram.decode(point.histogram).get_count_at_value(SERVICE_NS) == 1000
    assert histogram.decode(point.histogram).get_total_count() == 1000


def test_a_server_batch_takes_only_the_requests_already_waiting():
    """Two requests at once, service S each, batches of up to 8: served together, both
    complete at 2S (each still pays its own wait: 0 here); never waits for a third."""
    arrivals = np.array([0, 0, 10 * SERVICE_NS], dtype=np.int64)
    served = driver._serve(
        arrivals,
        np.zeros(3, dtype=np.int64),
        1,
        8,
        service_ns=np.full(3, SERVICE_NS, dtype=np.int64),
    )
    latencies = histogram.from_counts(served.latency)
    assert latencies.get_count_at_value(2 * SERVICE_NS) == 2
    assert latencies.get_count_at_value(SERVICE_NS) == 1
    assert served.wait_ns_sum == 0


# The schedule of (seed 20261204, 50,000/s, 100,000 requests): the same on every
# architecture (tests run under emulated aarch64 too: .ci/arm64 -k openloop).
GOLDEN_SEED, GOLDEN_RATE, GOLDEN_REQUESTS = 20261204, 50_000, 100_000
GOLDEN_DIGEST = "a8346e398aa1244873059879f8e91777c5b74cee71acd09ab5c0c3c55c2e2d54"


def test_the_schedule_digest_is_the_golden_one_on_every_architecture():
    arrivals = schedule.arrivals_ns(GOLDEN_SEED, GOLDEN_RATE, GOLDEN_REQUESTS)
    assert arrivals[:3].tolist() == [18000, 49899, 90554]
    assert schedule.digest(arrivals) == GOLDEN_DIGEST


def test_poisson_gaps_are_exponential_at_the_offered_rate():
    arrivals = schedule.arrivals_ns(7, 100_000, 200_000)
    gaps = np.diff(arrivals)
    mean_ns = 10_000
    assert abs(gaps.mean() - mean_ns) <= 4 * mean_ns / math.sqrt(len(gaps))
    # rounding to whole ns shifts each gap by < 1 ns: far below what KS can see here
    assert stats.kstest(gaps, stats.expon(scale=mean_ns).cdf).pvalue > 0.001


def test_constant_arrivals_are_evenly_spaced():
    """333.33… ns apart: the gap is kept in 1/65536 ns (rounded to nearest) and summed in
    that unit, so the k-th arrival is off k · 10^9 / rate by under 1 + k / 2^17 ns: no
    rounding to whole ns accumulates (6 ns after a million arrivals, 333 ms)."""
    n = 1_000_000
    arrivals = schedule.arrivals_ns(1, 3_000_000, n, "constant")
    gap_q16 = schedule.mean_gap_q16_ns(3_000_000)
    assert (
        arrivals[:4].tolist() == [(k * gap_q16) >> 16 for k in range(1, 5)] == [333, 666, 999, 1333]
    )
    exact = np.arange(1, n + 1, dtype=np.int64) * 10**9 // 3_000_000
    k = np.arange(1, n + 1)
    assert (np.abs(arrivals - exact) < 1 + k / 2**17).all()


def test_the_c_counts_layout_is_hdrhistograms():
    reference = histogram.empty()
    assert reference.counts_len == lib.BB_OPENLOOP_COUNTS
    values = [0, 1, 2047, 2048, 4095, 4096, 10**6 + 1, histogram.HIGHEST_NS]
    values += np.random.default_rng(3).integers(0, histogram.HIGHEST_NS, 5000).tolist()
    for value in values:
        assert lib.bb_openloop_counts_index(value) == reference._counts_index_for(value), value
    assert lib.bb_openloop_counts_index(10 * histogram.HIGHEST_NS) == lib.bb_openloop_counts_index(
        histogram.HIGHEST_NS
    )


def test_merged_encodings_hold_every_count_exactly():
    rng = np.random.default_rng(5)
    parts = [np.zeros(lib.BB_OPENLOOP_COUNTS, dtype=np.uint64) for _ in range(3)]
    for part in parts:
        for value in rng.integers(1, 10**9, 300).tolist():
            part[lib.bb_openloop_counts_index(value)] += 1
    merged = histogram.decode(histogram.merge([histogram.encode(p) for p in parts]))
    whole = histogram.from_counts(sum(parts))
    assert merged.get_total_count() == 900
    assert merged.encode() == whole.encode()
    assert histogram.percentiles(histogram.merge([histogram.encode(p) for p in parts])) == (
        histogram.percentiles_of(whole)
    )
