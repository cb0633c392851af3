"""``bankbench new-workload``: the scaffold installs and passes verify, a smoke run and its own
tests with no edit. End to end in a temporary venv: it sees this checkout's environment (a
.pth running site.addsitedir on it, so the editable bankbench and its packages load) and
installs only the scaffold, with a plain ``pip install -e`` as the guide says (pip's isolated
build fetches setuptools and cffi; under emulation, in CI's aarch64 root, which has no package
index, ``--no-build-isolation`` with the root's own; the scaffold's copy of the build helper
builds it either way). Issue 26's Must-show, a plain ``pip install -e`` in a clean venv with
bankbench installed from the checkout, is the slow test at the end. Timed: each step's
seconds are printed."""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import site
import subprocess
import time
import venv

import pytest

import native
from bench import fingerprint
from bench.commands import new_workload
from bench.commands._exit import EXIT_NOT_COMPARABLE
from workloads.errors import InputError

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


def pip_install(python: pathlib.Path) -> list:
    """pip install of a plugin's folder into the venv of ``python``, as the guide says (its
    dependencies are this environment's already)."""
    offline = ["--no-build-isolation"] if fingerprint.host_emulation() is not None else []
    return [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *offline,
            "--no-deps"]  # fmt: skip


def test_the_example_plugin_installs_from_its_folder_and_verifies(tmp_path):
    """examples/example-tiered-interest, as CI would take it: installed from a copy of its
    folder (the checkout is not written), verify at 1 and 2 threads, its own tests."""
    example = tmp_path / "example"
    shutil.copytree(ROOT / "examples" / "example-tiered-interest", example)
    python = plugin_venv(tmp_path / "venv")
    install = pip_install(python)
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


def test_the_example_builds_as_a_scaffold_does():
    """The example carries this bankbench's build helper, byte for byte, and the scaffold's
    build script and manifest: it builds with a plain pip install -e from its folder."""
    from native import plugin_build

    example = ROOT / "examples" / "example-tiered-interest"
    helper = pathlib.Path(plugin_build.__file__).parent
    for name in new_workload.BUILD_HELPER_FILES:
        copy = example / new_workload.BUILD_HELPER_FOLDER / name
        assert copy.read_bytes() == (helper / name).read_bytes(), (
            f"{copy} is not this bankbench's: "
            "bankbench new-workload --refresh-build-helper examples/example-tiered-interest"
        )
    values = new_workload.substitutions("example.tiered_interest")
    for name in ("build_core.py", "MANIFEST.in", "pyproject.toml", "setup.py"):
        scaffold = new_workload._fill((new_workload.TEMPLATE / name).read_text(), values)
        assert (example / name).read_text() == scaffold, name


