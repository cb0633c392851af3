"""``bankbench compare``: is the candidate faster than the baseline, by how much, how sure?

One module per job: ``comparison`` (the KEY of a benchmark and the result types),
``contract`` (what is comparable: runs, and each benchmark's workload source and version),
``times`` (the statistics of times), ``regression`` (the gate), ``formats`` (rendering of
times), ``counts`` and ``counts_formats`` (runs measured by counting instructions or
hardware counters). The CLI glue and its one exit-status map: bench/commands/compare.py.
"""

from bench.compare.comparison import ALPHA, KEY, NOISY_CV, THREADS_AT, Comparison, Row
from bench.compare.contract import (
    HARDWARE_FIELDS,
    SOFTWARE_FIELDS,
    SOURCE_CHANGED,
    VERSION_CHANGED,
    NotComparableError,
    contract,
    difference,
    output_parity,
    ran_emulated,
)
from bench.compare.regression import (
    NOISY_HOST_CHANGE,
    Gate,
    gate,
    noisy_calibration,
    regressions,
    unfinished_gate,
)
from bench.compare.times import (
    BOOTSTRAP_RESAMPLES,
    compare,
    cores_per_socket,
    family_of,
    family_points,
    per_socket_rate,
    samples_needed,
    smallest_p,
    timed_under_valgrind,
)

__all__ = [
    "ALPHA",
    "BOOTSTRAP_RESAMPLES",
    "HARDWARE_FIELDS",
    "KEY",
    "NOISY_CV",
    "NOISY_HOST_CHANGE",
    "SOFTWARE_FIELDS",
    "SOURCE_CHANGED",
    "THREADS_AT",
    "VERSION_CHANGED",
    "Comparison",
    "Gate",
    "NotComparableError",
    "Row",
    "compare",
    "contract",
    "cores_per_socket",
    "difference",
    "family_of",
    "family_points",
    "gate",
    "noisy_calibration",
    "output_parity",
    "per_socket_rate",
    "ran_emulated",
    "regressions",
    "samples_needed",
    "smallest_p",
    "timed_under_valgrind",
    "unfinished_gate",
]
