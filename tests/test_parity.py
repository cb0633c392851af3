"""Every engine, at several thread counts and on seeds other than the golden one, gives the
reference's digest (python-zstandard style: one suite over every backend)."""

import pytest
from conftest import SEEDS, THREADS  # tests/ is on sys.path (no __init__.py), not the project

from workloads import registry
from workloads.errors import InputError

NAMES = registry.names()


@pytest.fixture(scope="module")
def reference():
    cache = {}

    def get(name, seed):
        if (name, seed) not in cache:
            w = registry.get(name)
            inputs = w.generate(scale=0.004, seed=seed)
            outputs = w.run(inputs, engine="python")
            w.check(inputs, outputs)
            cache[name, seed] = inputs, w.digest(outputs)
        return cache[name, seed]

    return get


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", SEEDS)
def test_every_engine_and_thread_count_matches_the_reference(name, seed, reference):
    w = registry.get(name)
    inputs, expected = reference(name, seed)
    for engine in w.engines:
        if engine == "python":
            continue
        for threads in THREADS:
            outputs = w.run(inputs, engine=engine, threads=threads)
            w.check(inputs, outputs)
            assert w.digest(outputs) == expected, (engine, threads)


@pytest.mark.parametrize("seed", SEEDS)
def test_online_decisions_match_batch(seed, reference):
    w = registry.get("loan.decide")
    inputs, expected = reference("loan.decide", seed)
    for engine in w.engines:
        session = w.online(inputs, engine)
        for row in range(session.size):
            session.decide(row)
        assert w.digest(session.outputs()) == expected, engine


@pytest.mark.parametrize("batch_size", [1, 7, 64])
@pytest.mark.parametrize("seed", SEEDS)
def test_online_micro_batches_match_batch(seed, batch_size, reference):
    """The capacity path: rows in micro-batches of batch_size, one C request each."""
    w = registry.get("loan.decide")
    inputs, expected = reference("loan.decide", seed)
    session = w.online(inputs, "c")
    for first in range(0, session.size, batch_size):
        session.decide_many(first, min(first + batch_size, session.size))
    assert w.digest(session.outputs()) == expected


def test_micro_batch_outside_the_table_is_refused(reference):
    w = registry.get("loan.decide")
    inputs, _ = reference("loan.decide", SEEDS[0])
    session = w.online(inputs, "c")
    with pytest.raises(InputError, match="outside"):
        session.decide_many(0, session.size + 1)


def test_generation_is_deterministic_and_seeded():
    w = registry.get("loan.fraud")
    a, b, c = (w.generate(scale=0.002, seed=s) for s in (5, 5, 6))
    assert a["events"].equals(b["events"])
    assert not a["events"].equals(c["events"])


@pytest.mark.parametrize("name", NAMES)
def test_golden_digest_on_the_c_engine(name):
    from workloads import golden

    entry = golden.load()[name]
    w = registry.get(name)
    assert entry["version"] == w.version
    inputs = w.generate(scale=entry["scale"], seed=entry["seed"])
    assert w.units(inputs) == entry["units"]
    assert w.digest(w.run(inputs, engine="c", threads=2)) == entry["digest"]


def test_golden_digest_on_the_micro_batch_path():
    """bb_decide_many (the capacity path) at the golden point gives the golden digest."""
    from workloads import golden

    entry = golden.load()["loan.decide"]
    w = registry.get("loan.decide")
    session = w.online(w.generate(scale=entry["scale"], seed=entry["seed"]), "c")
    for first in range(0, session.size, 16):
        session.decide_many(first, min(first + 16, session.size))
    assert w.digest(session.outputs()) == entry["digest"]
