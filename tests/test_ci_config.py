"""The GitHub Actions workflow and the cibuildwheel configuration are valid and cover both
architectures; every tox environment they name exists; the digest gate's own commands,
taken from the workflow, fail on a tampered store."""

import configparser
import os
import pathlib
import shlex
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def workflow() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())


def test_the_workflow_runs_the_tests_on_x86_64_and_aarch64():
    jobs = workflow()["jobs"]
    matrix = jobs["test"]["strategy"]["matrix"]["include"]
    assert {(m["os"], m["arch"]) for m in matrix} == {
        ("ubuntu-24.04", "x86_64"),
        ("ubuntu-24.04-arm", "aarch64"),
    }
    assert jobs["test"]["runs-on"] == "${{ matrix.os }}"
    steps = " ".join(str(s.get("run", "")) + str(s.get("uses", "")) for s in jobs["test"]["steps"])
    for needed in ("bankbench verify", "--profile smoke", "bankbench audit", "upload-artifact"):
        assert needed in steps, needed


def test_the_digest_job_compares_the_two_architectures_smoke_runs():
    job = workflow()["jobs"]["same-digests"]
    assert job["needs"] == "test"
    script = " ".join(str(s.get("run", "")) for s in job["steps"])
    assert "bankbench compare x86_64-smoke aarch64-smoke" in script


def test_the_x86_job_installs_the_aarch64_cross_compiler():
    steps = workflow()["jobs"]["test"]["steps"]
    cross = [s for s in steps if "gcc-aarch64-linux-gnu" in str(s.get("run", ""))]
    assert len(cross) == 1 and cross[0]["if"] == "matrix.arch == 'x86_64'"
    assert "binutils-aarch64-linux-gnu" in cross[0]["run"]  # the cross objdump
    names = [s.get("name", "") for s in steps]
    assert names.index(cross[0]["name"]) < next(
        i for i, s in enumerate(steps) if "tox" in str(s.get("run", ""))
    ), "the cross compiler must be there before the tests run"


GITHUB_DEFAULT_SHELL = "bash -e {0}"  # a step without `shell:` on Linux runners


