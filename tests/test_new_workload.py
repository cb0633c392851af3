"""``bankbench new-workload``: the scaffold installs and passes verify, a smoke run and its own
tests with no edit. End to end in a temporary venv: it sees this checkout's environment (a
.pth running site.addsitedir on it, so the editable bankbench and its packages load) and
installs only the scaffold, with ``pip install --no-build-isolation -e`` (the build helper,
native.plugin_build, lives in that environment). Timed: each step's seconds are printed."""

from __future__ import annotations

import json
import pathlib
import shutil
import site
import subprocess
import time
import venv

import pytest

import native
from bench.commands import new_workload
from bench.commands._exit import EXIT_NOT_COMPARABLE

# a plugin is built with the core's own flags and label, and left out when they differ: the
# sanitizer build of the core (-O1 -fsanitize, its own label) is such a difference by design
pytestmark = pytest.mark.skipif(
    native.is_sanitizer_build(), reason="the core is the sanitizer build (-O1 -fsanitize)"
)

ROOT = pathlib.Path(__file__).resolve().parents[1]


def plugin_venv(environment: pathlib.Path) -> pathlib.Path:
    """A venv that sees this environment (bankbench, editable, and its packages) and takes
    plugin packages of its own; its python."""
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    ours = [p for p in site.getsitepackages() if pathlib.Path(p).is_dir()]
    pathlib.Path(purelib, "bankbench-environment.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in ours)
    )
    return python


def test_the_example_plugin_installs_from_its_folder_and_verifies(tmp_path):
    """examples/example-tiered-interest, as CI would take it: installed from a copy of its
    folder (the checkout is not written), verify at 1 and 2 threads, its own tests."""
    example = tmp_path / "example"
    shutil.copytree(ROOT / "examples" / "example-tiered-interest", example)
    python = plugin_venv(tmp_path / "venv")
    install = [python, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps"]
    outputs = []
    for command, cwd in (
        ([*install, "-e", example], tmp_path),
        ([python, "-m", "bench.cli", "verify", "-w", "example.*", "-t", "1,2"], tmp_path),
        ([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], example),
    ):
        done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        outputs.append(done.stdout)
    assert "3 of 3 OK" in outputs[1] and "4 passed" in outputs[2], outputs


def test_a_name_without_a_prefix_or_with_a_built_in_prefix_is_refused(tmp_path):
    from workloads.errors import InputError

    with pytest.raises(InputError, match="its prefix first"):
        new_workload.write("accrual", tmp_path)
    with pytest.raises(InputError, match="bankbench's own"):
        new_workload.write("loan.accrual", tmp_path)
    new_workload.write("acme.accrual", tmp_path)
    with pytest.raises(InputError, match="exists already"):
        new_workload.write("acme.accrual", tmp_path)


def test_the_scaffold_installs_and_passes_verify_a_smoke_run_and_its_tests(tmp_path):
    steps: dict[str, float] = {}

    def step(name: str, command: list[str], cwd: pathlib.Path = tmp_path) -> str:
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=900)
        steps[name] = round(time.perf_counter() - started, 1)
        assert done.returncode == 0, f"{name}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        return done.stdout

    python = plugin_venv(tmp_path / "venv")
    bankbench = [str(python), "-m", "bench.cli"]
    step("new-workload", [*bankbench, "new-workload", "acme.accrual", "--dir", str(tmp_path)])
    package = tmp_path / "acme-accrual"
    step(
        "pip install -e",
        [python, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "-e", package],
    )
    listed = json.loads(step("list", [*bankbench, "list", "--json"]))
    assert "acme.accrual" in [w["workload"] for w in listed] and len(listed) == 9
    verified = step("verify", [*bankbench, "verify", "-w", "acme.*", "-t", "1,2"])
    assert "3 of 3 OK" in verified, verified
    ran = step(
        "run smoke",
        [*bankbench, "run", "-w", "acme.*", "-p", "smoke", "--store", tmp_path / "results",
         "--label", "first"],
    )  # fmt: skip
    assert "acme.accrual[c-1t-" in ran and "acme.accrual[python-1t-" in ran, ran
    step("its tests", [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], package)
    # the same plugin with other C: its runs are never compared on speed
    kernel = package / "acme_accrual" / "kernel.c"
    kernel.write_text(kernel.read_text().replace("return __", "return /* changed */ __", 1))
    kernel.write_text(kernel.read_text() + "/* another program */\n")
    step(
        "rebuild",
        [python, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "-e", package],
    )
    step(
        "run changed",
        [*bankbench, "run", "-w", "acme.*", "-p", "smoke", "--store", tmp_path / "results",
         "--label", "changed"],
    )  # fmt: skip
    compared = subprocess.run(
        [*bankbench, "compare", "first", "changed", "--store", tmp_path / "results"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert compared.returncode == EXIT_NOT_COMPARABLE, compared.stdout + compared.stderr
    assert "source changed" in compared.stdout + compared.stderr, compared.stdout
    print("seconds per step:", steps)
