"""The open-loop driver on the real clock: its answers equal the reference's, its latency
counts queueing, it flags what it cannot trust, and bad input is one clear error. Tests
check correctness, never wall-clock speed (this host is shared): the loads below are far
under or far over what any host serves."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from bench.openloop import driver, histogram, schedule
from native import ffi, lib
from workloads import registry
from workloads.errors import InputError, NativeError, UnknownNameError

SEED, SCALE = 11, 0.01  # 2,000 applications
DECIDE = registry.get("loan.decide")


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("server_batch", [1, 8])
def test_decisions_equal_the_references_at_every_thread_count(threads, server_batch):
    result, outputs = driver.measure_point(
        "loan.decide",
        offered_per_s=200_000,
        requests=2000,
        threads=threads,
        seed=SEED,
        scale=SCALE,
        server_batch=server_batch,
    )
    expected = driver.reference_outputs(
        "loan.decide", requests=2000, threads=threads, seed=SEED, scale=SCALE
    )
    assert DECIDE.digest(outputs) == DECIDE.digest(expected)
    assert result.requests == 2000 and result.threads == threads
    if threads == 1:  # one shard carries the whole stream: the batch engine's answer
        inputs = DECIDE.generate(scale=SCALE, seed=SEED)
        assert DECIDE.digest(outputs) == DECIDE.digest(DECIDE.run(inputs, engine="c"))


def test_a_point_records_every_request_from_its_intended_arrival():
    result = driver.run_point(
        "loan.decide", offered_per_s=20_000, requests=1000, threads=2, seed=SEED, scale=SCALE
    )
    recorded = histogram.decode(result.histogram)
    assert recorded.get_total_count() == 1000
    assert set(result.latency_ns) == {"p50", "p90", "p99", "p999", "p9999", "max"}
    assert result.latency_ns["p50"] <= result.latency_ns["p99"] <= result.latency_ns["max"]
    arrivals = schedule.arrivals_ns(SEED, 20_000, 1000)
    assert result.schedule_digest == schedule.digest(arrivals)
    assert 0 < result.fastest_service_ns <= result.latency_ns["max"]
    assert result.driver_overhead_ns > 0
    assert set(result.flags) <= set(driver.FLAGS)


def test_an_overload_queues_and_saturates():
    """2,000 requests within a microsecond, far beyond any host's rate: the k-th waits for
    the k − 1 before it, each served in at least the fastest service time, so the p99 is at
    least ~1,980 of those, counted from the intended arrival; the point is saturated and
    its second half waited longer than its first."""
    high = driver.run_point(
        "loan.decide", offered_per_s=2e9, requests=2000, threads=1, seed=SEED, scale=SCALE
    )
    assert high.saturated
    assert high.achieved_per_s < 0.99 * high.offered_per_s
    assert high.latency_ns["p99"] >= 1980 * high.fastest_service_ns - 1000
    assert high.p99_second_half_ns > high.p99_first_half_ns


def test_a_rate_the_driver_cannot_generate_is_flagged_not_capped():
    result = driver.run_point(
        "loan.decide", offered_per_s=1e10, requests=500, threads=1, seed=SEED, scale=SCALE
    )
    assert "rate not generated" in result.flags
    assert result.offered_per_s == 1e10
    assert result.schedule_digest == schedule.digest(schedule.arrivals_ns(SEED, 1e10, 500))


def test_the_closed_loop_peak_is_a_positive_rate():
    peak = driver.closed_loop_peak_per_s("loan.decide", threads=2, seed=SEED, scale=SCALE)
    assert peak > 0


def test_bad_input_is_one_clear_error():
    with pytest.raises(UnknownNameError, match="no open-loop driver"):
        driver.run_point(
            "loan.score", offered_per_s=1000, requests=10, threads=1, seed=1, scale=SCALE
        )
    with pytest.raises(InputError, match="raise the scale"):
        driver.run_point(
            "loan.decide", offered_per_s=1000, requests=10**6, threads=1, seed=1, scale=SCALE
        )
    for rate in (0, -5, float("nan"), float("inf")):
        with pytest.raises(InputError, match="offered rate"):
            driver.run_point(
                "loan.decide", offered_per_s=rate, requests=10, threads=1, seed=1, scale=SCALE
            )
    with pytest.raises(InputError, match="server batch"):
        driver.run_point(
            "loan.decide",
            offered_per_s=1000,
            requests=10,
            threads=1,
            seed=1,
            scale=SCALE,
            server_batch=0,
        )
    with pytest.raises(InputError, match="arrival"):
        schedule.arrivals_ns(1, 1000, 10, "bursty")
    assert driver.supports("loan.decide") and driver.supports("ledger.post")
    assert not driver.supports("loan.score")


def test_the_c_driver_refuses_a_queue_out_of_order():
    """A shard's requests out of arrival order: a status, never a crash."""
    with pytest.raises(NativeError, match="bb_openloop_run failed with BB_INVALID_ARGUMENT"):
        driver._serve(
            np.array([5, 1, 9], dtype=np.int64),
            np.zeros(3, dtype=np.int64),
            1,
            1,
            service_ns=np.ones(3, dtype=np.int64),
        )
    point = ffi.new("bb_openloop_point *")
    assert lib.bb_openloop_run(point) == lib.BB_INVALID_ARGUMENT
    assert lib.bb_openloop_run(ffi.NULL) == lib.BB_INVALID_ARGUMENT
    assert lib.bb_openloop_arrivals(1, 0, 0, 10, ffi.NULL) == lib.BB_INVALID_ARGUMENT


