"""``bankbench run``: drive the pytest-benchmark modules of bench.suite into the results store.

The caller resolves a Plan (bench/plan.py). The parent checks that it fits in memory,
records the host fingerprint and a run row first (so an unwritable store fails at once),
then runs the suite in ``plan.processes`` worker processes (pyperf style: their samples are
pooled), each handed a job file with the whole plan and writing every finished benchmark to
the store. Workers report each benchmark's start and end on a pipe; the parent draws the
progress. Ctrl-C or SIGTERM stops the run; what finished is kept and the run is marked
incomplete.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import select
import signal
import subprocess
import sys
import tempfile

from bench import allocator, liveness, text
from bench.measure import modes
from bench.plan import PROFILES, Plan  # noqa: F401  (PROFILES: the profiles' one home is plan)
from bench.progress import Progress
from workloads.errors import BankbenchError, Stopped

# what a failing worker printed that explains the failure, shown instead of its exit code
FAILURE_LINES_MAX = 25


def suite_folder() -> str:
    """The suite's folder, not --pyargs: its conftest must load early to add its option."""
    import bench.suite

    return str(pathlib.Path(bench.suite.__file__).resolve().parent)


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


def numa_nodes() -> dict[str, list[int]]:
    """CPUs per NUMA node (Linux sysfs); one node of every usable CPU elsewhere."""
    import glob

    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    nodes = {}
    for folder in sorted(glob.glob("/sys/devices/system/node/node[0-9]*")):
        try:
            text = pathlib.Path(folder, "cpulist").read_text().strip()
        except OSError:
            continue
        cpus: list[int] = []
        for part in filter(None, text.split(",")):
            first, _, last = part.partition("-")
            cpus += range(int(first), int(last or first) + 1)
        nodes[os.path.basename(folder)] = [c for c in cpus if c in usable]
    return {k: v for k, v in nodes.items() if v} or {"node0": usable}


def placement() -> dict:
    """Where pinned threads go: thread i on cpus[i mod len], the CPUs taken from each NUMA
    node in turn, so 2 threads on a 2-socket server use both sockets' memory."""
    nodes = numa_nodes()
    order = []
    for i in range(max(len(cpus) for cpus in nodes.values())):
        order += [cpus[i] for cpus in nodes.values() if i < len(cpus)]
    return {"cpus": order, "numa_nodes": nodes}


def worker_environment() -> dict[str, str]:
    """The worker's environment, less what an enclosing pytest-xdist session left in it:
    pytest-benchmark disables itself where PYTEST_XDIST_WORKER is set, and the worker's
    --benchmark-only then fails (seen when the test suite runs with -n)."""
    return allocator.worker_environment(inherited_environment())  # freed memory kept


def inherited_environment() -> dict[str, str]:
    """What the worker inherits, before bankbench's allocator tunables."""
    inherited = liveness.worker_environment()
    return {k: v for k, v in inherited.items() if not k.startswith("PYTEST_XDIST_")}


def worker_command(job_path: pathlib.Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        suite_folder(),
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "-p",  # the plan's order: pytest-randomly, where a user has it, would shuffle it
        "no:randomly",
        "--benchmark-only",
        # pytest-benchmark's own storage goes with the run's scratch folder: it left an empty
        # .benchmarks/ in the user's folder
        f"--benchmark-storage=file://{job_path.parent / 'pytest-benchmark'}",
        "--benchmark-disable-gc",
        "--benchmark-columns=median,iqr,rounds",
        "--tb=short",
        "-rfE",
        f"--bankbench-job={job_path}",
    ]


def failure_text(output: str) -> str:
    """What a failed worker printed that says why: pytest's failure summary and the error
    lines before it (a MemoryError, a compiler error), else the output's tail."""
    lines = output.rstrip().splitlines()
    wanted = [
        line
        for line in lines
        if line.startswith(("E ", "FAILED ", "ERROR ")) or "Error" in line.split(":", 1)[0]
    ]
    return "\n".join((wanted or lines)[-FAILURE_LINES_MAX:])


