"""__NAME__, a bankbench workload plugin: found by bankbench through the entry point
``__PREFIX__`` in group ``bankbench.workloads`` (pyproject.toml)."""

from __PACKAGE__.workload import __CLASS__

WORKLOADS = (__CLASS__(),)
