"""The GitHub Actions workflow and the cibuildwheel configuration are valid and cover both
architectures; every tox environment they name exists."""

import configparser
import pathlib
import sys

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
