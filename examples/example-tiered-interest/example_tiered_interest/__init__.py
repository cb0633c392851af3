"""example.tiered_interest, a bankbench workload plugin: found by bankbench through the entry point
``example`` in group ``bankbench.workloads`` (pyproject.toml)."""

from example_tiered_interest.workload import ExampleTieredInterest

WORKLOADS = (ExampleTieredInterest(),)
