"""``bankbench verify``: every workload at its golden point, on every engine and thread count,
must give the golden digest and pass its invariants. This is what proves that an Arm server
computes exactly what an x86 server computes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from workloads import golden, registry


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


def rows(
    names: list[str] | None, engines: list[str] | None, threads: list[int], online: bool = True
) -> Iterator[Row]:
    goldens = golden.load()
    for workload in registry.select(names):
        entry = goldens.get(workload.name)
        seed = entry["seed"] if entry else golden.CANONICAL_SEED
        scale = entry["scale"] if entry else golden.CANONICAL_SCALE
        expected = entry["digest"] if entry and entry["version"] == workload.version else ""
        inputs = workload.generate(scale=scale, seed=seed)
        for engine in engines or workload.engines:
            if engine not in workload.engines:
                continue
            for t in threads if engine != "python" else [1]:  # the reference runs on one thread
                outputs = workload.run(inputs, engine=engine, threads=t)
                yield _judge(workload, inputs, outputs, engine, t, expected)
            if online and hasattr(workload, "online"):
                session = workload.online(inputs, engine)
                for row in range(session.size):
                    session.decide(row)
                yield _judge(workload, inputs, session.outputs(), f"{engine}-online", 1, expected)


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
