import pathlib

import pytest

DATA = pathlib.Path(__file__).resolve().parent / "data"

SEEDS = (1, 7, 2026)  # parity seeds, other than the golden 42
THREADS = (1, 2, 3)


@pytest.fixture
def data_dir() -> pathlib.Path:
    return DATA


@pytest.fixture(scope="session")
def host_emulated() -> bool:
    """Whether this host runs the suite under emulation (qemu-user): timings from it are
    refused, so tests that compare timings check the refusal instead."""
    from bench import fingerprint

    return fingerprint.host_emulation() is not None