def _run_step(step: dict, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    """Run a workflow step's own script the way the runner does: its `run` text in a file,
    through its `shell` (GitHub's default when unset), with $GITHUB_STEP_SUMMARY set."""
    script = cwd / "step.sh"
    script.write_text(step["run"])
    shell = step.get("shell", GITHUB_DEFAULT_SHELL)
    command = [word.replace("{0}", str(script)) for word in shlex.split(shell)]
    env = {
        **os.environ,
        "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_STEP_SUMMARY": str(cwd / "summary.md"),
    }
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def _smoke_run(store: pathlib.Path, label: str, workloads: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", "-p", "smoke", "-w", workloads, "-e", "c",
         "-t", "1", "--label", label, "--store", str(store)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def _rewrite_samples(store: pathlib.Path, change) -> int:
    """Apply ``change`` (an Arrow table in, a table out) to every samples file of a store;
    how many files there were."""
    files = sorted((store / "samples").rglob("*.parquet"))
    for path in files:
        pq.write_table(change(pq.read_table(path)), path)
    return len(files)


def _digests_set_to(value):
    def change(table):
        index = table.schema.get_field_index("digest")
        field = table.schema.field(index)
        return table.set_column(index, field, pa.array([value] * table.num_rows, field.type))

    return change


def _without_workload(workload: str):
    return lambda table: table.filter(pc.field("workload") != workload)


@pytest.fixture(scope="module")
def digest_artifacts(tmp_path_factory) -> pathlib.Path:
    """The two smoke runs the digest job downloads, made once: two workloads each."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    for arch in ("x86_64", "aarch64"):
        _smoke_run(artifacts / f"smoke-{arch}" / "results", f"{arch}-smoke", DIGEST_WORKLOADS)
    return artifacts


DIGEST_WORKLOADS = "loan.limit,ledger.post"


def _digest_step() -> dict:
    job = workflow()["jobs"]["same-digests"]
    return next(s for s in job["steps"] if "bankbench compare" in str(s.get("run", "")))


@pytest.mark.skipif(shutil.which("bash") is None, reason="the step runs in bash")
def test_a_tampered_digest_fails_the_compare_step(tmp_path, host_emulated, digest_artifacts):
    """The digest job's compare step, as written in the workflow: it passes on two runs with
    the same digests and fails (compare's exit 5 kept through the pipe into tee) when one
    store's digests were changed. On an emulated host (the suite under qemu-user) the step
    refuses the two runs' timings instead of passing (exit 4); different outputs still come
    first (exit 5)."""
    step = _digest_step()
    shutil.copytree(digest_artifacts, tmp_path / "artifacts")
    same = _run_step(step, tmp_path)
    assert same.returncode == (4 if host_emulated else 0), same.stdout + same.stderr
    assert ("emulated" in same.stdout) is host_emulated, same.stdout
    assert "bankbench compare" in (tmp_path / "summary.md").read_text()  # tee wrote it

    aarch64 = tmp_path / "artifacts" / "smoke-aarch64" / "results"
    assert _rewrite_samples(aarch64, _digests_set_to("0" * 64)) > 0
    tampered = _run_step(step, tmp_path)
    assert tampered.returncode == 5, tampered.stdout + tampered.stderr
    assert "outputs differ" in tampered.stdout.lower()
    # the control: the same step under the runner's default shell (no pipefail) loses the
    # exit code, as the workflow did before — so this test fails on that workflow
    lost = _run_step({**step, "shell": GITHUB_DEFAULT_SHELL}, tmp_path)
    assert lost.returncode == 0 and "outputs differ" in lost.stdout.lower()


@pytest.mark.skipif(shutil.which("bash") is None, reason="the step runs in bash")
@pytest.mark.parametrize(
    "change, finding",
    [
        (_digests_set_to(None), "): no digest on the candidate"),
        (_digests_set_to(""), "): no digest on the candidate"),
        (_without_workload("ledger.post"), "ledger.post (scale"),
        (_without_workload("nothing such"), None),  # the control: untouched, so it passes
    ],
    ids=["null digests", "empty digests", "a workload missing", "unchanged"],
)  # fmt: skip
def test_the_compare_step_fails_when_it_could_not_compare_every_output(
    tmp_path, host_emulated, digest_artifacts, change, finding
):
    """A gate that compared nothing must not pass: digests emptied on the aarch64 side, or a
    workload it did not run, fail the step (exit 5) and name the output, as a changed digest
    does; before --require-same-outputs the step passed on all three."""
    shutil.copytree(digest_artifacts, tmp_path / "artifacts")
    _rewrite_samples(tmp_path / "artifacts" / "smoke-aarch64" / "results", change)
    result = _run_step(_digest_step(), tmp_path)
    if finding is None:
        assert result.returncode == (4 if host_emulated else 0), result.stdout + result.stderr
    else:
        assert result.returncode == 5, result.stdout + result.stderr
        shown = result.stdout.replace("\\", "")  # Markdown's escapes
        assert finding in shown and "outputs differ" in shown.lower(), result.stdout
        if "ledger" in finding:
            assert "not run on the candidate" in shown and "loan.limit" not in shown, shown


def test_every_tox_environment_the_workflow_names_exists():
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    defined = {"py"} | {s.split(":", 1)[1] for s in tox.sections() if s.startswith("testenv:")}
    used = {
        env
        for step in workflow()["jobs"]["test"]["steps"]
        for line in str(step.get("run", "")).splitlines()
        if "tox -e" in line
        for env in line.split("tox -e", 1)[1].split()[0].split(",")
    }
    assert used and used <= defined, used - defined


def test_cibuildwheel_builds_manylinux_wheels_for_both_architectures():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]
    assert "manylinux" in config["build"] and "musllinux" in config["skip"]
    assert config["archs"] == ["auto64"]
    wheels = workflow()["jobs"]["wheels"]
    assert set(wheels["strategy"]["matrix"]["os"]) == {"ubuntu-24.04", "ubuntu-24.04-arm"}
    assert any("cibuildwheel" in str(s.get("uses", "")) for s in wheels["steps"])
