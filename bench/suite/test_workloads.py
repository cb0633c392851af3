"""Batch throughput of every workload × engine × thread count of the plan, the online latency
and capacity of loan.decide, and ledger.post's batching curve.

The tests are parametrized from the run's Plan (bench/plan.py: ``Plan.cases``), one case
per benchmark, with the real thread count in the id: ``test_batch[ledger.post-c-16t]``.
Benchmark ids in the store read ``<workload>[<engine>-<threads>t-<scale>]``. Each benchmark
reports what it measured (units, digest, …) in ``extra_info``; what it ran (workload,
engine, threads, scale, seed) comes from the plan. The digest is checked against the
reference's at the tiny test scale, so a fast wrong answer cannot pass."""

from __future__ import annotations

import math
import time

import numpy as np
import pyarrow as pa

from bench import plan as plans
from bench import samples
from bench.measure import modes
from bench.suite.conftest import plan_of
from native import ffi, lib
from workloads import _native, registry

ITERATIONS_MAX = 1000
KIND_OF_TEST = {
    "test_batch": plans.BATCH,
    "test_decide_online_latency": plans.ONLINE,
    "test_ledger_post_batching": plans.BATCHING,
    "test_decide_capacity": plans.CAPACITY,
}


def pytest_generate_tests(metafunc):
    kind = KIND_OF_TEST.get(metafunc.function.__name__)
    if kind is not None:
        cases = [c for c in plan_of(metafunc.config).cases() if c.kind == kind]
        metafunc.parametrize("case", cases, ids=[c.test_id() for c in cases])


def measure(benchmark, plan, case, target, **pedantic):
    """Run ``target`` under the plan's measurement mode: the one seam a mode plugs into.
    "time": pytest-benchmark's pedantic rounds, timed by the wall clock; "instructions" and
    "counters": bench/measure/modes.py."""
    assert plan.measure in plans.MEASURE_MODES, plan.measure
    if plan.measure != modes.TIME:
        return modes.measured(benchmark, plan.measure, case.engine, target, pedantic)
    return benchmark.pedantic(target, **pedantic)


def test_batch(benchmark, plan, inputs_of, case):
    workload = registry.get(case.workload)
    inputs = inputs_of(case.workload)
    engine, threads = case.engine, case.threads
    benchmark.name = case.name(plan.scale)
    benchmark.group = case.workload
    rounds = plan.rounds_of(engine)
    inner_ns: list[int] = []

    def timed_run(*args):
        """workload.run, timed also by the core's own clock: what the harness adds is the
        difference between pytest-benchmark's time and this one."""
        start = lib.bb_now_ns()
        outputs = workload.run(*args)
        inner_ns.append(lib.bb_now_ns() - start)
        return outputs

    iterations = 1
    if engine != "python" and plan.min_round_s > 0:
        # a sample of a few milliseconds is at the mercy of one scheduler tick or one page
        # fault storm: as pyperf and timeit do, repeat the call so a round lasts long
        # enough, and keep the mean per call (this first call also warms up)
        timed_run(inputs, engine, threads)
        once_s = max(inner_ns[-1] / 1e9, 1e-6)
        iterations = min(ITERATIONS_MAX, math.ceil(plan.min_round_s / once_s))
    outputs = measure(
        benchmark,
        plan,
        case,
        timed_run,
        args=(inputs, engine, threads),
        rounds=rounds,
        iterations=iterations,
        warmup_rounds=0 if engine == "python" else 1,
    )
    # the timed rounds' calls: after the warmup, and before the extra call with which
    # pytest-benchmark gets the result when it loops
    last = len(inner_ns) - (1 if iterations > 1 else 0)
    timed_ns = inner_ns[last - rounds * iterations : last]
    workload.check(inputs, outputs)
    benchmark.extra_info.update(
        units=workload.units(inputs),
        digest=workload.digest(outputs),
        io_bytes=sum(t.nbytes for t in (*inputs.values(), *outputs.values())),
        iterations=iterations,
        inner_seconds=[  # per call, as pytest-benchmark's own round times are
            sum(timed_ns[r * iterations : (r + 1) * iterations]) / iterations / 1e9
            for r in range(rounds)
        ],
    )


