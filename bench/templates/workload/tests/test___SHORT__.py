"""__NAME__: every engine gives the golden digest and passes check();
a bad input is refused."""

import pytest

from workloads import InputError, golden, registry


@pytest.fixture(scope="module")
def workload():
    return registry.get("__NAME__")


@pytest.mark.parametrize("engine", ["c", "python"])
def test_every_engine_gives_the_golden_digest(workload, engine):
    entry = golden.entry(workload)
    assert entry is not None, "no golden: bankbench verify --write-golden -w " + workload.name
    inputs = workload.generate(scale=entry["scale"], seed=entry["seed"])
    outputs = workload.run(inputs, engine=engine)
    workload.check(inputs, outputs)
    assert workload.digest(outputs) == entry["digest"]


@pytest.mark.parametrize("threads", [2, 4, 16])
def test_any_thread_count_gives_the_one_thread_answer(workload, threads):
    """The C on the worker pool, at a size worth several threads: any split, one answer."""
    from workloads import _native

    inputs = workload.generate(scale=1.0, seed=42)
    one = workload.digest(workload.run(inputs, engine="c", threads=1))
    with _native.threads_counted() as used:
        outputs = workload.run(inputs, engine="c", threads=threads)
    assert max(used) > 1, "split over more than one thread"
    assert workload.digest(outputs) == one


def test_a_negative_balance_is_refused(workload):
    import pyarrow as pa

    inputs = {
        "accounts": pa.table({"balance_fen": [-1], "rate_ppm": [1]}).cast(
            pa.schema([("balance_fen", pa.int64()), ("rate_ppm", pa.int64())])
        )
    }
    with pytest.raises(InputError, match="balance_fen"):
        workload.run(inputs, engine="c")
