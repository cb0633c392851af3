import pathlib

import pytest

DATA = pathlib.Path(__file__).resolve().parent / "data"

SEEDS = (1, 7, 2026)  # parity seeds, other than the golden 42
THREADS = (1, 2, 3)


@pytest.fixture
def data_dir() -> pathlib.Path:
    return DATA
