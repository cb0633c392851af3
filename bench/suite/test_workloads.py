"""The benchmarks each workload declares (workloads/_base.py: ``Workload.benchmarks``), one test
function per kind: batch throughput of every workload × engine × thread count of the plan,
online latency and capacity of the workloads with an online path, the batching curve of
those that take requests of a size.

The tests are parametrized from the run's Plan (bench/plan.py: ``Plan.cases``), one case
per benchmark, with the real thread count in the id: ``test_batch[ledger.post-c-16t]``.
Benchmark ids in the store read ``<workload>[<engine>-<threads>t-<scale>]``. Each benchmark
reports what it measured (units, digest, …) in ``extra_info``; what it ran (workload,
engine, threads, scale, seed) comes from the plan. Every benchmark checks the invariants of
the outputs it timed, and runs the same path (engine, threads, batch size, shards) once at
the workload's golden point, whose digest must be the reference's (the golden digest, or the
Python reference's on the same inputs where the path changes them): a fast wrong answer
cannot pass."""

from __future__ import annotations

import math
import time

import numpy as np
import pyarrow as pa

from bench import plan as plans
from bench import probes, samples
from bench.measure import modes
from bench.suite.conftest import plan_of
from native import lib
from workloads import _native, registry

ITERATIONS_MAX = 1000
KIND_OF_TEST = {
    "test_batch": plans.BATCH,
    "test_online_latency": plans.ONLINE,
    "test_batching": plans.BATCHING,
    "test_capacity": plans.CAPACITY,
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
        return plan.mode.measured(benchmark, case.engine, target, pedantic)
    return benchmark.pedantic(target, **pedantic)


def test_batch(benchmark, plan, inputs_of, reference, case):
    """Fixed work (the plan's scale) or, for a weak case, the scale times the threads; both
    run the same path at the golden point against the reference."""
    workload = registry.get(case.workload)
    inputs = inputs_of(case.workload, case.scale_at(plan.scale))
    engine, threads = case.engine, case.threads
    benchmark.name = case.name(plan.scale)
    benchmark.group = case.workload
    rounds = plan.rounds_of(engine)
    inner_ns: list[int] = []
    serial_ns: list[int] = []  # per call, the calling thread alone: outside its parallel calls
    used = _native.Splits()  # the threads each parallel C call was worth (threads_worth)

    workload.validate_inputs(inputs)  # once: the timed calls run the same, unwritten tables

    def timed_run(*args):
        """workload.run_validated, timed also by the core's own clock: what the harness adds
        is the difference between pytest-benchmark's time and this one."""
        start = lib.bb_now_ns()
        with _native.threads_counted() as counted:
            outputs = workload.run_validated(*args)
        inner_ns.append(lib.bb_now_ns() - start)
        serial_ns.append(max(0, inner_ns[-1] - counted.parallel_ns))
        used[:], used.instructions[:] = counted, counted.instructions
        return outputs

    # the host's compute ceiling at these threads, right before and after the timed rounds
    # (bench/probes.py: compute_ceiling): what the CPUs gave shared-nothing work meanwhile
    ceiling = engine == "c" and threads > 1 and not case.weak and plan.measure == modes.TIME
    host_efficiencies = probes.compute_ceiling(threads) if ceiling else []
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
    host_efficiencies += probes.compute_ceiling(threads) if ceiling else []
    # the timed rounds' calls: after the warmup, and before the extra call with which
    # pytest-benchmark gets the result when it loops
    last = len(inner_ns) - (1 if iterations > 1 else 0)
    timed_ns = inner_ns[last - rounds * iterations : last]
    timed_serial_ns = serial_ns[last - rounds * iterations : last]
    workload.check(inputs, outputs)
    reference.assert_matches(case, lambda golden: workload.run(golden, engine, threads))
    benchmark.extra_info.update(
        units=workload.units(inputs),
        digest=workload.digest(outputs),
        io_bytes=sum(t.nbytes for t in (*inputs.values(), *outputs.values())),
        iterations=iterations,
        # the threads its parallel calls ran on, weighted by their work: fewer than asked
        # when the work splits into fewer parts (a call without parallel C calls: as asked)
        threads_used=used.threads_used(threads),
        host_compute_efficiency=float(np.median(host_efficiencies)) if ceiling else None,
        inner_seconds=per_call_s(timed_ns, rounds, iterations),
        serial_seconds=per_call_s(timed_serial_ns, rounds, iterations),
    )


def per_call_s(calls_ns: list[int], rounds: int, iterations: int) -> list[float]:
    """Each round's mean per call, in seconds, as pytest-benchmark's own round times are."""
    return [
        sum(calls_ns[r * iterations : (r + 1) * iterations]) / iterations / 1e9
        for r in range(rounds)
    ]


def decide_all(session):
    for row in range(session.size):
        session.decide(row)
    return session


def test_online_latency(benchmark, plan, inputs_of, reference, case):
    """One request per call; the per-call latency percentiles come from an instrumented
    pass, the benchmark times whole passes."""
    workload = registry.get(case.workload)
    inputs = inputs_of(case.workload)
    benchmark.name = case.name(plan.scale)
    benchmark.group = f"{case.workload} online"

    def one_pass():
        return decide_all(workload.online(inputs, case.engine))

    session = workload.online(inputs, case.engine)
    latencies = np.empty(session.size, dtype=np.int64)
    clock = time.perf_counter_ns
    for row in range(session.size):
        start = clock()
        session.decide(row)
        latencies[row] = clock() - start
    measure(benchmark, plan, case, one_pass, rounds=plan.rounds_of(case.engine), iterations=1)
    workload.check(inputs, session.outputs())
    reference.assert_matches(
        case, lambda golden: decide_all(workload.online(golden, case.engine)).outputs()
    )
    benchmark.extra_info.update(
        units=session.size,
        **samples.latency_info(latencies),
        digest=workload.digest(session.outputs()),
    )


def test_batching(benchmark, plan, inputs_of, reference, case):
    """The batching curve through Python: one C request per ``batch_size`` events (the
    workload's ``batched`` inputs), the same events each time."""
    workload = registry.get(case.workload)
    inputs = workload.batched(inputs_of(case.workload), case.batch_size)
    benchmark.name = case.name(plan.scale)
    benchmark.group = f"{case.workload} batching"
    rounds = 1 if case.batch_size == 1 else plan.rounds
    workload.validate_inputs(inputs)  # once, as test_batch
    outputs = measure(
        benchmark,
        plan,
        case,
        workload.run_validated,
        args=(inputs, case.engine, case.threads),
        rounds=rounds,
        iterations=1,
    )
    workload.check(inputs, outputs)
    reference.assert_matches(
        case,
        lambda batched: workload.run(batched, case.engine, case.threads),
        prepare=lambda golden: workload.batched(golden, case.batch_size),
    )
    benchmark.extra_info.update(units=workload.units(inputs), digest=workload.digest(outputs))


def test_capacity(benchmark, plan, inputs_of, reference, case):
    """Capacity at a latency target: the workload as a service taking micro-batches of
    ``batch_size`` requests per C call, on ``threads`` independent shards (each with its own
    online session, as a service sharded by customer). A request's latency is the service
    time of its micro-batch (closed loop: queueing for arrivals is not modelled). The report
    picks the highest throughput whose p99 stays under the SLO."""
    threads, batch_size = case.threads, case.batch_size
    workload = registry.get(case.workload)
    inputs = inputs_of(case.workload)
    size = workload.online(inputs, case.engine).size
    bounds = shard_bounds(size, threads)
    benchmark.name = case.name(plan.scale)
    benchmark.group = f"{case.workload} capacity"
    latencies: list[np.ndarray] = []

    def fresh_sessions():
        return ([workload.online(inputs, case.engine) for _ in range(threads)],), {}

    def serve(sessions):
        latencies.append(workload.serve_shards(sessions, bounds, batch_size))
        return sessions

    sessions = measure(
        benchmark, plan, case, serve, setup=fresh_sessions, rounds=plan.rounds, iterations=1
    )
    outputs = sharded_outputs(sessions, bounds)
    workload.check(inputs, outputs)
    reference.assert_matches(
        case,
        lambda golden: served(workload, golden, case.engine, threads, batch_size),
        # one shard is the batch path's answer, the golden digest; more: the reference's
        reference_run=None
        if threads == 1
        else lambda golden: served(workload, golden, "python", threads, None),
    )
    benchmark.extra_info.update(
        units=size,
        **samples.latency_info(np.concatenate(latencies)),
        # one shard carries the whole stream's state: the same answer as the batch path; on
        # more, each shard's rows start from a fresh state (summary.output_key keeps their
        # answer apart per thread count, and the reference check computes it the same way),
        # still one answer on every CPU
        digest=workload.digest(outputs),
    )


def shard_bounds(size: int, shards: int) -> np.ndarray:
    return np.linspace(0, size, shards + 1).astype(int)


def served(workload, inputs, engine: str, shards: int, batch_size: int | None) -> dict:
    """The outputs of ``shards`` fresh online sessions deciding their rows in micro-batches
    of ``batch_size`` (None: one by one, as the reference does): the answer a capacity
    benchmark on that many threads must give."""
    bounds = shard_bounds(workload.online(inputs, engine).size, shards)
    sessions = []
    for begin, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        session = workload.online(inputs, engine)
        if batch_size is None:
            for row in range(begin, end):
                session.decide(row)
        else:
            for first in range(begin, end, batch_size):
                session.decide_many(first, min(first + batch_size, end))
        sessions.append(session)
    return sharded_outputs(sessions, bounds)


def sharded_outputs(sessions, bounds) -> dict:
    """The outputs of a capacity run: shard i decided rows [bounds[i], bounds[i + 1]) in its
    own session; those rows of each, in order, per table. A session's table holds every row
    (those it did not decide unset: the C engine's) or only the rows it decided (the
    reference's)."""
    size = int(bounds[-1])

    def rows(table: pa.Table, begin: int, end: int) -> pa.Table:
        part = table.slice(begin, end - begin) if table.num_rows == size else table
        assert part.num_rows == end - begin, (part.num_rows, begin, end)
        return part

    return {
        name: pa.concat_tables(
            rows(session.outputs()[name], begin, end)
            for session, begin, end in zip(
                sessions, bounds[:-1].tolist(), bounds[1:].tolist(), strict=True
            )
        ).combine_chunks()
        for name in sessions[0].outputs()
    }
