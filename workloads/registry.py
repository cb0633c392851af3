"""Workloads by dotted name: ``registry.get("loan.score")``, ``registry.names()``.

Every workload comes in through one door, the entry-point group ``bankbench.workloads`` (as
pytest finds its plugins through ``pytest11``): bankbench's own (``loan``, ``ledger`` in its
pyproject.toml) and a bank's own package alike. An entry point is named by the prefix its
workloads carry (``acme`` → ``acme.accrual``) and points at a Workload subclass, an instance,
or a sequence of them. A plugin that cannot be loaded (an import error, a missing method, a
wrong schema, a name that is taken or outside its prefix) is one warning line naming it and
its entry point; it is left out and every other workload still runs."""

from __future__ import annotations

import fnmatch
import importlib.metadata
import pathlib
import re
import warnings
from collections.abc import Iterable, Mapping

import pyarrow as pa

from workloads._base import BATCHING, CAPACITY, KINDS, ONLINE, Benchmark, Workload
from workloads.errors import BankbenchError, PluginError, UnknownNameError

ENTRY_POINT_GROUP = "bankbench.workloads"
BUILT_IN_DISTRIBUTION = "bankbench"  # loaded first: a plugin cannot take a built-in's name
# lower-case dotted words, at least two: the prefix is the plugin's own
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
# a name is a benchmark id's stem, a store partition's value, a scaffold's folder and package:
# short enough for every file system and for one line of a table
NAME_LENGTH_MAX = 100
# what the harness calls on every workload (DESIGN.md, "Workload interface")
INTERFACE = ("generate", "run", "digest", "check", "units")
# what a subclass must define, beyond the base class (it raises NotImplementedError)
SUBCLASS_METHODS = ("_generate", "_check", "_units")

_WORKLOADS: dict[str, Workload] = {}
# a plugin's workloads (a distribution other than bankbench): name → "distribution (entry point
# 'point = value')", for lines that name them and for verify, which runs their code apart
_PLUGINS: dict[str, str] = {}
_loaded = False


class PluginWarning(UserWarning):
    """A plugin left out; the message names it, its entry point and what to fix."""


def problems(workload: object) -> list[str]:
    """What keeps ``workload`` from being registered (empty: nothing): the interface, the
    name, the schemas and the benchmark declarations, checked before anything runs it."""
    if not isinstance(workload, Workload):
        missing = [m for m in INTERFACE if not callable(getattr(workload, m, None))]
        return [
            f"{type(workload).__name__} is not a workloads.Workload"
            + (f" (no {', '.join(missing)})" if missing else "")
        ]
    cls, found = type(workload), []
    why = name_problem(workload.name)
    if why:
        found.append(why)
    engines = workload.engines
    if not (isinstance(engines, tuple) and engines and all(isinstance(e, str) for e in engines)):
        found.append(f"engines must be a non-empty tuple of names, got {engines!r}")
        engines = ()
    for method in INTERFACE:
        if not callable(getattr(workload, method, None)):
            found.append(f"no {method}()")
    for method in SUBCLASS_METHODS:
        if getattr(cls, method) is getattr(Workload, method):
            found.append(f"no {method}()")
    for engine in engines:
        if not callable(getattr(workload, f"_run_{engine}", None)):
            found.append(f"engine '{engine}' has no _run_{engine}()")
    for label, schemas in (("input", workload.input_schemas), ("output", workload.output_schemas)):
        if not _is_schema_set(schemas):
            found.append(f"{label}_schemas must map table names to {{column: pyarrow type}}")
    if not workload.output_schemas:
        found.append("no output_schemas: digest() and check() need the outputs' columns")
    declared = workload.benchmarks
    if not (isinstance(declared, tuple) and all(isinstance(b, Benchmark) for b in declared)):
        found.append("benchmarks must be a tuple of workloads.Benchmark")
        declared = ()
    kinds = {b.kind for b in declared}
    # a declared benchmark kind needs the method it drives
    for kind, method in (
        (ONLINE, "online"),
        (CAPACITY, "online"),
        (CAPACITY, "serve_shards"),
        (BATCHING, "batched"),
    ):
        if kind in kinds and getattr(cls, method) is getattr(Workload, method):
            found.append(f"declares {kind} benchmarks but no {method}()")
    for benchmark in declared:
        if benchmark.kind not in KINDS or not set(benchmark.engines or ()) <= set(engines):
            found.append(f"benchmark {benchmark} names an engine the workload does not have")
    return found


