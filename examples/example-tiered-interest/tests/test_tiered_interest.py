"""example.tiered_interest: every engine gives the golden digest and passes check();
a bad input is refused."""

import pyarrow as pa
import pytest

from workloads import InputError, golden, registry


@pytest.fixture(scope="module")
def workload():
    return registry.get("example.tiered_interest")


@pytest.mark.parametrize("engine", ["c", "python"])
def test_every_engine_gives_the_golden_digest(workload, engine):
    entry = golden.entry(workload)
    assert entry is not None, "no golden: bankbench verify --write-golden -w " + workload.name
    inputs = workload.generate(scale=entry["scale"], seed=entry["seed"])
    outputs = workload.run(inputs, engine=engine)
    workload.check(inputs, outputs)
    assert workload.digest(outputs) == entry["digest"]


def test_a_negative_balance_is_refused(workload):
    inputs = workload.generate()
    inputs["accounts"] = inputs["accounts"].set_column(
        0, "balance_fen", pa.array([-1] * inputs["accounts"].num_rows, pa.int64())
    )
    with pytest.raises(InputError, match="balance_fen"):
        workload.run(inputs, engine="c")


def test_known_answers(workload):
    """By hand: 100 000 RMB = 10^7 fen: 5*10^6 at 0.35 % + 5*10^6 at 1.5 %."""
    inputs = workload.generate()
    balances = [0, 10**7, 5_000_000, 10**12 - 1]
    inputs["accounts"] = pa.table({"balance_fen": pa.array(balances, pa.int64())})
    interest = workload.run(inputs, engine="c")["interest"].column("interest_fen").to_pylist()
    first = 5_000_000 * 3_500
    expected = [0, (first + 5_000_000 * 15_000) // 365_000_000, first // 365_000_000]
    assert interest[:3] == expected == [0, 253, 47]
    assert (
        interest
        == workload.run(inputs, engine="python")["interest"].column("interest_fen").to_pylist()
    )