def _run_worker(
    job: dict, folder: pathlib.Path, progress: Progress, worker_mode: modes.Worker
) -> None:
    """One worker process (under Valgrind in instruction mode: ``worker_mode``): its
    progress events drawn as they come, its output kept aside and shown if it fails."""
    read_end, write_end = os.pipe()
    job = {**job, "progress_fd": write_end}
    job_path = folder / f"job-{job['process']}.json"
    job_path.write_text(json.dumps(job, indent=1))
    log_path = folder / f"worker-{job['process']}.log"
    with open(log_path, "w+") as log:
        worker = subprocess.Popen(  # the worker dies with this process (liveness)
            [*worker_mode.prefix, *worker_command(job_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_end,),
            preexec_fn=liveness.worker_start(),
            env={**worker_environment(), **worker_mode.environment},
        )
        os.close(write_end)
        with os.fdopen(read_end) as events:
            pending = ""
            while True:
                ready, _, _ = select.select([events], [], [], 0.5)
                if not ready:
                    progress.draw()  # the elapsed time moves while a benchmark runs
                    continue
                chunk = os.read(events.fileno(), 65536).decode()
                if not chunk:
                    break
                pending += chunk
                *complete, pending = pending.split("\n")
                for line in complete:
                    event = json.loads(line)
                    if event["event"] == "start":
                        progress.start(event["benchmark"])
                    else:
                        progress.finish(event["benchmark"])
        code = worker.wait()
        if code in (0, 5):
            return
        progress.close()
        if code == 2:  # interrupted inside the worker
            raise KeyboardInterrupt
        log.seek(0)
        explanation = "\n".join(
            filter(None, (failure_text(log.read()), modes.failure_detail(worker_mode)))
        )
        if explanation:
            print(explanation, file=sys.stderr)
        raise BankbenchError(worker_failure(job["process"], code, bool(explanation)))


def worker_failure(process: int, code: int, output_shown: bool) -> str:
    """Why worker ``process`` stopped with status ``code`` (negative: the signal that killed
    it), pointing at its output only if it printed any."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "an unknown signal"
        why = {"SIGKILL": ": out of memory, or killed by hand"}.get(name, "")
        what = f"was killed by signal {-code} ({name}{why})"
    else:
        what = f"failed (pytest exit {code})"
    where = "its output is above" if output_shown else "it printed nothing"
    return (
        f"benchmarks in worker process {process} {what}: {where}; "
        f"rerun `pytest {suite_folder()} -x` to debug"
    )


def _cases_of(plan: Plan) -> list:
    return plan.cases()


def _check_stored(store, run_id: str, expected: list[str]) -> None:
    """Every benchmark of the plan is in the store: none silently lost."""
    names = set(store.samples([run_id]).column("benchmark").to_pylist())
    missing = [name for name in expected if name not in names]
    if missing:
        raise BankbenchError(
            f"{len(missing)} benchmark(s) of the plan were not stored, e.g. {missing[0]}: "
            "the run is incomplete; rerun it"
        )


def _restore(handlers: dict) -> None:
    """Puts back the signal handlers a run replaced (number → the handler before it)."""
    for number, handler in handlers.items():
        signal.signal(number, handler)


def run(
    plan: Plan,
    *,
    store_location: str,
    probes: dict | None = None,
) -> str:
    from bench import fingerprint, host_activity, limits
    from bench.records import RunRecord
    from bench.store import Store, new_run_id

    store = Store(store_location)
    limits.check(plan)
    cases = _cases_of(plan)
    if not cases:
        raise BankbenchError(
            "the selection has no benchmark (no engine of these workloads was chosen); "
            "see `bankbench list` for each workload's engines"
        )
    facts = fingerprint.collect()
    build = facts.pop("build")
    activity_before = host_activity.reading()  # before the probes and benchmarks
    facts["host_activity"] = host_activity.during(activity_before, None)
    plan.mode.check_available(facts.get("emulation_reason") if facts["emulated"] else None)
    if facts["emulated"]:
        print(
            f"WARNING: {facts['emulation_reason']}: "
            "this run checks correctness; its timings are invalid",
            file=sys.stderr,
        )
    facts["allocator"] = (
        "Valgrind's own (instruction counts do not depend on it)"
        if plan.measure == modes.INSTRUCTIONS
        else allocator.policy(inherited_environment())
    )
    from workloads import _native  # the core: the pool's policy is its build's

    facts["pool"] = _native.pool_policy()
    where = placement() if plan.pin else None
    facts["placement_policy"] = fingerprint.placement_policy(
        list(plan.threads), numa_nodes(), where["cpus"] if where else None
    )
    record = RunRecord.start(
        new_run_id(),
        plan.label,
        facts,
        profile=plan.profile,
        build=build,
        git_commit=_git_commit(),
        seed=plan.seed,
        plan=plan.to_dict(),
        placement=where,
    )
    stops: list[int] = []  # the signals that asked this run to stop

    def on_stop(signum, frame):  # SIGTERM or Ctrl-C: stop, keep what finished
        stops.append(signum)
        raise Stopped(signum)

    # Ctrl-C only where it is not ignored (a job started with it ignored, as nohup does, keeps
    # ignoring it); SIGTERM always.
    asked = [signal.SIGTERM] + [signal.SIGINT] * (signal.getsignal(signal.SIGINT) != signal.SIG_IGN)
    previous = {number: signal.signal(number, on_stop) for number in asked}
    try:  # stopped while probing: nothing is stored yet, and the CLI says it was interrupted
        if probes is None and plan.measure == modes.INSTRUCTIONS:
            probes = {}  # the machine's limits explain times; counts are the code's
        if probes is None:
            from bench import probes as measure

            print(
                "probing memory bandwidth, random updates, 2-thread compute and call cost...",
                file=sys.stderr,
            )
            probes = measure.run("full" if plan.profile in ("standard", "full") else "small")
        record.probes = probes
        store.write_run(record)
    except BaseException:
        _restore(previous)
        raise
    print(
        f"run {record.run_id} ({text.terminal(record.label, text.LABEL_WIDTH)}): "
        f"{text.terminal(plan.banner())}, {len(cases)} benchmarks → "
        f"{text.terminal(store_location)}",
        file=sys.stderr,
    )
    for line in modes.skipped_lines(plan):
        print(line, file=sys.stderr)
    status = "complete"

    progress = Progress(len(cases) * plan.processes)
    job = {
        "plan": plan.to_dict(),
        "store": store_location,
        "run_id": record.run_id,
        "placement": where["cpus"] if where else None,
    }
    try:
        liveness.remove_abandoned_scratch(tempfile.gettempdir())  # of killed runs
        with tempfile.TemporaryDirectory(prefix=liveness.scratch_prefix()) as folder:
            worker_mode = plan.mode.prepare(pathlib.Path(folder))
            if worker_mode.note:
                print(worker_mode.note, file=sys.stderr)
            for process in range(plan.processes):
                _run_worker(
                    {**job, "process": process}, pathlib.Path(folder), progress, worker_mode
                )
        _check_stored(store, record.run_id, [c.name(plan.scale) for c in cases])
        if stops:  # its KeyboardInterrupt was lost: raised inside a finaliser, Python prints it
            raise Stopped(stops[0])
    except BaseException as error:
        status = "incomplete"
        if isinstance(error, KeyboardInterrupt):  # the CLI names the run it leaves
            error.run_id = record.run_id  # type: ignore[attr-defined]
        raise
    finally:
        progress.close()
        _restore(previous)
        record.status = status
        record.finished_at = datetime.datetime.now(datetime.timezone.utc)
        record.fingerprint = {
            **facts,
            "host_activity": host_activity.during(activity_before, host_activity.reading()),
        }
        store.write_run(record)
    return record.run_id
