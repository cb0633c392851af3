"""The bankbench command: list, verify, --version, and one-line errors."""

import json
import subprocess
import sys

from bench import cli


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True
    )


def test_version_and_help():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("bankbench ")
    assert "examples:" in run_cli("--help").stdout


def test_list_shows_every_workload(capsys):
    assert cli.main(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {w["workload"] for w in listed} >= {
        "loan.score",
        "loan.fraud",
        "loan.limit",
        "loan.schedule",
        "loan.decide",
    }
    assert cli.main(["list"]) == 0
    assert "applications" in capsys.readouterr().out


def test_verify_passes_and_reports_json(capsys):
    assert cli.main(["verify", "-w", "loan.s*", "-t", "1,2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["workload"] for r in rows} == {"loan.score", "loan.schedule"}
    assert all(r["verdict"] == "OK" for r in rows) and len(rows) == 2 * (1 + 2 + 2)


def test_verify_says_which_checks_ran_on_fewer_threads_than_asked(capsys):
    """At the golden scale a call may split no further than 1 thread (threads_worth): verify's
    "16 threads OK" would otherwise claim a split that never ran."""
    from bench.commands import verify as verify_command

    assert cli.main(["verify", "-w", "loan.limit,ledger.post", "-e", "c", "-t", "1,16"]) == 0
    out = capsys.readouterr().out
    lines = {tuple(line.split()[:3]): line for line in out.splitlines() if " OK" in line}
    assert lines[("loan.limit", "c", "16")].endswith("OK (ran on 1 thread)")
    assert lines[("loan.limit", "c", "1")].endswith("OK")  # as asked: nothing added
    assert verify_command.RAN_ON_FEWER in out
    assert cli.main(["verify", "-w", "loan.limit", "-e", "c", "-t", "1,16", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["threads"], r["threads_used"]) for r in rows] == [(1, 1), (16, 1)]


def test_verify_fails_on_a_changed_golden(monkeypatch, capsys):
    from workloads import golden

    real = golden.load()
    changed = {k: dict(v) for k, v in real.items()}
    changed["loan.limit"]["digest"] = "0" * 64
    monkeypatch.setattr(golden, "load", lambda *a: changed)
    assert cli.main(["verify", "-w", "loan.limit", "-e", "c", "-t", "1"]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "NOT identical" in out


def test_errors_are_one_line_with_the_valid_names():
    result = run_cli("verify", "-w", "loan.nope")
    assert result.returncode == 2
    assert (
        result.stderr.count("\n") == 1
        and "loan.score" in result.stderr
        and "Traceback" not in result.stderr
    )
    result = run_cli("verify", "-e", "fortran")
    assert result.returncode == 2 and "valid: c, numpy, python" in result.stderr
    result = run_cli("verify", "-t", "0")
    assert result.returncode == 2 and "thread counts" in result.stderr


def test_verify_at_another_seed_checks_against_the_reference(capsys):
    assert cli.main(["verify", "-w", "loan.limit", "-t", "1,3", "--seed", "7", "--json"]) == 0
    at_seven = json.loads(capsys.readouterr().out)
    assert cli.main(["verify", "-w", "loan.limit", "-t", "1", "--json"]) == 0
    golden = json.loads(capsys.readouterr().out)
    assert all(r["verdict"] == "OK" for r in at_seven) and len(at_seven) == 1 + 2 + 2
    assert {r["digest"] for r in at_seven} != {r["digest"] for r in golden}
    assert len({r["digest"] for r in at_seven}) == 1


def test_argument_errors_are_one_line_with_the_help_to_see():
    for args, command in (
        (("run", "--profile", "nope"), "bankbench run"),
        (("show",), "bankbench show"),
        (("nonsense",), "bankbench"),
    ):
        result = run_cli(*args)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and "usage:" not in result.stderr, result.stderr
        assert result.stderr.startswith("bankbench: error: ")
        assert result.stderr.rstrip().endswith(f"; see `{command} --help`")


def test_an_empty_selection_is_refused_not_read_as_everything(tmp_path):
    """`-w "$WORKLOADS"` with the variable unset ran all 45 smoke benchmarks, exit 0."""
    for command in (
        ("run", "-p", "smoke", "-w", "", "--store", str(tmp_path / "store")),
        ("verify", "-w", ","),
        ("run", "-p", "smoke", "-e", " , ", "--store", str(tmp_path / "store")),
    ):
        result = run_cli(*command)
        assert result.returncode == 2, command
        assert "names nothing" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "store").exists()


def test_allow_names_only_differences_compare_knows(tmp_path):
    """A misspelt --allow name was ignored: the difference it meant was still refused."""
    result = run_cli("compare", "a", "b", "--allow", "compiler,nosuch", "--store", str(tmp_path))
    assert result.returncode == 2
    assert "nosuch: not a difference compare can allow" in result.stderr
    assert "compiler" in result.stderr.split("choose from", 1)[1]


def test_report_needs_a_folder(tmp_path):
    """`-o ''` wrote report.* and charts/ into the current folder."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.cli", "report", "a", "b", "-o", ""],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "give the report a folder" in result.stderr
    assert list(tmp_path.iterdir()) == []
