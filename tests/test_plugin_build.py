"""A plugin's C built by native.plugin_build: the core's pinned flags (one definition,
native/_flags.py), its build record in the extension and in every run's build record, and a
plugin built otherwise than the core (-march=native, a tuned label) left out with one line.

The plugin (``acme.sum``, the total of a column of amounts) is a package in a temporary folder
with a dist-info folder naming its entry point, as ``pip install`` leaves it; its extension is
compiled in a subprocess by the helper, as its setup.py's ``cffi_modules`` would."""

from __future__ import annotations

import os
import pathlib
import platform
import subprocess
import sys
import warnings

import pytest
from test_toy_workload import TOY_C, TOY_MODULE

import native
from native import _flags
from workloads import registry

# a plugin is built with the core's own flags and label, and left out when they differ: the
# sanitizer build of the core (-O1 -fsanitize, its own label) is such a difference by design
pytestmark = pytest.mark.skipif(
    native.is_sanitizer_build(), reason="the core is the sanitizer build (-O1 -fsanitize)"
)

# test_toy_workload's toy (the total of a column of amounts) as a plugin package with its
# own extension, built by the helper
SUM_C = TOY_C.replace("toy_sum", "acme_sum")
CDEF = "int32_t acme_sum(const int64_t *amount_fen, int64_t n, int64_t *total_fen);"
PACKAGE = (
    TOY_MODULE.replace("registry.register(ToySum())\n", "")
    .replace(
        'golden_path = HERE / "toy_golden.json"',
        'golden_path = HERE / "golden.json"\n    c_module = "acme_sum._core"',
    )
    .replace("from toy_core import", "from acme_sum._core import")
    .replace("toy_sum", "acme_sum")
    .replace("toy.", "acme.")
    .replace("ToySum", "Sum")
)

BUILD = """
import sys
from native.plugin_build import plugin_ffibuilder
ffibuilder = plugin_ffibuilder("acme_sum._core", cdef=sys.argv[1], sources=["acme_sum/acme_sum.c"])
ffibuilder.compile(tmpdir=".")
"""


# a build script that adds a flag after the helper chose them: the record still says portable.
# A named CPU, not "native": gcc under qemu-user reads the emulator's /proc/cpuinfo
ADDED_TUNING = _flags.tune_flags(
    "tsv110" if platform.machine() == "aarch64" else "haswell", platform.machine()
)
ADDS_AFTER_THE_HELPER = BUILD.replace(
    "ffibuilder.compile(",
    f'ffibuilder._assigned_source[3]["extra_compile_args"] += {ADDED_TUNING!r}\n'
    "ffibuilder.compile(",
)


def install_plugin(
    site: pathlib.Path,
    environ: dict[str, str] | None = None,
    c_text: str = SUM_C,
    build: str = BUILD,
) -> pathlib.Path:
    """The plugin's package, its extension built by the helper, and its dist-info."""
    package = site / "acme_sum"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PACKAGE)
    (package / "acme_sum.c").write_text(c_text)
    env = {k: v for k, v in os.environ.items() if k not in ("CFLAGS", "BANKBENCH_TUNE")}
    subprocess.run(
        [sys.executable, "-c", build, CDEF], cwd=site, env={**env, **(environ or {})},
        check=True, capture_output=True,
    )  # fmt: skip
    info = site / "acme_sum-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-sum\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[bankbench.workloads]\nacme = acme_sum:Sum\n")
    return site


@pytest.fixture
def fresh_registry(monkeypatch):
    registry.names()
    monkeypatch.setattr(registry, "_WORKLOADS", {})
    monkeypatch.setattr(registry, "_loaded", False)
    yield registry
    sys.modules.pop("acme_sum._core", None)
    sys.modules.pop("acme_sum", None)


def test_the_core_and_the_helper_share_one_flag_list():
    from native import _flags, build, plugin_build

    # build.py loads native/_flags.py by its path (cffi runs it before the package exists)
    assert pathlib.Path(build._flags.__file__) == pathlib.Path(_flags.__file__)
    assert build.PORTABLE_CFLAGS == _flags.PORTABLE_CFLAGS and plugin_build._flags is _flags
    native = pathlib.Path(_flags.__file__).parent
    defining = [p.name for p in native.glob("*.py") if '"-ffp-contract=off",' in p.read_text()]
    assert defining == ["_flags.py"]


def test_a_plugin_built_by_the_helper_carries_the_cores_flags_and_its_own_source_hash(
    fresh_registry, tmp_path, monkeypatch
):
    import native
    from bench import fingerprint, verify
    from native import _flags, plugin_build
    from workloads import golden

    site = install_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    with warnings.catch_warnings():
        warnings.simplefilter("error", registry.PluginWarning)  # it loads: no warning
        workload = registry.get("acme.sum")
    record = workload.build_record()
    core = native.build_info()
    assert record["label"] == core["label"] == "portable"
    # the one definition of the flags (native/_flags.py; native/build.py, the core's build
    # script, reads it too, and is not in an installed package)
    assert record["flags"].split()[: len(_flags.PORTABLE_CFLAGS)] == list(_flags.PORTABLE_CFLAGS)
    assert record["source_sha256"] == plugin_build.own_source_hash(
        [site / "acme_sum" / "acme_sum.c"]
    )
    assert fingerprint.plugin_builds() == {"plugins": {"acme.sum": record}}
    golden.write(["acme.sum"])  # into the plugin's own golden file
    assert "acme.sum" in golden.load(site / "acme_sum" / "golden.json")
    verdicts = [(r.engine, r.threads, r.verdict) for r in verify.rows(["acme.sum"], None, [1, 2])]
    assert verdicts == [("c", 1, "OK"), ("c", 2, "OK"), ("python", 1, "OK")]


