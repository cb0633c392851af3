"""The plugin seam (workloads/registry.py): every workload, bankbench's own and a bank's, comes
in through the entry-point group ``bankbench.workloads``. Fake plugin distributions are a
``*.dist-info`` folder (METADATA + entry_points.txt) and a module in a temporary folder put on
sys.path, exactly what ``pip install`` leaves; each hostile one is one warning line naming it
and its entry point, and the built-in workloads still run."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import warnings

import pytest

from workloads import registry
from workloads.errors import PluginError

BUILT_IN = [
    "ledger.eod", "ledger.post", "ledger.smallbank",
    "loan.decide", "loan.fraud", "loan.limit", "loan.schedule", "loan.score",
]  # fmt: skip

# one module holds every fake plugin's objects; the entry points pick one each
PLUGIN_MODULE = """\
# no docstring: bankbench list reads a plugin module's first line where there is one
import pathlib

import pyarrow as pa

from workloads import Workload
from workloads import _tables

AMOUNTS = {"amount_fen": pa.int64()}


class Good(Workload):
    name = "acme.double"
    unit = "amounts"
    engines = ("python",)
    input_schemas = {"amounts": AMOUNTS}
    output_schemas = {"amounts": AMOUNTS}

    def _generate(self, scale, seed):
        return {"amounts": _tables.from_rows([(seed % 1000,), (7,)], AMOUNTS)}

    def _run_python(self, inputs, threads):
        rows = [(2 * a,) for a in inputs["amounts"].column("amount_fen").to_pylist()]
        return {"amounts": _tables.from_rows(rows, AMOUNTS)}

    def _check(self, inputs, outputs):
        assert all(a % 2 == 0 for a in outputs["amounts"].column("amount_fen").to_pylist())

    def _units(self, inputs):
        return inputs["amounts"].num_rows


class NoRun:  # generate and friends, but not a Workload and no run()
    name = "norun.x"

    def generate(self, scale, seed):
        return {}


class NoC(Good):  # says it has a C engine, brings no _run_c
    name = "noc.double"
    engines = ("c", "python")


class WrongSchema(Good):
    name = "schema.double"
    output_schemas = {"amounts": {"amount_fen": "int64"}}  # a string, not a pyarrow type


class Collides(Good):
    name = "loan.score"


class OutsidePrefix(Good):
    name = "elsewhere.double"


class UnknownStatus(Good):  # its kernel returns a code its header does not name
    name = "status.double"

    def _run_python(self, inputs, threads):
        self.check_status(77, {0: "OK", 1: "OVERFLOW"}, "status_double_kernel")


class Crashes(Good):  # its "C" dereferences address 0: a segfault
    name = "crashes.double"

    def _run_python(self, inputs, threads):
        import ctypes

        ctypes.string_at(0)


class LongName(Good):
    name = "long." + "x" * 120


class ExitsAtLoad(Good):  # sys.exit(0) as it loads: must not end bankbench with exit 0
    def __init__(self):
        raise SystemExit(0)


class HostileUnit(Good):  # its unit is its author's text: an ANSI colour and a bidi override
    name = "unit.double"
    unit = "\x1b[31mred\u202eevil"


class Wide(Good):  # longer than verify's 16 columns for a name
    name = "wide.double_with_a_longer_name"


class Differs(Good):  # its second engine computes something else
    name = "differs.double"
    engines = ("python", "numpy")
    golden_path = pathlib.Path(__file__).resolve().parent / "differs_golden.json"

    def _run_numpy(self, inputs, threads):
        rows = [(4 * a,) for a in inputs["amounts"].column("amount_fen").to_pylist()]
        return {"amounts": _tables.from_rows(rows, AMOUNTS)}
"""

LONGER = "wide.double_with_a_longer_name"
ENTRY_POINTS = {
    "acme": "fake_plugins:Good",
    "missing": "no_such_module_anywhere:WORKLOADS",
    "norun": "fake_plugins:NoRun",
    "noc": "fake_plugins:NoC",
    "schema": "fake_plugins:WrongSchema",
    "loan": "fake_plugins:Collides",
    "outside": "fake_plugins:OutsidePrefix",
    "differs": "fake_plugins:Differs",
    "status": "fake_plugins:UnknownStatus",
    "crashes": "fake_plugins:Crashes",
    "long": "fake_plugins:LongName",
    "exits": "fake_plugins:ExitsAtLoad",
    "unit": "fake_plugins:HostileUnit",
    "wide": "fake_plugins:Wide",
}
LOADED = [
    "acme.double", "crashes.double", "differs.double", "status.double", "unit.double", LONGER,
]  # fmt: skip


def install_fake_distribution(
    folder: pathlib.Path, name: str, entry_points: dict[str, str], module: str = PLUGIN_MODULE
) -> pathlib.Path:
    """What pip leaves for a distribution: its module and a dist-info folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fake_plugins.py").write_text(module)
    info = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = [f"{point} = {target}" for point, target in entry_points.items()]
    (info / "entry_points.txt").write_text("[bankbench.workloads]\n" + "\n".join(lines) + "\n")
    return folder


