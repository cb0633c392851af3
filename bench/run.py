"""``bankbench run``: drive the pytest-benchmark modules of bench.suite into the results store.

The parent records the host fingerprint and a run row first (so an unwritable store fails at
once), then runs the suite in --processes worker processes (pyperf style: their samples are
pooled), each writing every finished benchmark to the store. Ctrl-C or SIGTERM stops the run;
what finished is kept and the run is marked incomplete.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass

from bench import liveness
from workloads import registry
from workloads.errors import BankbenchError


@dataclass(frozen=True)
class Profile:
    scale: float
    rounds: int
    threads: tuple[int, ...]
    purpose: str
    min_round_s: float  # a fast engine's round repeats the call until it lasts this long


PROFILES = {
    "smoke": Profile(0.002, 3, (1, 2), "seconds: CI and first contact", 0.0),
    "quick": Profile(0.05, 5, (1, 2), "about 2 minutes", 0.1),
    "standard": Profile(0.2, 9, (1, 2), "about 10 minutes: the default for comparisons", 0.3),
    # the regression gate: 15 rounds of 0.2 s per benchmark give Mann-Whitney a p-value
    # floor far below 0.05 and a median stable to about 1 % on a quiet host
    "ci": Profile(0.05, 15, (1, 2), "the CI regression gate: a 5 % change on a quiet host", 0.2),
    "full": Profile(1.0, 9, (), "thread sweep 1…all cores at full scale", 0.3),
}


def suite_arguments(
    scale: float,
    engines: list[str],
    threads: list[int],
    rounds: int,
    workloads: list[str] | None,
    store: str,
    run_id: str,
    process: int,
    min_round_s: float = 0.0,
) -> list[str]:
    import bench.suite

    names = [w.name for w in registry.select(workloads)]
    extra = (["online", "capacity"] if "loan.decide" in names else []) + (
        ["batching"] if "ledger.post" in names else []
    )
    selector = " or ".join([f"{n}-" for n in names] + extra)
    # the suite's folder, not --pyargs: its conftest must load early to add the options
    suite = str(pathlib.Path(bench.suite.__file__).resolve().parent)
    return [
        suite,
        "-q",
        "-p",
        "no:cacheprovider",
        "--benchmark-only",
        "--benchmark-disable-gc",
        f"--bankbench-scale={scale}",
        f"--bankbench-engines={','.join(engines)}",
        f"--bankbench-threads={','.join(map(str, threads))}",
        f"--bankbench-rounds={rounds}",
        f"--bankbench-min-round-s={min_round_s}",
        f"--bankbench-store={store}",
        f"--bankbench-run-id={run_id}",
        f"--bankbench-process={process}",
        "-k",
        selector,
        "--benchmark-columns=median,iqr,rounds",
    ]


def _git_commit() -> str | None:
    try:
        here = pathlib.Path(__file__).resolve().parent.parent
        result = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return result.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def run(
    *,
    store_location: str,
    profile: str,
    scale: float | None,
    engines: list[str] | None,
    threads: list[int] | None,
    rounds: int | None,
    workloads: list[str] | None,
    processes: int,
    pin: bool,
    label: str | None,
    probes: dict | None = None,
) -> str:
    from bench import __version__, fingerprint
    from bench.store import Store, new_run_id

    registry.select(workloads)  # unknown names fail here, before the store is touched
    chosen = PROFILES[profile]
    scale = scale or chosen.scale
    rounds = rounds or chosen.rounds
    cpus = os.cpu_count() or 1
    threads = threads or list(chosen.threads) or sorted({1, 2, *range(4, cpus + 1, 4), cpus})
    threads = [t for t in threads if t <= max(cpus, 1)] or [1]
    engines = engines or ["c", "numpy", "python"]
    store = Store(store_location)
    facts = fingerprint.collect()
    build = facts.pop("build")
    if facts["emulated"]:
        print(
            f"WARNING: {facts['emulation_reason']}: "
            "this run checks correctness; its timings are invalid",
            file=sys.stderr,
        )
    now = datetime.datetime.now(datetime.timezone.utc)
    record = {
        "run_id": new_run_id(),
        "label": label or f"{facts.get('hostname')}-{profile}",
        "status": "running",
        "started_at": now,
        "finished_at": None,
        "profile": profile,
        "command_line": shlex.join(["bankbench", *sys.argv[1:]]),
        "bankbench_version": __version__,
        "git_commit": _git_commit(),
        "emulated": facts["emulated"],
        "cpu_model": facts.get("cpu_model"),
        "fingerprint_json": json.dumps(facts),
        "build_json": json.dumps(build),
        "probes_json": None,
    }
    if probes is None:
        from bench import probes as measure

        print("probing memory bandwidth, random updates and call cost...", file=sys.stderr)
        probes = measure.run("full" if profile in ("standard", "full") else "small")
    record["probes_json"] = json.dumps(probes)
    store.write_run(record)
    print(
        f"run {record['run_id']} ({record['label']}): profile {profile}, scale {scale}, "
        f"threads {threads}, engines {','.join(engines)}, {processes} process(es) "
        f"→ {store_location}",
        file=sys.stderr,
    )
    status = "complete"
    interrupted = {"flag": False}

    def on_term(signum, frame):  # SIGTERM: stop like Ctrl-C, keep what finished
        interrupted["flag"] = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        for process in range(processes):
            command = [
                sys.executable,
                "-m",
                "pytest",
                *suite_arguments(
                    scale,
                    engines,
                    threads,
                    rounds,
                    workloads,
                    store_location,
                    record["run_id"],
                    process,
                    chosen.min_round_s,
                ),
            ]
            pinning = None
            if pin and hasattr(os, "sched_setaffinity"):
                cores = sorted(os.sched_getaffinity(0))[: max(threads)]
                pinning = lambda cores=cores: os.sched_setaffinity(0, cores)  # noqa: E731
            result = subprocess.run(  # the worker dies with this process (liveness)
                command,
                preexec_fn=liveness.worker_start(pinning),
                env=liveness.worker_environment(),
                stdout=subprocess.DEVNULL,
                check=False,
            )
            if result.returncode not in (0, 5):
                status = "incomplete"
                if result.returncode == 2:  # interrupted inside the worker
                    raise KeyboardInterrupt
                raise BankbenchError(
                    f"benchmarks failed in worker process {process} (pytest exit "
                    f"{result.returncode}); rerun `pytest {bench_folder()} -x` to see why"
                )
    except KeyboardInterrupt:
        status = "incomplete"
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        record["status"] = status
        record["finished_at"] = datetime.datetime.now(datetime.timezone.utc)
        store.write_run(record)
    return record["run_id"]


def bench_folder() -> str:
    import bench.suite

    return str(pathlib.Path(bench.suite.__file__).resolve().parent)