def name_problem(name: object) -> str | None:
    """What is wrong with a workload name (None: nothing), in words for one line."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        return f"name {shown_name(name)} is not a dotted lower-case name such as 'acme.accrual'"
    if len(name) > NAME_LENGTH_MAX:
        return f"its name is {len(name)} characters long; at most {NAME_LENGTH_MAX}"
    return None


def shown_name(name: object) -> str:
    """A workload's name quoted for a message, its first 60 characters where it is longer."""
    quoted = repr(name)
    return quoted if len(quoted) <= 62 else quoted[:60] + "...'"


def _is_schema_set(schemas: object) -> bool:
    return isinstance(schemas, Mapping) and all(
        isinstance(table, str)
        and isinstance(columns, Mapping)
        and all(isinstance(c, str) and isinstance(t, pa.DataType) for c, t in columns.items())
        for table, columns in schemas.items()
    )


def register(workload: Workload) -> Workload:
    """Add one workload (its package's entry point does this for it); PluginError when it
    is not a complete workload or its name is taken."""
    found = problems(workload)
    if found:
        raise PluginError(f"{shown_name(getattr(workload, 'name', workload))}: {'; '.join(found)}")
    if workload.name in _WORKLOADS:
        taken = type(_WORKLOADS[workload.name])
        raise PluginError(
            f"workload name '{workload.name}' is already taken by "
            f"{taken.__module__}.{taken.__qualname__}; give yours its own prefix"
        )
    _WORKLOADS[workload.name] = workload
    return workload


def entry_points() -> list[importlib.metadata.EntryPoint]:
    """The group's entry points, bankbench's own first, then by distribution and name."""
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)

    def order(point: importlib.metadata.EntryPoint) -> tuple[bool, str, str]:
        distribution = _distribution(point)
        return (distribution != BUILT_IN_DISTRIBUTION, distribution, point.name)

    unique = {(_distribution(p), p.name, p.value): p for p in found}  # a path listed twice
    return sorted(unique.values(), key=order)


