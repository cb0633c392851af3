"""Batch throughput of every workload × engine × threads, and the online latency of loan.decide.

Benchmark ids read ``<workload>[<engine>-<threads>t-<scale>]``. Each benchmark records its
units, throughput (units/s) and output digest in ``extra_info``; the digest is checked
against the reference's at the tiny test scale, so a fast wrong answer cannot pass."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from bench import samples
from native import lib
from workloads import _native, registry

ITERATIONS_MAX = 1000
CASES = [(name, engine) for name in registry.names() for engine in registry.get(name).engines]


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", CASES, ids=[f"{n}-{e}" for n, e in CASES])


@pytest.mark.parametrize("threads_index", [0, 1], ids=["t0", "t1"])
def test_batch(benchmark, settings, inputs_of, case, threads_index):
    name, engine = case
    threads_list = settings["threads"] if engine != "python" else [1]
    if engine not in settings["engines"] or threads_index >= len(threads_list):
        pytest.skip("not selected")
    threads = threads_list[threads_index]
    workload = registry.get(name)
    inputs = inputs_of(name)
    benchmark.name = f"{name}[{engine}-{threads}t-{settings['scale']}]"
    benchmark.group = name
    rounds = 1 if engine == "python" else settings["rounds"]
    inner_ns: list[int] = []

    def timed_run(*args):
        """workload.run, timed also by the core's own clock: what the harness adds is the
        difference between pytest-benchmark's time and this one."""
        start = lib.bb_now_ns()
        outputs = workload.run(*args)
        inner_ns.append(lib.bb_now_ns() - start)
        return outputs

    iterations = 1
    if engine != "python" and settings["min_round_s"] > 0:
        # a sample of a few milliseconds is at the mercy of one scheduler tick or one page
        # fault storm: as pyperf and timeit do, repeat the call so a round lasts long
        # enough, and keep the mean per call (this first call also warms up)
        timed_run(inputs, engine, threads)
        once_s = max(inner_ns[-1] / 1e9, 1e-6)
        iterations = min(ITERATIONS_MAX, math.ceil(settings["min_round_s"] / once_s))
    outputs = benchmark.pedantic(
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
    units = workload.units(inputs)
    benchmark.extra_info.update(
        workload=name,
        engine=engine,
        threads=threads,
        scale=settings["scale"],
        seed=settings["seed"],
        units=units,
        unit=workload.unit,
        digest=workload.digest(outputs),
        mode="batch",
        io_bytes=sum(t.nbytes for t in (*inputs.values(), *outputs.values())),
        iterations=iterations,
        inner_seconds=[  # per call, as pytest-benchmark's own round times are
            sum(timed_ns[r * iterations : (r + 1) * iterations]) / iterations / 1e9
            for r in range(rounds)
        ],
    )
    if benchmark.stats:  # absent with --benchmark-disable
        benchmark.extra_info["units_per_s"] = units / benchmark.stats.stats.median


@pytest.mark.parametrize("engine", ["c", "python"])
def test_decide_online_latency(benchmark, settings, inputs_of, engine):
    """One application per call; the per-call latency percentiles come from an instrumented
    pass, the benchmark times whole passes."""
    if engine not in settings["engines"]:
        pytest.skip("not selected")
    workload = registry.get("loan.decide")
    inputs = inputs_of("loan.decide")
    benchmark.name = f"loan.decide[{engine}-online-1t-{settings['scale']}]"
    benchmark.group = "loan.decide online"

    def one_pass():
        session = workload.online(inputs, engine)
        for row in range(session.size):
            session.decide(row)
        return session

    session = workload.online(inputs, engine)
    latencies = np.empty(session.size, dtype=np.int64)
    clock = time.perf_counter_ns
    for row in range(session.size):
        start = clock()
        session.decide(row)
        latencies[row] = clock() - start
    rounds = 1 if engine == "python" else settings["rounds"]
    benchmark.pedantic(one_pass, rounds=rounds, iterations=1)
    benchmark.extra_info.update(
        workload="loan.decide",
        engine=engine,
        threads=1,
        mode="online",
        units=session.size,
        unit="applications",
        scale=settings["scale"],
        seed=settings["seed"],
        **samples.latency_info(latencies),
        digest=workload.digest(session.outputs()),
    )


@pytest.mark.parametrize("batch_size", [1, 128, 8189])
def test_ledger_post_batching(benchmark, settings, inputs_of, batch_size):
    """The batching curve through Python: one C request per batch of 1, 128 or 8189
    transfers (TigerBeetle's maximum), the same transfers each time."""
    if "c" not in settings["engines"]:
        pytest.skip("not selected")
    from workloads.ledger import post

    workload = registry.get("ledger.post")
    inputs = dict(inputs_of("ledger.post"))
    inputs["transfers"] = post.rebatch(inputs["transfers"], batch_size)
    benchmark.name = f"ledger.post[c-1t-{settings['scale']}-batch{batch_size}]"
    benchmark.group = "ledger.post batching"
    rounds = 1 if batch_size == 1 else settings["rounds"]
    outputs = benchmark.pedantic(workload.run, args=(inputs, "c", 1), rounds=rounds, iterations=1)
    workload.check(inputs, outputs)
    benchmark.extra_info.update(
        workload="ledger.post",
        engine="c",
        threads=1,
        mode="batch",
        batch_size=batch_size,
        units=workload.units(inputs),
        unit=workload.unit,
        scale=settings["scale"],
        digest=workload.digest(outputs),
    )


CAPACITY_BATCH_SIZES = (1, 16, 256)


@pytest.mark.parametrize("threads_index", [0, 1], ids=["t0", "t1"])
@pytest.mark.parametrize("batch_size", CAPACITY_BATCH_SIZES)
def test_decide_capacity(benchmark, settings, inputs_of, batch_size, threads_index):
    """Capacity at a latency target: loan.decide as a service taking micro-batches of
    ``batch_size`` applications per C request, on ``threads`` independent shards (each with its
    own fraud state, as a service sharded by customer). A decision's latency is the service
    time of its micro-batch (closed loop: queueing for arrivals is not modelled). The report
    picks the highest throughput whose p99 stays under the SLO."""
    if "c" not in settings["engines"] or threads_index >= len(settings["threads"]):
        pytest.skip("not selected")
    threads = settings["threads"][threads_index]
    workload = registry.get("loan.decide")
    inputs = inputs_of("loan.decide")
    size = inputs["applications"].num_rows
    bounds = np.linspace(0, size, threads + 1).astype(int)
    benchmark.name = f"loan.decide[c-capacity-{threads}t-{settings['scale']}-batch{batch_size}]"
    benchmark.group = "loan.decide capacity"
    latencies: list[np.ndarray] = []

    def fresh_sessions():
        return ([workload.online(inputs, "c") for _ in range(threads)],), {}

    def serve(sessions):
        def shard(session, begin, end):
            clock = time.perf_counter_ns
            starts = range(begin, end, batch_size)
            took = np.empty(len(starts), dtype=np.int64)
            for i, first in enumerate(starts):
                start = clock()
                session.decide_many(first, min(first + batch_size, end))
                took[i] = clock() - start
            latencies.append(took)

        _native.run_parallel(
            [
                lambda s=s, b=int(b), e=int(e): shard(s, b, e)
                for s, b, e in zip(sessions, bounds[:-1], bounds[1:], strict=True)
            ]
        )
        return sessions

    sessions = benchmark.pedantic(
        serve, setup=fresh_sessions, rounds=settings["rounds"], iterations=1
    )
    benchmark.extra_info.update(
        workload="loan.decide",
        engine="c",
        threads=threads,
        mode="capacity",
        batch_size=batch_size,
        units=size,
        unit="applications",
        scale=settings["scale"],
        seed=settings["seed"],
        **samples.latency_info(np.concatenate(latencies)),
        # one shard carries the whole stream's fraud state: the same answer as the batch path
        digest=workload.digest(sessions[0].outputs()) if threads == 1 else None,
    )
