import pathlib

import pytest

DATA = pathlib.Path(__file__).resolve().parent / "data"

SEEDS = (1, 7, 2026)  # parity seeds, other than the golden 42
THREADS = (1, 2, 3, 4, 16)


@pytest.fixture
def data_dir() -> pathlib.Path:
    return DATA


@pytest.fixture(scope="session")
def host_emulated() -> bool:
    """Whether this host runs the suite under emulation (qemu-user): timings from it are
    refused, so tests that compare timings check the refusal instead."""
    from bench import fingerprint

    return fingerprint.host_emulation() is not None


def pytest_collection_modifyitems(config, items):
    """Under emulation every instruction costs tens of times more: property tests run a
    quarter of their examples there (at least 10), so the whole suite fits in CI's time. The
    x86-64 and real Arm runs keep the full counts."""
    from bench import fingerprint

    if fingerprint.host_emulation() is None:
        return
    from hypothesis import settings

    done = set()
    for item in items:
        test = getattr(item, "obj", None)
        test = getattr(test, "__func__", test)  # a test method: its function holds them
        # @settings stores its settings on the test; Hypothesis reads them when the test runs
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if current is None or id(test) in done:
            continue
        done.add(id(test))
        test._hypothesis_internal_use_settings = settings(
            current, max_examples=max(10, current.max_examples // 4)
        )