def test_decide_online_latency(benchmark, plan, inputs_of, case):
    """One application per call; the per-call latency percentiles come from an instrumented
    pass, the benchmark times whole passes."""
    workload = registry.get("loan.decide")
    inputs = inputs_of("loan.decide")
    benchmark.name = case.name(plan.scale)
    benchmark.group = "loan.decide online"

    def one_pass():
        session = workload.online(inputs, case.engine)
        for row in range(session.size):
            session.decide(row)
        return session

    session = workload.online(inputs, case.engine)
    latencies = np.empty(session.size, dtype=np.int64)
    clock = time.perf_counter_ns
    for row in range(session.size):
        start = clock()
        session.decide(row)
        latencies[row] = clock() - start
    measure(benchmark, plan, case, one_pass, rounds=plan.rounds_of(case.engine), iterations=1)
    benchmark.extra_info.update(
        units=session.size,
        **samples.latency_info(latencies),
        digest=workload.digest(session.outputs()),
    )


def test_ledger_post_batching(benchmark, plan, inputs_of, case):
    """The batching curve through Python: one C request per batch of 1, 128 or 8189
    transfers (TigerBeetle's maximum), the same transfers each time."""
    from workloads.ledger import post

    workload = registry.get("ledger.post")
    inputs = dict(inputs_of("ledger.post"))
    inputs["transfers"] = post.rebatch(inputs["transfers"], case.batch_size)
    benchmark.name = case.name(plan.scale)
    benchmark.group = "ledger.post batching"
    rounds = 1 if case.batch_size == 1 else plan.rounds
    outputs = measure(
        benchmark, plan, case, workload.run, args=(inputs, "c", 1), rounds=rounds, iterations=1
    )
    workload.check(inputs, outputs)
    benchmark.extra_info.update(units=workload.units(inputs), digest=workload.digest(outputs))


def test_decide_capacity(benchmark, plan, inputs_of, case):
    """Capacity at a latency target: loan.decide as a service taking micro-batches of
    ``batch_size`` applications per C request, on ``threads`` independent shards (each with its
    own fraud state, as a service sharded by customer). A decision's latency is the service
    time of its micro-batch (closed loop: queueing for arrivals is not modelled). The report
    picks the highest throughput whose p99 stays under the SLO."""
    threads, batch_size = case.threads, case.batch_size
    workload = registry.get("loan.decide")
    inputs = inputs_of("loan.decide")
    size = inputs["applications"].num_rows
    bounds = np.linspace(0, size, threads + 1).astype(int)
    benchmark.name = case.name(plan.scale)
    benchmark.group = "loan.decide capacity"
    latencies: list[np.ndarray] = []

    def fresh_sessions():
        return ([workload.online(inputs, "c") for _ in range(threads)],), {}

    def serve(sessions):
        latencies.append(serve_in_c(sessions, bounds, batch_size))
        return sessions

    sessions = measure(
        benchmark, plan, case, serve, setup=fresh_sessions, rounds=plan.rounds, iterations=1
    )
    benchmark.extra_info.update(
        units=size,
        **samples.latency_info(np.concatenate(latencies)),
        # one shard carries the whole stream's fraud state: the same answer as the batch path;
        # on more, each shard's rows start from a fresh state (summary.output_key keeps their
        # answer apart per thread count), still one answer on every CPU
        digest=workload.digest(sharded_outputs(sessions, bounds)),
    )


def serve_in_c(sessions, bounds, batch_size: int) -> np.ndarray:
    """Session i serves rows [bounds[i], bounds[i + 1]) in micro-batches of batch_size, one
    C request each, all sessions at once: the service loop is C on the pool's threads, one
    parallel call, each request timed by the core's clock (no Python between requests).
    The service times in ns, shard by shard. The shards run at once, as a service's would."""
    shard_bounds = np.asarray(bounds, dtype=np.int64)
    requests = -(-np.diff(shard_bounds) // batch_size)  # micro-batches per shard
    took_first = np.concatenate([[0], np.cumsum(requests)[:-1]]).astype(np.int64)
    took = np.empty(int(requests.sum()), dtype=np.int64)
    arguments = ffi.new("bb_decide_session[]", [s.request() for s in sessions])
    task = ffi.new(
        "bb_decide_serve_task *",
        {
            "sessions": arguments,
            "bounds": _native.pointer(shard_bounds),
            "batch_size": batch_size,
            "took_first": _native.pointer(took_first),
            "took_ns": _native.out_pointer(took),
        },
    )
    _native.parallel_groups("bb_decide_serve_shards", task, len(sessions))
    return took


def sharded_outputs(sessions, bounds) -> dict:
    """The offers of a capacity run: shard i decided rows [bounds[i], bounds[i + 1]) in its
    own session, whose other rows stay unset; those rows of each, in order."""

    return {
        "offers": pa.concat_tables(
            session.outputs()["offers"].slice(int(begin), int(end - begin))
            for session, begin, end in zip(sessions, bounds[:-1], bounds[1:], strict=True)
        ).combine_chunks()
    }
