"""The audit of the workload plugins' own C (native.plugin_build): each plugin's sources,
staged in the core's layout, compiled for each architecture with the flags of its own build
record and proved under the same variants as the core's; each target, and so each finding,
names the plugin's workload."""

from __future__ import annotations

import pathlib
import shlex
import shutil
import tempfile

from bench import fingerprint
from bench.audit._common import PLUGIN_PREFIX as PREFIX
from bench.audit._common import Target
from bench.audit.targets import cross


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
                targets.append(
                    cross(arch, flags, record["label"], pathlib.Path(staged), plugin=workload.name)
                )
    return targets


def owner(target: Target) -> str:
    """Whose finding: the plugin's workload name, or the core's architecture."""
    if target.name.startswith(PREFIX):
        return f"{target.name[len(PREFIX) :].split(':', 1)[0]} ({target.arch})"
    return target.arch