@pytest.fixture
def fresh_registry(monkeypatch):
    """The registry as a new process finds it; the loaded one again afterwards."""
    registry.names()  # the built-ins loaded, so what is restored is the usual state
    monkeypatch.setattr(registry, "_WORKLOADS", {})
    monkeypatch.setattr(registry, "_loaded", False)
    yield registry


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    folder = install_fake_distribution(tmp_path / "site", "acme-plugins", ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    sys.modules.pop("fake_plugins", None)


def test_the_built_in_workloads_come_in_through_the_entry_point_group(fresh_registry):
    points = {
        p.name: p for p in registry.entry_points() if registry._distribution(p) == "bankbench"
    }
    assert sorted(points) == ["ledger", "loan"]
    assert points["loan"].value == "workloads.loan:WORKLOADS"
    assert registry.names() == BUILT_IN


def test_stale_install_metadata_is_one_line_with_the_fix(fresh_registry, monkeypatch):
    monkeypatch.setattr(registry.importlib.metadata, "entry_points", lambda group: [])
    with pytest.raises(PluginError, match=r"reinstall: pip install -e \."):
        registry.names()


def test_each_hostile_plugin_is_one_warning_naming_it_and_the_rest_load(
    fresh_registry, fake_plugins
):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = registry.names()
    assert names == sorted([*BUILT_IN, *LOADED])
    assert registry.get("loan.score").__module__ != "fake_plugins"  # the built-in kept its name
    lines = sorted(str(w.message) for w in caught if w.category is registry.PluginWarning)
    assert len(lines) == 8, lines
    assert all("\n" not in line and "workload plugin acme-plugins" in line for line in lines)
    expected = {
        "missing": "cannot import it: ModuleNotFoundError: No module named 'no_such_module_",
        "norun": "NoRun is not a workloads.Workload (no run, digest, check, units)",
        "noc": "engine 'c' has no _run_c()",
        "schema": "output_schemas must map table names to {column: pyarrow type}",
        "loan": "workload name 'loan.score' is already taken",
        "outside": "'elsewhere.double' is outside the entry point's prefix 'outside.'",
        "long": "...': its name is 125 characters long; at most 100",
        "exits": "cannot import it: SystemExit: 0",
    }
    for point, reason in expected.items():
        [line] = [line for line in lines if f"entry point '{point} = " in line]
        assert reason in line, line
    # once per process: asking again loads nothing again and warns no more
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        assert registry.names() == names
    assert not again


def test_a_good_plugin_runs_like_a_built_in(fresh_registry, fake_plugins):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", registry.PluginWarning)
        workload = registry.get("acme.double")
    assert [w.name for w in registry.select(["acme.*"])] == ["acme.double"]
    inputs = workload.generate(seed=42)
    outputs = workload.run(inputs, engine="python")
    workload.check(inputs, outputs)
    assert outputs["amounts"].column("amount_fen").to_pylist() == [84, 14]


def test_register_refuses_an_incomplete_workload_and_a_taken_name(fresh_registry):
    from workloads.loan.score import Score

    registry.names()
    with pytest.raises(PluginError, match="already taken by workloads.loan.score.Score"):
        registry.register(Score())

    class Nameless(Score):
        name = "Nameless"

    with pytest.raises(PluginError, match="not a dotted lower-case name"):
        registry.register(Nameless())


def _bankbench(args: list[str], site: pathlib.Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, cwd=site,
        env=env, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> pathlib.Path:
    return install_fake_distribution(
        tmp_path_factory.mktemp("hostile") / "site", "acme-plugins", ENTRY_POINTS
    )


def test_the_cli_lists_and_verifies_the_built_ins_beside_broken_plugins(hostile_site):
    listed = _bankbench(["list"], hostile_site)
    assert listed.returncode == 0, listed.stderr
    assert all(name in listed.stdout for name in [*BUILT_IN, *LOADED])
    warned = [line for line in listed.stderr.splitlines() if "workload plugin" in line]
    assert len(warned) == 8 and len(listed.stderr.splitlines()) == 8, listed.stderr
    # the hostile unit is shown escaped
    assert "\x1b" not in listed.stdout and "\u202e" not in listed.stdout
    assert all(len(line) < 400 for line in warned), warned  # the long name is cut
    prefix = "bankbench: warning: workload plugin acme-plugins (entry point '"
    assert all(line.startswith(prefix) for line in warned)
    verified = _bankbench(["verify", "-w", "loan.limit,acme.double", "-t", "1"], hostile_site)
    assert verified.returncode != 0  # acme.double ships no golden digest: NO GOLDEN
    assert "loan.limit" in verified.stdout and "acme.double" in verified.stdout
    verified = _bankbench(["verify", "-w", "loan.limit", "-t", "1"], hostile_site)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_plugins_source_hash_is_its_own_c_wherever_it_is_installed(tmp_path):
    from workloads.loan.limit import Limit

    def installed_at(folder: pathlib.Path, text: str):
        folder.mkdir()
        (folder / "accrual.c").write_text(text)

        class Plugin(Limit):
            name = "acme.accrual"
            c_sources = (str(folder / "accrual.c"),)

        return Plugin()

    kernel = "int acme_accrue(void) { return 0; }\n"
    here, there = installed_at(tmp_path / "a", kernel), installed_at(tmp_path / "b", kernel)
    assert here.source_sha256() == there.source_sha256()  # two machines, two venvs
    changed = installed_at(tmp_path / "c", kernel + "/* changed */\n")
    assert changed.source_sha256() != here.source_sha256()  # compare: "source changed"


def test_a_plugin_whose_engines_disagree_fails_verify_naming_it(fresh_registry, fake_plugins):
    from bench import verify
    from workloads import golden

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", registry.PluginWarning)
        workload = registry.get("differs.double")
    golden.write_entry(workload)  # the reference's digest, in the plugin's own golden file
    assert (fake_plugins / "differs_golden.json").exists()
    rows = [(r.workload, r.engine, r.verdict) for r in verify.rows(["differs.*"], None, [1])]
    assert rows == [("differs.double", "python", "OK"), ("differs.double", "numpy", "MISMATCH")]


def test_the_cli_fails_verify_naming_a_plugin_whose_engines_disagree_and_checks_the_rest(
    tmp_path,
):
    """Issue 26's hostile plugin whose outputs differ between its engines, through the command
    a user runs: verify exits non-zero on its MISMATCH row, and a built-in beside it is OK."""
    site = install_fake_distribution(tmp_path / "site", "acme-plugins", ENTRY_POINTS)
    written = _bankbench(["verify", "--write-golden", "-w", "differs.double"], site)
    assert written.returncode == 0, written.stdout + written.stderr
    assert (site / "differs_golden.json").exists()
    verified = _bankbench(["verify", "-w", "loan.limit,differs.double", "-t", "1"], site)
    assert verified.returncode != 0, verified.stdout
    rows = [line.split() for line in verified.stdout.splitlines()]
    verdicts = {(row[0], row[1]): row[-1] for row in rows if len(row) == 5}
    assert verdicts[("differs.double", "numpy")] == "MISMATCH", verified.stdout
    assert verdicts[("differs.double", "python")] == "OK", verified.stdout
    assert verdicts[("loan.limit", "c")] == "OK", verified.stdout


def test_a_plugin_whose_c_crashes_or_returns_an_unknown_status_fails_its_row_not_verify(
    hostile_site,
):
    """Issue 26's adversarial check: a kernel status no header names, and a segfault, in two
    plugins verified beside a built-in: each is its own failed row that names the plugin (the
    code, the signal), the built-in is still verified OK, and verify exits non-zero."""
    verified = _bankbench(
        ["verify", "-w", "crashes.double,loan.limit,status.double", "-t", "1"], hostile_site
    )
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert "Traceback" not in verified.stderr, verified.stderr
    rows = [line.split() for line in verified.stdout.splitlines()]
    verdicts = {(row[0], row[1]): row[-1] for row in rows if len(row) >= 4}
    assert verdicts[("loan.limit", "c")] == "OK", verified.stdout
    assert verdicts[("status.double", "python")] == "ERROR", verified.stdout
    assert verdicts[("crashes.double", "python")] == "CRASHED", verified.stdout
    status = (
        "  error: status.double: status_double_kernel returned status 77 "
        "(a code its kernel.h does not name)"
    )
    assert status in verified.stdout.splitlines(), verified.stdout
    [crash] = [line for line in verified.stdout.splitlines() if line.startswith("  crashed:")]
    # under the sanitizer run ASan (preloaded, abort_on_error=1) catches the fault and aborts
    signal = "SIGABRT" if "libasan" in os.environ.get("LD_PRELOAD", "") else "SIGSEGV"
    assert f"crashes.double: the plugin's process was killed by {signal}" in crash, crash
    assert "entry point 'crashes = fake_plugins:Crashes'" in crash, crash
    assert "0 of" not in verified.stdout.splitlines()[-1], verified.stdout


def test_verify_aligns_its_columns_to_the_longest_name(hostile_site):
    verified = _bankbench(["verify", "-w", f"loan.limit,{LONGER}", "-t", "1"], hostile_site)
    table = verified.stdout.splitlines()[:-1]
    assert len(table) == 5 and table[0].startswith("workload "), verified.stdout
    # every row's engine and verdict start in the header's columns
    assert {line.index(line.split()[1], len(line.split()[0])) for line in table} == {
        len(LONGER) + 1
    }, table
    assert {line.index(line.split()[3], len(LONGER) + 20) for line in table} == {
        len(LONGER) + 1 + 14 + 1 + 7 + 2
    }, table  # and the digests (the header's "digest")
