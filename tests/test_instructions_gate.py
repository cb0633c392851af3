"""The CI instruction gate (.ci/instructions-gate, the workflow's "instructions" job), run
here on two commits of a temporary copy of this project: a head whose loan.limit kernel does
~2 % more work per application fails it (exit 3) naming loan.limit only, while loan.schedule,
unchanged, counts the same. Slow (two installs and two runs under Valgrind): the C engine,
1 thread, two workloads."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
GATE = ROOT / ".ci" / "instructions-gate"
RUN_ARGS = "--profile smoke -w loan.limit,loan.schedule -t 1"

# test-only extra work in the kernel of loan.limit, compiled only with -DBB_TEST_EXTRA_WORK:
# BANKBENCH_TEST_EXTRA_WORK per mille loop iterations per application (~4 instructions each)
EXTRA_WORK = """
#ifdef BB_TEST_EXTRA_WORK
#include <stdlib.h>
static volatile uint64_t bb_test_sink;
static void bb_test_extra_work(int64_t rows)
{
    const char *text = getenv("BANKBENCH_TEST_EXTRA_WORK");
    int64_t per_mille = text ? atoll(text) : 0;
    for (int64_t k = 0; k < rows * per_mille / 1000; k++) bb_test_sink += (uint64_t)k;
}
#endif
"""
EXTRA_PER_MILLE = "850"  # ≈ 2 % of loan.limit's ~187 instructions per application


def project_copy(folder: pathlib.Path) -> pathlib.Path:
    """This project's files as they are now (tracked and new, not ignored) in a new git
    repository with one commit, "base"."""
    git_init(folder)
    copy_project_files(folder)
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "base")
    return folder


def copy_project_files(folder: pathlib.Path) -> None:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)


def git_init(folder: pathlib.Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    git(folder, "init", "-q")


def git(folder: pathlib.Path, *args: str) -> str:
    identity = ["-c", "user.name=bankbench test", "-c", "user.email=test@example.invalid"]
    return subprocess.run(
        ["git", *identity, "-C", str(folder), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def slower_limit_kernel(repo: pathlib.Path) -> None:
    path = repo / "native" / "src" / "limit.c"
    source = path.read_text()
    head, marker, tail = source.partition("int32_t bb_limit(const bb_limit_params *params")
    assert marker, "loan.limit's entry point moved: update this test"
    body, end, rest = tail.partition("    return BB_OK;\n}")
    assert end
    patched = (
        head
        + EXTRA_WORK
        + marker
        + body
        + "#ifdef BB_TEST_EXTRA_WORK\n    bb_test_extra_work(end - begin);\n#endif\n"
        + end
        + rest
    )
    path.write_text(patched)


def run_gate(repo: pathlib.Path, out: pathlib.Path) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "BANKBENCH_GATE_RUN_ARGS": RUN_ARGS,
        "BANKBENCH_EXTRA_CFLAGS": "-DBB_TEST_EXTRA_WORK",
        "BANKBENCH_TEST_EXTRA_WORK": EXTRA_PER_MILLE,
    }
    return subprocess.run(
        ["bash", str(repo / ".ci" / "instructions-gate"), "HEAD~1", "HEAD", str(out), "1"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=3600,
    )


pytestmark = [
    pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind is not installed"),
    pytest.mark.skipif(
        "libasan" in os.environ.get("LD_PRELOAD", ""),
        reason="the sanitizer run preloads ASan into every process, and Valgrind cannot host it",
    ),
    pytest.mark.skipif(not shutil.which("git"), reason="git is not installed"),
]


def test_gate_fails_on_two_percent_more_work_in_one_kernel(tmp_path):
    repo = project_copy(tmp_path / "repo")
    slower_limit_kernel(repo)
    git(repo, "commit", "-q", "-am", "head: loan.limit does more work")
    result = run_gate(repo, tmp_path / "gate")
    assert result.returncode == 3, result.stdout + result.stderr[-3000:]
    summary = (tmp_path / "gate" / "summary.md").read_text()
    assert summary == result.stdout  # stdout is the summary alone (for the step summary)
    regression = next(line for line in summary.splitlines() if "REGRESSION" in line)
    assert "loan.limit" in regression and "loan.schedule" not in regression
    change = float(regression.rsplit("(+", 1)[1].split(" %")[0])
    assert 1 < change < 4, regression  # ~2 %
    # the workload whose code did not change counts the same in both commits
    unchanged = next(line for line in summary.splitlines() if line.startswith("| loan.schedule"))
    cells = [cell.strip() for cell in unchanged.strip("|").split("|")]
    assert cells[-1] == "same work" and abs(float(cells[3].removesuffix(" %"))) < 0.1


OLD_BANKBENCH = {
    # a stand-in for a commit from before instruction mode: a bankbench whose run command
    # knows only wall-clock time
    "pyproject.toml": '[project]\nname = "bankbench"\nversion = "0.0.1"\n'
    '[project.scripts]\nbankbench = "old_bankbench:main"\n'
    '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n',
    "old_bankbench.py": "def main():\n    print('usage: bankbench run [--profile P]')\n",
}


def test_gate_that_compared_nothing_does_not_pass(tmp_path):
    """A base commit that cannot count instructions leaves nothing to gate: exit 4 (not
    comparable) with the reason, never 0."""
    repo = tmp_path / "repo"
    git_init(repo)
    for name, text in OLD_BANKBENCH.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "old: no instruction mode")
    git(repo, "rm", "-q", *OLD_BANKBENCH)
    copy_project_files(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "head: this project")
    result = run_gate(repo, tmp_path / "gate")
    assert result.returncode == 4, result.stdout + result.stderr[-3000:]
    assert result.stdout.startswith("NOT COMPARABLE: the base commit")
    assert "predates" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["HEAD", "HEAD"], "expected 3 or 4 arguments, got 2"),
        (["HEAD", "HEAD", "OUT", "1", "extra"], "expected 3 or 4 arguments, got 5"),
        (["no-such-ref", "HEAD", "OUT"], "'no-such-ref' names no commit"),
        (["HEAD", "no-such-ref", "OUT", "1"], "'no-such-ref' names no commit"),
        (["HEAD", "HEAD", "OUT", "nan"], "THRESHOLD_PCT must be a number above 0"),
        (["HEAD", "HEAD", "OUT", "inf"], "THRESHOLD_PCT must be a number above 0"),
        (["HEAD", "HEAD", "OUT", "1e309"], "THRESHOLD_PCT must be a number above 0"),
        (["HEAD", "HEAD", "OUT", "abc"], "THRESHOLD_PCT must be a number above 0"),
        (["HEAD", "HEAD", "OUT", "-1"], "THRESHOLD_PCT must be a number above 0"),
        (["HEAD", "HEAD", "OUT", "0"], "THRESHOLD_PCT must be a number above 0"),
    ],
)
def test_bad_gate_arguments_exit_2_with_the_reason_before_anything_is_installed(
    tmp_path, arguments, reason
):
    """Each argument is checked first: a typo must not cost two installs and two runs (an
    unknown ref exited 128 with git's message, a threshold of nan only failed in compare,
    extra arguments were ignored)."""
    out = tmp_path / "gate"
    arguments = [str(out) if a == "OUT" else a for a in arguments]
    result = subprocess.run(
        ["bash", str(GATE), *arguments], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    why, usage = result.stderr.splitlines()
    assert reason in why
    assert usage.startswith("usage: ") and "BASE HEAD OUT [THRESHOLD_PCT]" in usage
    assert not out.exists()  # nothing exported, installed or run


def test_the_workflow_runs_this_gate_on_both_architectures_with_pipefail():
    """The job's commands are the script the tests above run; here: that the workflow calls
    it on x86-64 and Arm, keeps its exit status through tee, and uploads the results."""
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    job = workflow["jobs"]["instructions"]
    assert {m["os"] for m in job["strategy"]["matrix"]["include"]} == {
        "ubuntu-24.04",
        "ubuntu-24.04-arm",
    }
    gate = next(s for s in job["steps"] if ".ci/instructions-gate" in s.get("run", ""))
    assert "pipefail" in gate["shell"] and "GITHUB_STEP_SUMMARY" in gate["run"]
    assert "base.sha" in gate["run"] and "head.sha" in gate["run"] and " 1 |" in gate["run"]
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()" and "gate/results" in upload["with"]["path"]
    assert any("valgrind" in s.get("run", "") for s in job["steps"])
