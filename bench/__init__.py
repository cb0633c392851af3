"""The bankbench harness: the ``bankbench`` command, verification and (soon) runs, results
store, statistics and compare."""

__version__ = "0.1.0"
