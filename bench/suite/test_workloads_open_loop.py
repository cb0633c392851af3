"""The open-loop sweep (bench/openloop/sweep.py) of every workload the driver serves, at each
thread count of the plan: the closed-loop peak, the grid of offered loads that follows it,
bisection to the SLO's rate; ``repeats`` times (seed, seed + 1, …). Each point is stored the
moment it finishes (the recorder rewrites the case's one file), so Ctrl-C or SIGTERM keeps
every finished point. Not a pytest-benchmark test: the driver times each request itself."""

from __future__ import annotations

from bench import plan as plans
from bench import samples
from bench.openloop import sweep
from bench.suite.conftest import plan_of

NS_PER_MS = 1_000_000


def pytest_generate_tests(metafunc):
    if metafunc.function.__name__ == "test_open_loop":
        cases = [c for c in plan_of(metafunc.config).cases() if c.kind == plans.OPEN_LOOP]
        metafunc.parametrize("case", cases, ids=[c.test_id() for c in cases])


def test_open_loop(benchmark, plan, recorder, case):
    # benchmark is requested only so that the worker's --benchmark-only runs this test; it
    # is never called (its stats stay empty, so the recorder writes no timing rows for it)
    settings = plan.open_loop
    slo_ns = round(plan.slo_ms * NS_PER_MS)
    rows = []
    known = recorder.known(case) if recorder else {}
    name = case.name(plan.scale)
    for repeat in range(settings.repeats):

        def store(point, peak_per_s, repeat=repeat):
            rows.append(
                samples.from_open_loop_point(
                    recorder.run.run_id,
                    point,
                    index=len(rows),
                    peak_per_s=peak_per_s,
                    slo_ns=slo_ns,
                    repeat=repeat,
                    benchmark=name,
                    process=recorder.process,
                    **{**known, "seed": plan.seed + repeat},
                )
            )
            recorder.write_growing(case, rows)

        result = sweep.run(
            case.workload,
            threads=case.threads,
            slo_ns=slo_ns,
            requests=settings.requests,
            seed=plan.seed + repeat,
            scale=case.scale_at(plan.scale),
            points=settings.points,
            on_point=store if recorder else None,
            pin=plan.pin,
        )
        assert len(result.points) >= settings.points
        assert all(p.requests == settings.requests for p in result.points)
