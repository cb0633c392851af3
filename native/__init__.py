"""The bankbench C core (cffi API mode): ``ffi``, ``lib`` and ``build_info()``.

The extension is compiled when the package is installed (``pip install .``). Importing it
from a source tree that was never built fails with the command that fixes it, and so does
importing a core built from other sources than those beside it (an in-place build older than
a change to native/src or native/include), before a missing symbol would.
"""

from __future__ import annotations

import pathlib
import platform

try:
    from native._bankcore import ffi, lib
except ImportError as error:  # pragma: no cover - exercised only on a broken install
    # from a source folder after a plain `pip install .`, this unbuilt copy shadows the
    # installed one (the current folder comes first on sys.path): say which copy this is
    raise ImportError(
        f"the bankbench C core is not built in {pathlib.Path(__file__).resolve().parent}: "
        "run `pip install .` in the project folder, or `python native/build.py` for an "
        "in-place build; if it is installed already, import from outside the source folder "
        "(here its unbuilt copy comes first)"
    ) from error

__all__ = ["ffi", "lib", "build_info", "file_sha256", "is_sanitizer_build"]

HERE = pathlib.Path(__file__).resolve().parent
# what build_info() reads: a core built before one of them was added is stale
BUILD_RECORD_FUNCTIONS = (
    "bb_build_label",
    "bb_build_compiler",
    "bb_build_flags",
    "bb_build_effective_line",
    "bb_build_source_sha256",
    "bb_build_file_sha256_json",
    "bb_build_asserts",
)


def stale_reason(core=lib, folder: pathlib.Path = HERE) -> str | None:
    """Why the core is stale, or None: it lacks a build-record function, or it was built
    from other sources than the ones in ``folder`` (checked only where they are present)."""
    missing = [name for name in BUILD_RECORD_FUNCTIONS if not hasattr(core, name)]
    if missing:
        return f"it was built by an older native/build.py (no {missing[0]})"
    if not (folder / "include" / "bankcore.h").is_file():
        return None  # an install without its sources: nothing to compare with
    from native._source_hash import source_hash

    try:
        current = source_hash(folder)
    except OSError:
        return None
    built = ffi.string(core.bb_build_source_sha256()).decode()
    if built != current:
        return (
            f"it was built from other sources (source_sha256 {built[:12]}) than those in "
            f"{folder} now ({current[:12]})"
        )
    return None


def _check_fresh() -> None:
    why = stale_reason()
    if why:
        from workloads.errors import BankbenchError

        raise BankbenchError(
            f"the C core in {HERE} is stale: {why}; rebuild the core: python native/build.py"
        )


_check_fresh()


def build_info() -> dict[str, str]:
    """How the core was built: recorded with every result so runs can be compared fairly."""
    import cffi

    def text(pointer) -> str:
        return ffi.string(pointer).decode()

    return {
        "label": text(lib.bb_build_label()),
        "compiler": text(lib.bb_build_compiler()),
        "flags": text(lib.bb_build_flags()),
        "effective_line": text(lib.bb_build_effective_line()),
        "source_sha256": text(lib.bb_build_source_sha256()),
        "asserts": "on" if lib.bb_build_asserts() else "off",
        "cffi_version": cffi.__version__,
        "machine": platform.machine(),
    }


def file_sha256() -> dict[str, str]:
    """SHA-256 of each source the core was built from, by its path under native/
    (``src/ledger.c``): a workload's source hash is made of its own files' entries."""
    import json

    return json.loads(ffi.string(lib.bb_build_file_sha256_json()).decode())


def is_sanitizer_build() -> bool:
    """Whether the core carries a sanitizer (tox -e sanitize): its flags override the pinned
    ones by design, and Valgrind cannot host its runtime."""
    return "-fsanitize" in build_info()["flags"]