POST = registry.get("ledger.post")


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("client_batch, requests", [(1, 400), (128, 40), (8189, 3)])
def test_transfer_results_equal_the_batch_engines_at_every_thread_count(
    threads, client_batch, requests
):
    """Request k is client batch k; the results and balances equal the batch engine's over
    the same batches (and expired_in_batch, which the driver derives, the engine reports)."""
    result, outputs = driver.measure_point(
        "ledger.post",
        offered_per_s=50_000 / client_batch,
        requests=requests,
        threads=threads,
        seed=SEED,
        scale=SCALE,
        client_batch=client_batch,
    )
    inputs = POST.batched(POST.generate(scale=SCALE, seed=SEED), client_batch)
    batch = inputs["transfers"].column("batch").to_numpy()
    inputs["transfers"] = inputs["transfers"].slice(0, int(np.searchsorted(batch, requests)))
    expected = POST.run(inputs, engine="c", threads=threads)
    assert outputs["results"].equals(expected["results"])
    assert POST.digest(outputs) == POST.digest(expected)
    assert histogram.decode(result.histogram).get_total_count() == requests


def test_pending_transfers_that_expire_are_reported_in_their_batch():
    """The generated transfers hold pending ones with timeouts that expire within the run:
    the parity above covers expired_in_batch only if some do."""
    _, outputs = driver.measure_point(
        "ledger.post",
        offered_per_s=1e6,
        requests=40,
        threads=2,
        seed=SEED,
        scale=SCALE,
        client_batch=128,
    )
    expired = outputs["results"].column("expired_in_batch").to_numpy()
    assert ((expired != 0xFFFF_FFFF) & (expired > 0)).any()


def test_ledger_post_refuses_what_it_cannot_serve():
    with pytest.raises(InputError, match="client batch 7"):
        driver.run_point(
            "ledger.post",
            offered_per_s=100,
            requests=1,
            threads=1,
            seed=1,
            scale=SCALE,
            client_batch=7,
        )
    with pytest.raises(InputError, match="one client batch per request"):
        driver.run_point(
            "ledger.post",
            offered_per_s=100,
            requests=1,
            threads=1,
            seed=1,
            scale=SCALE,
            server_batch=4,
        )
    with pytest.raises(InputError, match="client batches of 8189"):
        driver.run_point(
            "ledger.post",
            offered_per_s=100,
            requests=100,
            threads=1,
            seed=1,
            scale=SCALE,
            client_batch=8189,
        )


