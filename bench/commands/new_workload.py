"""``bankbench new-workload NAME``: a working workload plugin package to start from — its C
kernel built by bankbench's build helper, a Python reference, a generator on bankbench's PRNG,
check() invariants, golden digests computed here from the reference, tests and a README that
says what to replace. ``pip install -e`` of it, then ``bankbench verify`` and
``bankbench run -w NAME -p smoke`` pass with no edit.

bankbench is on no package index, so pip's isolated build environment cannot hold it: the
package gets a copy of bankbench's build helper (``bankbench_build/``: native/plugin_build.py
and the two standard-library modules it reads, the pinned flags among them) and builds with
setuptools and cffi alone, on any machine it is copied to. bankbench leaves out a plugin whose
recorded flags differ from its core's; ``--refresh-build-helper FOLDER`` copies the installed
bankbench's helper into a package written by an older one."""

from __future__ import annotations

import importlib
import pathlib
import sys

from bench.commands._exit import EXIT_OK
from workloads.errors import InputError

NAME = "new-workload"
HELP = "scaffold a workload plugin package (C kernel, reference, golden digests, tests)"
EPILOG = """example:
  bankbench new-workload acme.accrual     writes ./acme-accrual; then:
  pip install -e ./acme-accrual && bankbench verify -w 'acme.*'
  bankbench new-workload --refresh-build-helper ./acme-accrual   after upgrading bankbench
"""
TEMPLATE = pathlib.Path(__file__).resolve().parents[1] / "templates" / "workload"
# the build helper as a plugin's build runs it (native.plugin_build, beside what it imports)
BUILD_HELPER_FILES = ("plugin_build.py", "_flags.py", "_source_hash.py")
BUILD_HELPER_FOLDER = "bankbench_build"


def add_arguments(p) -> None:
    p.add_argument(
        "name", nargs="?", help="the workload's dotted name, its prefix first: acme.accrual"
    )
    p.add_argument(
        "--dir", type=pathlib.Path, default=pathlib.Path("."), help="where to write it (default: .)"
    )
    p.add_argument(
        "--refresh-build-helper",
        type=pathlib.Path,
        metavar="FOLDER",
        help="copy this bankbench's build helper into the plugin package FOLDER (after an "
        "upgrade: a plugin built by an older copy is left out), then pip install -e FOLDER",
    )


def substitutions(name: str) -> dict[str, str]:
    from workloads.registry import NAME_PATTERN, name_problem, shown_name

    if not NAME_PATTERN.fullmatch(name):
        raise InputError(
            f"workload name {shown_name(name)} is not dotted lower-case words, its prefix "
            "first; e.g. bankbench new-workload acme.accrual"
        )
    why = name_problem(name)
    if why:
        raise InputError(f"workload {shown_name(name)}: {why}")
    package = name.replace(".", "_")
    return {
        "__PACKAGE__": package,
        "__DIST__": package.replace("_", "-"),
        "__PREFIX__": name.split(".", 1)[0],
        "__SHORT__": package.split("_", 1)[1] if "_" in package else package,
        "__CLASS__": "".join(word.capitalize() for word in package.split("_")),
        "__CPREFIX__": package,
        "__GUARD__": package.upper(),
        "__NAME__": name,
    }


def _fill(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def write(name: str, folder: pathlib.Path) -> pathlib.Path:
    """The package for ``name`` under ``folder``, its golden digests computed by the
    reference it ships; returns the package's folder."""
    values = substitutions(name)
    target = folder / values["__DIST__"]
    if name.split(".", 1)[0] in ("loan", "ledger"):
        raise InputError(f"the prefix of '{name}' is bankbench's own; give yours its own prefix")
    _refuse_a_taken_package(name, values["__PACKAGE__"], target)
    for source in sorted(TEMPLATE.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        written = target / _fill(str(source.relative_to(TEMPLATE)), values)
        written.parent.mkdir(parents=True, exist_ok=True)
        written.write_text(_fill(source.read_text(), values))
    copy_build_helper(target)
    _write_golden(target, values["__PACKAGE__"])
    return target


def _refuse_a_taken_package(name: str, package: str, target: pathlib.Path) -> None:
    """A name is its package by '.' → '_', so acme.x.y and acme.x_y are one package (one
    folder, one distribution, one import name): the second is refused, naming the first."""
    import importlib.util
    import re

    from workloads import registry

    same = "; choose a name that differs in more than '.' against '_'"
    written = target / "pyproject.toml"
    if written.is_file():
        # the scaffold's pyproject.toml says whose package it is: description = "NAME: …"
        described = re.search(r'^description = "([a-z0-9_.]+): ', written.read_text(), re.M)
        other = described.group(1) if described else ""
        if other and other != name:
            raise InputError(
                f"{target} holds the workload '{other}', whose package is {package} too{same}"
            )
    if target.exists():
        raise InputError(f"{target} exists already; choose another --dir or remove it")
    for other in registry.names():
        if other != name and other.replace(".", "_") == package:
            raise InputError(f"the installed workload '{other}' is the package {package}{same}")
    if importlib.util.find_spec(package) is not None:
        raise InputError(
            f"a Python package {package} is installed already; choose another workload name "
            f"(or pip uninstall {package.replace('_', '-')})"
        )


def copy_build_helper(package: pathlib.Path) -> pathlib.Path:
    """This bankbench's build helper into ``package``/bankbench_build, byte for byte."""
    from native import plugin_build

    if not package.is_dir():
        raise InputError(
            f"{package} is not a folder; give the folder of the plugin package (the one that "
            "holds its pyproject.toml), e.g. --refresh-build-helper ./acme-accrual"
        )
    if not (package / "build_core.py").is_file():
        raise InputError(
            f"{package} is not a plugin package written by bankbench new-workload (it has no "
            "build_core.py); give the folder that holds its pyproject.toml"
        )
    helper = pathlib.Path(plugin_build.__file__).resolve().parent
    folder = package / BUILD_HELPER_FOLDER
    folder.mkdir(exist_ok=True)
    for name in BUILD_HELPER_FILES:
        (folder / name).write_bytes((helper / name).read_bytes())
    return folder


def _write_golden(target: pathlib.Path, package: str) -> None:
    """golden.json from the reference (the C is not built yet: the reference needs none)."""
    from workloads import golden

    sys.path.insert(0, str(target))
    try:
        module = importlib.import_module(f"{package}.workload")
        workloads = [
            value()
            for value in vars(module).values()
            if isinstance(value, type) and value.__module__ == module.__name__
        ]
        for workload in workloads:
            golden.write_entry(workload)
    finally:
        sys.path.remove(str(target))
        for loaded in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[loaded]


def main(args) -> int:
    if args.refresh_build_helper:
        folder = copy_build_helper(args.refresh_build_helper)
        print(f"copied this bankbench's build helper into {folder}")
        print(f"next: pip install -e {args.refresh_build_helper}")
        return EXIT_OK
    if not args.name:
        raise InputError("give the workload's name, e.g. bankbench new-workload acme.accrual")
    target = write(args.name, args.dir)
    print(f"wrote {target}: the workload {args.name}, its C kernel, reference, golden digests")
    print(f"next: pip install -e {target}")
    print(f"      bankbench verify -w '{args.name}' && bankbench run -w '{args.name}' -p smoke")
    print(f"      then replace what {target / 'README.md'} lists")
    return EXIT_OK
