"""The audit of the workload plugins' own C (native.plugin_build): each plugin's sources,
staged in the core's layout, compiled for each architecture with the flags of its own build
record and proved under the same variants as the core's; each target, and so each finding,
names the plugin's workload."""

from __future__ import annotations

import importlib
import pathlib
import re
import shlex
import shutil
import subprocess
import tempfile

from bench import fingerprint
from bench.audit._common import PLUGIN_PREFIX as PREFIX
from bench.audit._common import Target
from bench.audit.compiling import toolchain_for
from bench.audit.targets import cross

# the switches that change the code a compiler makes for a machine, as DWARF records them
_CODE_SWITCH = re.compile(
    r"^-(m\S+|f(fp-contract|fast-math|unsafe-math|associative-math)\S*|Ofast)$"
)


def plugin_targets(cross_arches: list[str]) -> list[Target]:
    from workloads import registry

    targets = []
    for workload in registry.select(None):
        record = workload.build_record()
        own = [pathlib.Path(p) for p in workload.c_sources if pathlib.Path(p).is_absolute()]
        if record is None or not own:
            continue
        with tempfile.TemporaryDirectory() as staged:
            for folder in ("src", "include"):
                (pathlib.Path(staged) / folder).mkdir()
            for path in own:  # its headers beside its sources, as its build includes them
                shutil.copy(path, pathlib.Path(staged) / "src" / path.name)
            for arch in dict.fromkeys([fingerprint.machine(), *cross_arches]):
                flags = shlex.split(record["flags"])
                target = cross(
                    arch, flags, record["label"], pathlib.Path(staged), plugin=workload.name
                )
                if arch == fingerprint.machine():
                    _audit_compiled_switches(target, workload.c_module, flags)
                targets.append(target)
    return targets


def _producer_switches(path: str, objdump: str) -> set[str]:
    """The machine switches of every C unit in an object, from its DWARF producer strings."""
    dump = subprocess.run(
        [objdump, "--dwarf=info", path], capture_output=True, text=True, check=False
    ).stdout
    producers = re.findall(r"DW_AT_producer\s*:.*?: (GNU C.*)$", dump, re.MULTILINE)
    return {w for p in producers for w in p.split() if _CODE_SWITCH.match(w)}


def _audit_compiled_switches(target: Target, module: str, flags: list[str]) -> None:
    """The build record says which flags the build helper gave; the compiled module's debug
    info says which the compiler used. A build script that adds -march=native after the
    helper is caught here: its module carries switches an object built with the record's
    flags does not."""
    toolchain = toolchain_for(target.arch)
    compiled = importlib.import_module(module).__file__ or ""
    found = _producer_switches(compiled, toolchain.objdump)
    if not found:
        target.not_proved.append(f"the switches {module} was compiled with (no debug info)")
        return
    with tempfile.TemporaryDirectory() as scratch:
        empty, obj = pathlib.Path(scratch) / "empty.c", pathlib.Path(scratch) / "empty.o"
        empty.write_text("int bankbench_empty;\n")
        subprocess.run(
            [*toolchain.compiler, *flags, "-g", "-c", str(empty), "-o", str(obj)], check=True
        )
        expected = _producer_switches(str(obj), toolchain.objdump)
    extra = sorted(found - expected, key=lambda w: (not w.startswith("-march="), w))
    if extra:
        shown = ", ".join(extra[:6]) + (f" (+{len(extra) - 6} more)" if len(extra) > 6 else "")
        target.errors.append(
            f"its compiled module {pathlib.Path(compiled).name} was compiled with {shown}, which "
            "its build record's flags do not give (the module's DWARF producer): its build "
            "script adds flags after native.plugin_build; remove them and pip install -e it again"
        )


def owner(target: Target) -> str:
    """Whose finding: the plugin's workload name, or the core's architecture."""
    if target.name.startswith(PREFIX):
        return f"{target.name[len(PREFIX) :].split(':', 1)[0]} ({target.arch})"
    return target.arch
