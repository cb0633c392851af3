"""Options and shared inputs for the benchmark modules.

pytest bench/suite --benchmark-disable                    # quick test at tiny scale
pytest bench/suite --bankbench-scale 1 --benchmark-only   # measure at scale 1
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("bankbench")
    group.addoption(
        "--bankbench-scale", type=float, default=0.002, help="workload scale (default 0.002)"
    )
    group.addoption("--bankbench-seed", type=int, default=42, help="generator seed (default 42)")
    group.addoption("--bankbench-engines", default="c,numpy,python", help="engines to run")
    group.addoption(
        "--bankbench-threads", default="1,2", help="thread counts for the c and numpy engines"
    )
    group.addoption(
        "--bankbench-rounds", type=int, default=5, help="rounds per benchmark (python: 1)"
    )


@pytest.fixture(scope="session")
def settings(request):
    option = request.config.getoption
    return {
        "scale": option("--bankbench-scale"),
        "seed": option("--bankbench-seed"),
        "engines": option("--bankbench-engines").split(","),
        "threads": [int(t) for t in option("--bankbench-threads").split(",")],
        "rounds": option("--bankbench-rounds"),
    }


@pytest.fixture(scope="session")
def inputs_of(settings):
    """Generated inputs per workload, once per session (generation is never timed)."""
    from workloads import registry

    cache = {}

    def get(name):
        if name not in cache:
            cache.clear()  # one workload's inputs in memory at a time
            cache[name] = registry.get(name).generate(
                scale=settings["scale"], seed=settings["seed"]
            )
        return cache[name]

    return get