def left_out(site: pathlib.Path, monkeypatch) -> str:
    """The one warning line of the plugin at ``site``, left out while the built-ins load."""
    monkeypatch.syspath_prepend(str(site))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = registry.names()
    assert "acme.sum" not in names and "loan.score" in names
    [line] = [str(w.message) for w in caught if w.category is registry.PluginWarning]
    assert line.startswith("workload plugin acme-sum (entry point 'acme = acme_sum:Sum'"), line
    return line


@pytest.mark.parametrize(
    "environ, reason",
    [
        (
            {"CFLAGS": "-march=native"},
            "its C was built 'custom', the core 'portable' (plugin adds -march=native)",
        ),
        (
            {"BANKBENCH_TUNE": "native"},
            "its C was built 'tuned-native', the core 'portable' (plugin adds "
            + " ".join(_flags.tune_flags("native", platform.machine()))
            + ")",
        ),
    ],
)
def test_a_plugin_built_otherwise_than_the_core_is_left_out_in_one_line(
    fresh_registry, tmp_path, monkeypatch, environ, reason
):
    line = left_out(install_plugin(tmp_path / "site", environ), monkeypatch)
    assert reason in line and "the core 'portable'" in line, line


def test_a_plugin_whose_extension_was_never_built_is_one_line(
    fresh_registry, tmp_path, monkeypatch
):
    site = install_plugin(tmp_path / "site")
    for built in (site / "acme_sum").glob("_core*"):
        built.unlink()
    assert "its C extension acme_sum._core is not built" in left_out(site, monkeypatch)


def test_a_plugin_whose_c_changed_since_its_build_is_one_line(
    fresh_registry, tmp_path, monkeypatch
):
    site = install_plugin(tmp_path / "site")
    with (site / "acme_sum" / "acme_sum.c").open("a") as source:
        source.write("/* changed, not rebuilt */\n")
    assert "its C changed since acme_sum._core was built" in left_out(site, monkeypatch)


def test_the_audit_covers_a_plugins_c_and_names_it_in_a_finding(
    fresh_registry, tmp_path, monkeypatch
):
    from bench.audit import plugins

    # a seeded fault: plain char, whose signedness differs between x86-64 and aarch64
    faulty = SUM_C.replace(
        "    *total_fen = total;",
        "    char low = (char)(total & 0xff);\n    *total_fen = low < 0 ? total + 1 : total;",
    )
    site = install_plugin(tmp_path / "site", c_text=faulty)
    monkeypatch.syspath_prepend(str(site))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", registry.PluginWarning)
        [target] = plugins.plugin_targets([])
    assert target.name.startswith("plugin acme.sum: sources compiled for "), target.name
    assert target.label == "portable" and target.flags[:2] == ["-std=c11", "-O2"]
    [finding] = [e for e in target.errors if "plain char" in e]
    assert "acme_sum.c" in finding, finding
    assert plugins.owner(target) == f"acme.sum ({target.arch})"


def test_the_audit_finds_nothing_in_a_clean_plugin(fresh_registry, tmp_path, monkeypatch):
    from bench.audit import plugins

    monkeypatch.syspath_prepend(str(install_plugin(tmp_path / "site")))
    [target] = plugins.plugin_targets([])
    assert target.errors == [], target.errors


def test_the_audit_reads_the_switches_a_plugin_was_really_compiled_with(
    fresh_registry, tmp_path, monkeypatch
):
    from bench.audit import plugins

    site = install_plugin(tmp_path / "site", build=ADDS_AFTER_THE_HELPER)
    monkeypatch.syspath_prepend(str(site))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", registry.PluginWarning)
        [target] = plugins.plugin_targets([])
    assert target.label == "portable"  # the build record cannot see it
    [finding] = [e for e in target.errors if "DWARF producer" in e]
    assert "was compiled with -m" in finding and ADDED_TUNING[0] in finding, finding
    assert "\n" not in finding


def test_a_plugin_built_by_another_bankbenchs_copy_of_the_helper_is_refused_with_the_fix():
    """A scaffold carries a copy of the build helper (bankbench new-workload): a copy from
    another bankbench, whose pinned flags differ from the core's, is refused under the same
    label; the assertion switch, which only the core's C reads, is no difference."""
    from native import plugin_build

    core = native.build_info()
    same = {**core, "flags": core["flags"].replace(" -DBB_ASSERTS=1", "")}
    assert plugin_build.refusal(same, core) is None
    assert plugin_build.refusal({**same, "flags": same["flags"] + " -DBB_ASSERTS=1"}, core) is None
    older = {**core, "flags": core["flags"].replace("-O2", "-O3")}
    why = plugin_build.refusal(older, core)
    assert why is not None and "\n" not in why
    assert "(plugin adds -O3; plugin lacks -O2" in why, why
    assert "bankbench new-workload --refresh-build-helper" in why, why


def test_the_audit_calls_a_plugins_floating_point_its_own_not_the_cores(
    fresh_registry, tmp_path, monkeypatch
):
    from bench.audit import plugins

    # a seeded fault: the total through long double (x87 on x86-64, 128-bit soft float on
    # aarch64: two different roundings of money)
    faulty = SUM_C.replace(
        "    *total_fen = total;",
        "    *total_fen = (int64_t)((long double)total / 7.0L * 7.0L);",
    )
    monkeypatch.syspath_prepend(str(install_plugin(tmp_path / "site", c_text=faulty)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", registry.PluginWarning)
        [target] = plugins.plugin_targets([])
    [finding] = [e for e in target.errors if "floating-point" in e]
    assert "in plugin acme.sum's C, whose money is integer fen" in finding, finding
    assert "core" not in finding, finding