def test_a_name_without_a_prefix_or_with_a_built_in_prefix_is_refused(tmp_path):
    with pytest.raises(InputError, match="its prefix first"):
        new_workload.write("accrual", tmp_path)
    with pytest.raises(InputError, match="bankbench's own"):
        new_workload.write("loan.accrual", tmp_path)
    # not acme.accrual, the guide's example: a reader who followed it has that one installed
    new_workload.write("zztest.accrual", tmp_path)
    with pytest.raises(InputError, match="exists already"):
        new_workload.write("zztest.accrual", tmp_path)


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
        [*pip_install(python), "-e", package],
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
    assert all(f"acme.accrual[{case}-" in ran for case in ("c-1t", "c-2t", "python-1t")), ran
    step("its tests", [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], package)
    # the same plugin with other C: its runs are never compared on speed
    kernel = package / "acme_accrual" / "kernel.c"
    kernel.write_text(kernel.read_text().replace("return __", "return /* changed */ __", 1))
    kernel.write_text(kernel.read_text() + "/* another program */\n")
    step(
        "rebuild",
        [*pip_install(python), "-e", package],
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


def test_the_scaffold_carries_the_build_helper_and_a_refresh_copies_it_again(tmp_path, capsys):
    """The scaffold builds without bankbench in the build environment: its build script imports
    only its copy of the helper, byte for byte this bankbench's, which a refresh restores."""
    from native import plugin_build

    package = new_workload.write("acme.accrual", tmp_path)
    helper = pathlib.Path(plugin_build.__file__).parent
    build_script = (package / "build_core.py").read_text()
    assert "from plugin_build import plugin_ffibuilder" in build_script
    assert "import native" not in build_script and "from native" not in build_script
    for name in new_workload.BUILD_HELPER_FILES:
        assert (package / "bankbench_build" / name).read_bytes() == (helper / name).read_bytes()
    copied_flags = package / "bankbench_build" / "_flags.py"
    copied_flags.write_text(copied_flags.read_text().replace('"-O2",', '"-O3",'))
    parser = argparse.ArgumentParser()
    new_workload.add_arguments(parser)
    assert new_workload.main(parser.parse_args(["--refresh-build-helper", str(package)])) == 0
    assert copied_flags.read_bytes() == (helper / "_flags.py").read_bytes()
    assert f"next: pip install -e {package}" in capsys.readouterr().out
    with pytest.raises(InputError, match="no build_core.py"):
        new_workload.copy_build_helper(tmp_path)


def _checkout_copy(target: pathlib.Path) -> pathlib.Path:
    """This checkout's sources, without its builds, venvs and results: what a user installs."""
    ignored = shutil.ignore_patterns(
        ".git", ".venv", "venv*", ".tox", "build", "dist", "*.egg-info", "results", "*.so",
        "__pycache__", ".hypothesis", ".pytest_cache", ".benchmarks", ".mypy_cache",
        ".ruff_cache", "_bankcore.c",
    )  # fmt: skip
    shutil.copytree(ROOT, target, ignore=ignored)
    return target


@pytest.mark.skipif(
    not (ROOT / "pyproject.toml").is_file(), reason="no checkout here (an installed package)"
)
@pytest.mark.skipif(
    fingerprint.host_emulation() is not None,
    reason="emulated: installing the checkout and its dependencies takes an hour here",
)
def test_the_must_show_sequence_in_a_clean_venv(tmp_path):
    """Issue 26's Must-show, as a bank's engineer types it: a clean venv, the checkout installed
    (bankbench is on no package index), the scaffold, a plain ``pip install -e`` (pip's isolated
    build: setuptools and cffi from the index, the build helper from the scaffold's copy),
    verify of everything, two smoke runs of the plugin and their report."""
    steps: dict[str, float] = {}
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
        "PATH": f"{environment / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }

    def step(name: str, command: list) -> str:
        started = time.perf_counter()
        done = subprocess.run(
            command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=1800
        )
        steps[name] = round(time.perf_counter() - started, 1)
        assert done.returncode == 0, f"{name}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        return done.stdout

    checkout = _checkout_copy(tmp_path / "checkout")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    step("pip install <checkout>", [*pip, checkout])
    step("bankbench new-workload", ["bankbench", "new-workload", "acme.accrual"])
    step("pip install -e ./acme-accrual", [*pip, "-e", "./acme-accrual"])
    verified = step("bankbench verify", ["bankbench", "verify"])
    assert re.search(r"^acme\.accrual +c +1 +\w+ +OK$", verified, re.M), verified
    assert re.search(r"^(\d+) of \1 OK", verified, re.M), verified
    for label in ("a", "b"):  # a report compares two runs: here the one against the other
        ran = step(
            f"bankbench run ({label})",
            ["bankbench", "run", "-w", "acme.*", "-p", "smoke", "--label", label],
        )
        assert all(f"acme.accrual[{case}-" in ran for case in ("c-1t", "c-2t", "python-1t")), ran
    step("bankbench report", ["bankbench", "report", "a", "b", "-o", "report"])
    html = (tmp_path / "report" / "report.html").read_text()
    assert re.search(r"<td[^>]*>acme\.accrual\[c-1t-", html), "no row of the plugin in the HTML"
    assert (tmp_path / "report" / "report.pdf").stat().st_size > 0
    # a plugin-only report names no built-in: its capacity section says nothing was measured
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "No capacity benchmark was measured in these runs." in markdown
    assert "loan.decide" not in markdown
    print("seconds per step:", steps)


def test_two_names_that_are_one_package_are_refused_naming_the_first(tmp_path):
    """acme.x.y and acme.x_y are both the package acme_x_y (one folder, one distribution)."""
    new_workload.write("acme.x.y", tmp_path)
    with pytest.raises(InputError, match=r"holds the workload 'acme\.x\.y', whose package is "):
        new_workload.write("acme.x_y", tmp_path)
    with pytest.raises(InputError, match="exists already"):
        new_workload.write("acme.x.y", tmp_path)


def test_a_refresh_of_a_folder_that_is_not_there_says_so(tmp_path):
    with pytest.raises(InputError, match=r"nonexistent is not a folder; give the folder of the "):
        new_workload.copy_build_helper(tmp_path / "nonexistent")


def test_a_name_over_100_characters_is_refused_in_one_line(tmp_path):
    with pytest.raises(InputError, match="is 105 characters long; at most 100") as refused:
        new_workload.write("acme." + "x" * 100, tmp_path)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 200