def served_with(latencies_ns, idle_ns, backlog_first=1, backlog_second=1, last_ns=None):
    counts = [np.zeros(lib.BB_OPENLOOP_COUNTS, dtype=np.uint64) for _ in range(3)]
    for target, values in ((counts[0], latencies_ns), (counts[2], idle_ns)):
        for value in values:
            target[lib.bb_openloop_counts_index(value)] += 1
    n = len(latencies_ns)
    return driver.Served(
        first_half=counts[0],
        second_half=counts[1],
        idle_lateness=counts[2],
        served=n,
        last_completion_ns=last_ns or n * 1000,
        fastest_service_ns=1000,
        wait_ns_sum=0,
        backlog_max_first=backlog_first,
        backlog_max_second=backlog_second,
    )


def test_one_late_wake_up_behind_the_p99_is_host_jitter():
    """1,000 requests 1 µs apart, served in 1 µs; one worker woke 5 ms late and the queue
    behind it holds the p99: flagged, though the idle lateness p99 is small."""
    arrivals = np.arange(1000, dtype=np.int64) * 1000
    latencies = [1000] * 980 + [5_000_000] * 20
    calm = driver._result("x", 1, 1e6, arrivals, served_with(latencies, [100] * 999), 10.0)
    late = driver._result(
        "x", 1, 1e6, arrivals, served_with(latencies, [100] * 998 + [5_000_000]), 10.0
    )
    assert "host jitter" in late.flags and "host jitter" not in calm.flags


def test_a_queue_that_drains_is_not_saturation_but_one_that_grows_is():
    arrivals = np.arange(1000, dtype=np.int64) * 1000
    latencies = [1000] * 1000
    drained = served_with(latencies, [100], backlog_first=1, backlog_second=90)
    grown = served_with(latencies, [100], backlog_first=1, backlog_second=400)
    assert not driver._result("x", 1, 1e6, arrivals, drained, 10.0).saturated
    assert driver._result("x", 1, 1e6, arrivals, grown, 10.0).saturated
    behind = served_with(latencies, [100], last_ns=2_000_000)  # achieved half the rate
    assert driver._result("x", 1, 1e6, arrivals, behind, 10.0).saturated


def test_each_configurations_outputs_are_proved_in_full_and_a_different_answer_again(
    monkeypatch,
):
    """A sweep's points share one answer (it never depends on when requests arrived): the
    workload's check runs in full on the first point of a configuration, a point with the
    same bytes is known by its digest, and a point whose answer differs is checked in full
    again (here it is wrong, and the check refuses it)."""
    post = registry.get("ledger.post")
    real_check, checked = post.check, []
    monkeypatch.setattr(post, "check", lambda i, o: (checked.append(1), real_check(i, o)))
    monkeypatch.setattr(driver, "_CHECKED", {})
    point = dict(requests=2_000, threads=2, seed=7, scale=0.01)
    for offered_per_s in (50_000, 100_000, 200_000):
        driver.run_point("ledger.post", offered_per_s=offered_per_s, **point)
    assert len(checked) == 1
    driver.run_point("ledger.post", offered_per_s=50_000, **{**point, "threads": 1})
    assert len(checked) == 2  # another configuration: proved on its own

    real_outputs = driver._PostService.outputs

    def one_wrong_amount(service):
        outputs = real_outputs(service)
        results = outputs["results"]
        amount = results.column("amount").to_numpy().copy()
        amount[np.flatnonzero(amount)[0]] += 1
        i = results.schema.get_field_index("amount")
        outputs["results"] = results.set_column(i, results.field(i), pa.array(amount))
        return outputs

    monkeypatch.setattr(driver._PostService, "outputs", one_wrong_amount)
    with pytest.raises(AssertionError):
        driver.run_point("ledger.post", offered_per_s=50_000, **point)
    assert len(checked) == 3
