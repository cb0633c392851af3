"""Options, shared inputs and result recording for the benchmark modules.

    pytest bench/suite --benchmark-disable                    # quick test at tiny scale
    pytest bench/suite --bankbench-scale 1 --benchmark-only   # measure at scale 1
``bankbench run`` adds --bankbench-store and --bankbench-run-id: then every benchmark's samples
are written to the store the moment it finishes, with a progress line on stderr.
"""

from __future__ import annotations

import sys
import time

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
    group.addoption(
        "--bankbench-min-round-s",
        type=float,
        default=0.0,
        help="repeat a fast engine's call within a round until the round lasts this long "
        "(default 0: one call per round)",
    )
    group.addoption("--bankbench-store", default=None, help="results store to write samples to")
    group.addoption("--bankbench-run-id", default=None, help="the run these samples belong to")
    group.addoption("--bankbench-process", type=int, default=0, help="worker process number")


@pytest.fixture(scope="session")
def settings(request):
    option = request.config.getoption
    return {
        "scale": option("--bankbench-scale"),
        "seed": option("--bankbench-seed"),
        "engines": option("--bankbench-engines").split(","),
        "threads": [int(t) for t in option("--bankbench-threads").split(",")],
        "rounds": option("--bankbench-rounds"),
        "min_round_s": option("--bankbench-min-round-s"),
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


class Recorder:
    """Writes each finished benchmark's samples to the store and reports progress."""

    def __init__(self, config):
        from bench.store import Store

        option = config.getoption
        self.store = Store(option("--bankbench-store"))
        self.run = self.store.find_run(option("--bankbench-run-id"))
        self.process = option("--bankbench-process")
        self.started = time.monotonic()
        self.done = 0
        self.total = 0

    def record(self, benchmark) -> None:
        from bench.samples import rows_of

        rows = rows_of(
            self.run["run_id"],
            benchmark.name,
            benchmark.stats.stats.data,
            benchmark.extra_info,
            self.process,
        )
        self.store.write_samples(self.run, benchmark.name, rows, self.process)

    def progress(self, name: str) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.started
        left = (self.total - self.done) * elapsed / self.done if self.done else 0
        print(
            f"\r[{self.done}/{self.total}] {name:<44} {elapsed:6.0f}s elapsed, ~{left:4.0f}s left",
            file=sys.stderr,
            end="\n" if self.done == self.total else "",
            flush=True,
        )


def pytest_configure(config):
    if config.getoption("--bankbench-store") and config.getoption("--bankbench-run-id"):
        config._bankbench_recorder = Recorder(config)


def pytest_collection_modifyitems(session, config, items):
    recorder = getattr(config, "_bankbench_recorder", None)
    if recorder:
        recorder.total = len(items)


@pytest.fixture(autouse=True)
def _record(request):
    yield
    recorder = getattr(request.config, "_bankbench_recorder", None)
    if recorder is None:
        return
    benchmark = request.node.funcargs.get("benchmark")
    if benchmark is not None and benchmark.stats:
        recorder.record(benchmark)
    recorder.progress(request.node.name)
