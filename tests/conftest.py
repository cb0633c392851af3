import datetime
import json
import pathlib

import pytest

DATA = pathlib.Path(__file__).resolve().parent / "data"

SEEDS = (1, 7, 2026)  # parity seeds, other than the golden 42
THREADS = (1, 2, 3, 4, 16)


@pytest.fixture
def data_dir() -> pathlib.Path:
    return DATA


def write_run(store, run_id: str, rows: list[dict], fingerprint: dict | None = None) -> dict:
    """A complete run row with ``rows`` as its samples, written to ``store`` the way a run
    writes them (the samples of each benchmark in one file)."""
    fingerprint = fingerprint or {"arch": "x86_64", "hostname": "h", "python": "3.11.2"}
    record = {
        "run_id": run_id,
        "status": "complete",
        "profile": "standard",
        "label": run_id,
        "cpu_model": "test cpu",
        "emulated": False,
        "fingerprint_json": json.dumps({"logical_cpus": 2, **fingerprint}),
        "build_json": json.dumps({"label": "portable", "source_sha256": "abc"}),
        "started_at": datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc),
        "finished_at": None,
        "command_line": "test",
        "bankbench_version": "0",
        "git_commit": "0123abc",
        "probes_json": "{}",
    }
    store.write_run(record)
    for name in sorted({r["benchmark"] for r in rows}):
        store.write_samples(record, name, [r for r in rows if r["benchmark"] == name])
    return record


@pytest.fixture
def stored_run():
    """``write_run``, for tests that build a store by hand."""
    return write_run


@pytest.fixture(scope="session")
def host_emulated() -> bool:
    """Whether this host runs the suite under emulation (qemu-user): timings from it are
    refused, so tests that compare timings check the refusal instead."""
    from bench import fingerprint

    return fingerprint.host_emulation() is not None


# The tests `tox -e slow` runs and the README's `tox` (= `tox -e py`) leaves out, so that the
# README's test command runs every unit, parity, known-answer and CLI test in a few minutes:
# the one place that assigns the `slow` marker, by module or test id (a prefix of the node id
# as pytest prints it), with why each takes long.
SLOW = {
    "tests/test_fuzz.py": "Hypothesis fuzzing of every C entry point (tox -e fuzz runs it long)",
    "tests/test_audit.py": "compiles the core's sources again per proof (char, long double, "
    "contraction, both architectures)",
    "tests/test_instructions.py": "runs workers under Valgrind's callgrind",
    "tests/test_instructions_gate.py": "installs two commits, each into its own venv",
    "tests/test_s3_store.py": "starts moto's S3 server",
    "tests/test_scorecardpy_oracle.py": "the scorecardpy oracle (tox -e scorecardpy)",
    "tests/test_new_workload.py::test_the_must_show_sequence_in_a_clean_venv": "installs the "
    "checkout and its dependencies into a clean venv (about 1-2 minutes here)",
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: a long test (tests/conftest.py SLOW); `tox -e slow` runs them"
    )


def _mark_slow(items) -> None:
    for item in items:
        if any(item.nodeid.startswith(prefix) for prefix in SLOW):
            item.add_marker(pytest.mark.slow)


def pytest_collection_modifyitems(config, items):
    """The `slow` marker (SLOW above). Under emulation every instruction costs tens of times
    more: property tests run a quarter of their examples there (at least 10), so the whole
    suite fits in CI's time. The x86-64 and real Arm runs keep the full counts."""
    _mark_slow(items)
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