def _distribution(point: importlib.metadata.EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return dist.metadata["Name"] if dist is not None else "?"


def _workloads_of(loaded: object) -> list[object]:
    if isinstance(loaded, type):
        return [loaded()]
    if isinstance(loaded, Iterable) and not isinstance(loaded, (str, bytes, Mapping)):
        return [w() if isinstance(w, type) else w for w in loaded]
    return [loaded]


def load_entry_point(point: importlib.metadata.EntryPoint) -> list[str]:
    """Register the workloads an entry point names, all or none; raises PluginError."""
    try:
        candidates = _workloads_of(point.load())
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # any way its code can fail, SystemExit too: a plugin's
        # sys.exit(0) at import must not end bankbench silently with every built-in unchecked
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise PluginError(f"cannot import it: {type(error).__name__}: {first}") from error
    if not candidates:
        raise PluginError("it names no workloads")
    checked: list[Workload] = []
    for candidate in candidates:
        found = problems(candidate)
        if found:
            raise PluginError(f"{shown_name(getattr(candidate, 'name', '?'))}: {'; '.join(found)}")
        assert isinstance(candidate, Workload)  # problems() said so
        if candidate.name.split(".", 1)[0] != point.name:
            raise PluginError(
                f"workload '{candidate.name}' is outside the entry point's prefix "
                f"'{point.name}.': name the entry point by its workloads' prefix"
            )
        _check_build(candidate)
        checked.append(candidate)
    names = [w.name for w in checked]
    taken = [n for n in names if n in _WORKLOADS] + [n for n in set(names) if names.count(n) > 1]
    if taken:
        raise PluginError(f"workload name '{taken[0]}' is already taken; give yours its own prefix")
    for workload in checked:
        register(workload)
    return names


def _check_build(workload: Workload) -> None:
    """A plugin's own C extension is built, and built as the core is (one run, one label)."""
    if not workload.c_module:
        return
    import native
    from native import plugin_build

    try:
        record = workload.build_record()
    except (ImportError, AttributeError) as error:
        raise PluginError(
            f"'{workload.name}': its C extension {workload.c_module} is not built with "
            f"native.plugin_build ({error}); build it: pip install -e <the plugin's folder>"
        ) from None
    assert record is not None
    # its results carry the hash of its C as it is now (Workload.source_sha256): that must be
    # the C its extension was built from (its record), as import native checks for the core
    own = [path for path in workload.c_sources if pathlib.Path(path).is_absolute()]
    if own and plugin_build.own_source_hash(own) != record["source_sha256"]:
        raise PluginError(
            f"'{workload.name}': its C changed since {workload.c_module} was built (or its "
            "c_sources are not the files it was built from); rebuild it: "
            "pip install -e <the plugin's folder>"
        )
    why = plugin_build.refusal(record, native.build_info())
    if why:
        raise PluginError(f"'{workload.name}': {why}")


def build_records() -> dict[str, dict[str, str]]:
    """Each registered workload's own C build record (plugins with a C extension)."""
    records = {name: w.build_record() for name, w in sorted(_WORKLOADS.items())}
    return {name: record for name, record in records.items() if record is not None}


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True  # once per process, so each broken plugin is one line, once
    points = entry_points()
    if not any(_distribution(p) == BUILT_IN_DISTRIBUTION for p in points):
        _loaded = False
        raise PluginError(
            f"bankbench's own workloads are missing from the entry points "
            f"'{ENTRY_POINT_GROUP}' (stale install metadata); reinstall: pip install -e ."
        )
    _PLUGINS.clear()
    for point in points:
        try:
            loaded = load_entry_point(point)
        except PluginError as error:
            cause = error.__cause__
            if _distribution(point) == BUILT_IN_DISTRIBUTION and isinstance(
                cause, (BankbenchError, ImportError)
            ):
                _loaded = False
                raise cause from None  # the core's own one line with its fix (stale, not built)
            warnings.warn(
                f"workload plugin {_distribution(point)} (entry point "
                f"'{point.name} = {point.value}' in group {ENTRY_POINT_GROUP}) left out: {error}",
                PluginWarning,
                stacklevel=2,
            )
            continue
        if _distribution(point) != BUILT_IN_DISTRIBUTION:
            origin = f"{_distribution(point)} (entry point '{point.name} = {point.value}')"
            _PLUGINS.update(dict.fromkeys(loaded, origin))


def plugin_origin(name: str) -> str | None:
    """Where a plugin's workload comes from: "distribution (entry point '…')"; None for a
    built-in (or one registered by hand, with register())."""
    _load()
    return _PLUGINS.get(name)


def names() -> list[str]:
    _load()
    return sorted(_WORKLOADS)


def get(name: str) -> Workload:
    _load()
    if name not in _WORKLOADS:
        raise UnknownNameError(f"unknown workload '{name}'; valid: {', '.join(names())}")
    return _WORKLOADS[name]


def select(patterns: list[str] | None) -> list[Workload]:
    """Workloads matching names or globs (``loan.*``); all when patterns is empty."""
    if not patterns:
        return [get(n) for n in names()]
    chosen: list[str] = []
    for pattern in patterns:
        matches = fnmatch.filter(names(), pattern)
        if not matches:
            raise UnknownNameError(f"no workload matches '{pattern}'; valid: {', '.join(names())}")
        chosen += [m for m in matches if m not in chosen]
    return [get(n) for n in chosen]
