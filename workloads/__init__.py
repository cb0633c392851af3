"""What bankbench measures: the loan and ledger workloads, their registry and golden digests.

from workloads import registry
w = registry.get("loan.score")
inputs = w.generate(scale=0.01, seed=42)
outputs = w.run(inputs, engine="c", threads=1)
w.digest(outputs)
"""

from workloads import registry
from workloads._base import BATCH, BATCHING, CAPACITY, ONLINE, Benchmark, Workload
from workloads.errors import BankbenchError, InputError, NativeError, UnknownNameError

__all__ = [
    "registry",
    "Workload",
    "Benchmark",
    "BATCH",
    "BATCHING",
    "CAPACITY",
    "ONLINE",
    "BankbenchError",
    "InputError",
    "NativeError",
    "UnknownNameError",
]
