"""The plan, shared inputs and result recording for the benchmark modules.

    pytest bench/suite --benchmark-disable       # every benchmark once, the smoke plan
``bankbench run`` hands each worker a job file (``--bankbench-job``): the resolved Plan
(bench/plan.py), the store, the run and the worker's number. The suite is parametrized from
the plan, and every benchmark's samples are written to the store the moment it finishes;
its start and end are reported to the parent (which draws the progress line) on a pipe.
"""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from bench.plan import Case, Plan, resolve

PLAN = pytest.StashKey[Plan]()
RECORDER = pytest.StashKey["Recorder"]()


def pytest_addoption(parser):
    parser.getgroup("bankbench").addoption(
        "--bankbench-job",
        default=None,
        help="a bankbench run's job file (JSON: plan, store, run_id, process, progress_fd)",
    )


def pytest_configure(config):
    path = config.getoption("--bankbench-job")
    if path is None:
        config.stash[PLAN] = resolve("smoke")
        return
    job = json.loads(pathlib.Path(path).read_text())
    plan = Plan.from_dict(job["plan"])
    config.stash[PLAN] = plan
    if plan.pin:
        from workloads import _native

        _native.pin_threads(job["placement"])
    if job.get("run_id"):  # a plan alone (no run) measures without recording
        config.stash[RECORDER] = Recorder(job, plan)


def plan_of(config) -> Plan:
    return config.stash[PLAN]


@pytest.fixture(scope="session")
def plan(request) -> Plan:
    return plan_of(request.config)


@pytest.fixture(scope="session")
def inputs_of(plan):
    """Generated inputs per workload (at the plan's scale, or a weak case's), once per
    session (generation is never timed)."""
    from workloads import registry

    cache: dict[tuple[str, float], dict] = {}

    def get(name, scale=None):
        key = (name, plan.scale if scale is None else scale)
        if key not in cache:
            cache.clear()  # one workload's inputs in memory at a time
            cache[key] = registry.get(name).generate(scale=key[1], seed=plan.seed)
        return cache[key]

    return get


class Reference:
    """The reference's answer at each workload's golden point (its golden entry's seed and
    scale): what every benchmark's path must reproduce there."""

    def __init__(self):
        self._golden: dict[str, tuple] = {}
        self._digests: dict[tuple, str] = {}

    def golden(self, workload) -> tuple[dict, dict]:
        """(the golden point's inputs, the golden entry), generated once per workload."""
        from workloads import golden

        if workload.name not in self._golden:
            entry = golden.entry(workload)
            assert entry, (
                f"{workload.name} v{workload.version} has no golden digest in "
                f"{workload.golden_path}: record it with bankbench verify --write-golden"
            )
            inputs = workload.generate(scale=entry["scale"], seed=entry["seed"])
            self._golden[workload.name] = (inputs, entry)
        return self._golden[workload.name]

    def assert_matches(self, case: Case, run, prepare=None, reference_run=None) -> None:
        """``run(inputs)`` on the golden point's inputs (made by ``prepare`` from them, when
        given) passes check() and gives the reference's digest: the golden digest where the
        inputs are the golden ones and nothing else is asked; else ``reference_run``'s
        (default: the Python reference's run) on the same inputs, computed once."""
        from workloads import registry

        workload = registry.get(case.workload)
        golden_inputs, entry = self.golden(workload)
        inputs = prepare(golden_inputs) if prepare else golden_inputs
        outputs = run(inputs)
        workload.check(inputs, outputs)
        if prepare is None and reference_run is None:
            expected, source = entry["digest"], f"the golden digest ({workload.golden_path.name})"
        else:
            key = (case.kind, case.workload, case.batch_size, case.threads if reference_run else 0)
            if key not in self._digests:
                if reference_run is None:
                    reference_outputs = workload.run(inputs, "python", 1)
                else:
                    reference_outputs = reference_run(inputs)
                workload.check(inputs, reference_outputs)
                self._digests[key] = workload.digest(reference_outputs)
            expected, source = self._digests[key], "the Python reference's digest"
        digest = workload.digest(outputs)
        assert digest == expected, (
            f"{case.test_id()} at the golden point (seed {entry['seed']}, scale "
            f"{entry['scale']}) gives digest {digest[:16]}, not {source} {expected[:16]}"
        )


@pytest.fixture(scope="session")
def reference() -> Reference:
    return Reference()


class Recorder:
    """Writes each finished benchmark's samples to the store and tells the parent."""

    def __init__(self, job: dict, plan: Plan):
        from bench.records import RunRecord
        from bench.store import Store

        self.plan = plan  # parsed once, by pytest_configure
        self.store = Store(job["store"])
        self.run = RunRecord.from_row(self.store.find_run(job["run_id"]))
        self.process = job["process"]
        fd = job.get("progress_fd")
        self.progress = os.fdopen(fd, "w", buffering=1) if fd is not None else None

    def tell(self, event: str, benchmark: str) -> None:
        if self.progress:
            self.progress.write(json.dumps({"event": event, "benchmark": benchmark}) + "\n")

    def record(self, config, benchmark, case: Case) -> None:
        """The finished benchmark as pytest-benchmark's documented JSON (its
        pytest_benchmark_generate_json hook), read into Samples like an imported file."""
        from bench import samples

        output = config.hook.pytest_benchmark_generate_json(
            config=config,
            benchmarks=[benchmark.stats],
            include_data=True,
            machine_info={},
            commit_info={},
        )
        for entry in output["benchmarks"]:
            rows = samples.from_pytest_benchmark(
                self.run.run_id,
                entry,
                known=self.known(case),
                process=self.process,
                measure=self.plan.measure,
                peak_rss_bytes=samples.peak_rss_bytes(),
            )
            self.store.write_samples(self.run, entry["name"], rows, self.process)

    def known(self, case: Case) -> dict:
        """What the plan says of every sample of ``case``."""
        from workloads import registry

        workload = registry.get(case.workload)
        return {
            "workload": case.workload,
            "engine": case.engine,
            "threads": case.threads,
            "scale": case.scale_at(self.plan.scale),
            "seed": self.plan.seed,
            "mode": case.mode,
            "batch_size": case.batch_size,
            # the comparability key of this workload: its version and its C's hash
            "workload_version": workload.version,
            "workload_source_sha256": workload.source_sha256(),
        }

    def write_growing(self, case: Case, rows: list) -> None:
        """Every sample so far of a case that grows step by step (an open-loop sweep)."""
        name = case.name(self.plan.scale)
        self.store.write_samples(self.run, name, rows, self.process, growing=True)


@pytest.fixture
def recorder(request) -> Recorder | None:
    """The run's recorder (None under a plain pytest: nothing is stored)."""
    return request.config.stash.get(RECORDER, None)


@pytest.fixture(autouse=True)
def _record(request):
    recorder = request.config.stash.get(RECORDER, None)
    case = request.getfixturevalue("case") if "case" in request.fixturenames else None
    name = case.name(plan_of(request.config).scale) if case else request.node.name
    # requested here, so it is torn down after this fixture has read its result
    benchmark = (
        request.getfixturevalue("benchmark") if "benchmark" in request.fixturenames else None
    )
    if recorder:
        recorder.tell("start", name)
    yield
    if recorder is None:
        return
    if benchmark is not None and benchmark.stats and case is not None:
        recorder.record(request.config, benchmark, case)
    recorder.tell("done", name)
