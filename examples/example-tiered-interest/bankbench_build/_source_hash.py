"""The C core's source hash: built into the core by native/build.py and, where the sources
sit beside the built core (an in-place or editable build), compared with them when ``native``
is imported, so a core built from older sources is caught before a missing symbol is.

Standard library only: build.py loads this file by its path, before the package exists."""

from __future__ import annotations

import hashlib
import pathlib


def source_hash(folder: pathlib.Path) -> str:
    """SHA-256 of the public header and every C source and header in ``folder``/src."""
    digest = hashlib.sha256()
    header = folder / "include" / "bankcore.h"
    for path in [header, *sorted((folder / "src").glob("*.[ch]"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


# what every workload's C depends on: the public header, the shared internal header, the
# generator every workload's inputs come from (workloads/_rng.py calls it) and the worker pool
# every parallel call runs on (each workload's own task adapter sits in its own C file)
SHARED_CORE = ("include/bankcore.h", "src/internal.h", "src/rng.c", "src/pool.c")


def file_hashes(folder: pathlib.Path) -> dict[str, str]:
    """SHA-256 of each core source, by its path under ``folder``: built into the core, so a
    workload's source hash is the hash of what was compiled, also where no sources sit
    beside an installed core."""
    header = folder / "include" / "bankcore.h"
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in [header, *sorted((folder / "src").glob("*.[ch]"))]
    }


def workload_source_hash(hashes: dict[str, str]) -> str:
    """One workload's source hash: SHA-256 over its files' (path, SHA-256), in path order.
    ``hashes`` holds its own files and the shared core files it needs, nothing else, so a
    change to another workload's C leaves it alone."""
    digest = hashlib.sha256()
    for path in sorted(hashes):
        digest.update(path.encode() + b"\0" + hashes[path].encode() + b"\0")
    return digest.hexdigest()
