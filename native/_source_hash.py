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
