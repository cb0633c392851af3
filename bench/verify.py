"""``bankbench verify``: every workload at its golden point, on every engine and thread count,
must give the golden digest and pass its invariants. This is what proves that an Arm server
computes exactly what an x86 server computes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from workloads import golden, registry
from workloads._base import ONLINE


@dataclass
class Row:
    workload: str
    engine: str
    threads: int
    digest: str
    expected: str
    verdict: str  # OK | MISMATCH | INVARIANT | NO GOLDEN

    @property
    def ok(self) -> bool:
        return self.verdict == "OK"


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
    at another seed, against the Python reference's digest at that seed."""
    for workload in registry.select(names):
        entry = golden.entry(workload)  # None: no golden for this version of the workload
        scale = entry["scale"] if entry else golden.CANONICAL_SCALE
        if seed is None:
            inputs = workload.generate(
                scale=scale, seed=entry["seed"] if entry else golden.CANONICAL_SEED
            )
            expected = entry["digest"] if entry else ""
        else:
            inputs = workload.generate(scale=scale, seed=seed)
            expected = workload.digest(workload.run(inputs, engine="python", threads=1))
        for engine, t, is_online in _checks(workload, engines, threads, online):
            if on_start:
                on_start(f"{workload.name}[{engine}{'-online' if is_online else ''}-{t}t]")
            if is_online:
                session = workload.online(inputs, engine)
                for row in range(session.size):
                    session.decide(row)
                yield _judge(workload, inputs, session.outputs(), f"{engine}-online", 1, expected)
            else:
                outputs = workload.run(inputs, engine=engine, threads=t)
                yield _judge(workload, inputs, outputs, engine, t, expected)


def _judge(workload, inputs, outputs, engine: str, threads: int, expected: str) -> Row:
    digest = workload.digest(outputs)
    try:
        workload.check(inputs, outputs)
    except AssertionError:
        return Row(workload.name, engine, threads, digest, expected, "INVARIANT")
    if not expected:
        return Row(workload.name, engine, threads, digest, expected, "NO GOLDEN")
    return Row(
        workload.name, engine, threads, digest, expected, "OK" if digest == expected else "MISMATCH"
    )
