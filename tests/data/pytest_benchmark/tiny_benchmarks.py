"""The source of the pytest-benchmark import fixtures beside it (tests/test_import.py), made with

    pytest -p no:cacheprovider tiny_benchmarks.py --benchmark-max-time=0.0002 \
        --benchmark-min-rounds=5 --benchmark-disable-gc \
        --benchmark-json=pytest-benchmark-v5-data.json
    (and --benchmark-save=nodata, without --benchmark-save-data, for the v5 file without raw data)
"""

import pytest


@pytest.mark.parametrize("n", [100, 1000])
def test_sum(benchmark, n):
    benchmark.extra_info["n"] = n
    benchmark(sum, range(n))


def test_sorted_pedantic(benchmark):
    benchmark.pedantic(sorted, args=(list(range(50, 0, -1)),), rounds=4, iterations=10)
