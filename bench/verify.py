"""``bankbench verify``: every workload at its golden point, on every engine and thread count,
must give the golden digest and pass its invariants. This is what proves that an Arm server
computes exactly what an x86 server computes."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bench import text
from workloads import _native, golden, registry
from workloads._base import ONLINE
from workloads.errors import BankbenchError


@dataclass
class Row:
    workload: str
    engine: str
    threads: int
    digest: str
    expected: str
    verdict: str  # OK | MISMATCH | INVARIANT | NO GOLDEN | ERROR | CRASHED
    detail: str = ""  # why, in one line, where the verdict alone does not say
    # the threads its parallel calls ran on (threads_worth: fewer where the work at the golden
    # scale is too small to split); None where not counted (online, errors)
    threads_used: int | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == "OK"

    @property
    def ran_on_fewer(self) -> bool:
        """Its calls ran on fewer threads than the check asked for."""
        return self.threads_used is not None and self.threads_used < self.threads


def _checks(workload, engines: list[str] | None, threads: list[int], online: bool):
    """(engine, threads, online) of each check of one workload: the batch path of each
    engine, and the online path of each engine its ONLINE benchmark declares."""
    online_engines = {
        engine
        for declared in workload.benchmarks
        if declared.kind == ONLINE
        for engine in declared.engines or workload.engines
    }
    for engine in engines or workload.engines:
        if engine not in workload.engines:
            continue
        for t in threads if engine != "python" else [1]:  # the reference runs on one thread
            yield engine, t, False
        if online and engine in online_engines:
            yield engine, 1, True


def count(
    names: list[str] | None, engines: list[str] | None, threads: list[int], online: bool = True
) -> int:
    return sum(len(list(_checks(w, engines, threads, online))) for w in registry.select(names))


def rows(
    names: list[str] | None,
    engines: list[str] | None,
    threads: list[int],
    online: bool = True,
    seed: int | None = None,
    on_start: Callable[[str], None] | None = None,
) -> Iterator[Row]:
    """Each check's verdict. At the golden seed (``seed`` None) against the golden digests;
    at another seed, against the Python reference's digest at that seed. A plugin's checks
    run in a child process: its C may crash, and the built-ins are still verified."""
    for workload in registry.select(names):
        origin = registry.plugin_origin(workload.name)
        if origin:
            yield from _plugin_rows(workload.name, origin, engines, threads, online, seed, on_start)
        else:
            started = (lambda label, engine, t: on_start(label)) if on_start else None
            yield from _workload_rows(workload, engines, threads, online, seed, started)


def _workload_rows(workload, engines, threads, online, seed, started, caught=BankbenchError):
    """One workload's checks, here; ``started(label, engine, threads)`` before each. An
    operating error (``caught``: any exception, for a plugin's code) fails its check with the
    error's line; the next checks still run."""
    try:
        inputs, expected = _golden_inputs(workload, seed)
    except caught as error:
        yield _failed(workload.name, "generate", 1, error)
        return
    for engine, t, is_online in _checks(workload, engines, threads, online):
        label = f"{engine}-online" if is_online else engine
        if started:
            started(f"{workload.name}[{label}-{t}t]", label, t)
        try:
            if is_online:
                session = workload.online(inputs, engine)
                for row in range(session.size):
                    session.decide(row)
                outputs = session.outputs()
                used = None
            else:
                with _native.threads_counted() as counted:
                    outputs = workload.run(inputs, engine=engine, threads=t)
                used = counted.threads_used(t)
            yield dataclasses.replace(
                _judge(workload, inputs, outputs, label, t, expected), threads_used=used
            )
        except caught as error:
            yield _failed(workload.name, label, t, error)


def _golden_inputs(workload, seed: int | None):
    """The inputs at the golden point (or at ``seed``) and the digest they must give."""
    entry = golden.entry(workload)  # None: no golden for this version of the workload
    scale = entry["scale"] if entry else golden.CANONICAL_SCALE
    if seed is None:
        inputs = workload.generate(
            scale=scale, seed=entry["seed"] if entry else golden.CANONICAL_SEED
        )
        return inputs, entry["digest"] if entry else ""
    inputs = workload.generate(scale=scale, seed=seed)
    return inputs, workload.digest(workload.run(inputs, engine="python", threads=1))


def _failed(name: str, engine: str, threads: int, error: BaseException) -> Row:
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if not isinstance(error, BankbenchError):  # a plugin's own bug: say what it raised
        message = f"{type(error).__name__}: {message}"
    if not message.startswith(name):
        message = f"{name}: {message}"
    return Row(name, engine, threads, "", "", "ERROR", message)


def _plugin_rows(name, origin, engines, threads, online, seed, on_start) -> Iterator[Row]:
    """A plugin's checks in a child process (spawned: a fresh interpreter, not a copy of this
    one and its worker pool), row by row through a pipe. A crash (a segfault in its C) ends
    the child, not verify: the check it was in fails, naming the plugin and the signal."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child, args=(sender, name, engines, threads, online, seed), daemon=True
    )
    child.start()
    sender.close()  # the child's end: its exit is then the end of the pipe here
    current = ("generate", 1)
    try:
        while True:
            try:
                kind, value = receiver.recv()
            except EOFError:
                break
            if kind == "start":
                current = value[1:]
                if on_start:
                    on_start(value[0])
            else:
                yield Row(**value)
    finally:
        receiver.close()
        child.join()
    if child.exitcode:
        yield Row(name, *current, "", "", "CRASHED", _crash_line(name, origin, child.exitcode))


def _crash_line(name: str, origin: str, exitcode: int) -> str:
    if exitcode < 0:
        how = f"was killed by {text.signal_name(-exitcode)}"
    else:
        how = f"exited with status {exitcode}"
    return (
        f"{name}: the plugin's process {how} (workload plugin {origin}); its own code, most "
        "likely its C, is at fault: run its tests under a debugger, or rebuild it with "
        "BANKBENCH_EXTRA_CFLAGS='-fsanitize=address,undefined' and pip install -e its folder"
    )


def _child(sender, name, engines, threads, online, seed) -> None:
    """The child's side of _plugin_rows: the registry again (its broken plugins were already
    named by the parent), this one workload's checks, each row sent as it is judged."""
    import warnings

    warnings.simplefilter("ignore", registry.PluginWarning)
    with sender:
        try:
            workload = registry.get(name)
        except BankbenchError as error:
            sender.send(("row", _failed(name, "generate", 1, error).__dict__))
            return

        def started(label: str, engine: str, threads: int) -> None:
            sender.send(("start", (label, engine, threads)))

        for row in _workload_rows(workload, engines, threads, online, seed, started, Exception):
            sender.send(("row", row.__dict__))


def _judge(workload, inputs, outputs, engine: str, threads: int, expected: str) -> Row:
    digest = workload.digest(outputs)
    try:
        workload.check(inputs, outputs)
    except AssertionError as error:
        return Row(workload.name, engine, threads, digest, expected, "INVARIANT", str(error))
    if not expected:
        return Row(workload.name, engine, threads, digest, expected, "NO GOLDEN")
    return Row(
        workload.name, engine, threads, digest, expected, "OK" if digest == expected else "MISMATCH"
    )
