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


def test_a_negative_balance_is_refused(workload):
    import pyarrow as pa

    inputs = {
        "accounts": pa.table({"balance_fen": [-1], "rate_ppm": [1]}).cast(
            pa.schema([("balance_fen", pa.int64()), ("rate_ppm", pa.int64())])
        )
    }
    with pytest.raises(InputError, match="balance_fen"):
        workload.run(inputs, engine="c")
