"""The bankbench C core (cffi API mode): ``ffi``, ``lib`` and ``build_info()``.

The extension is compiled when the package is installed (``pip install .``). Importing it
from a source tree that was never built fails with the command that fixes it.
"""

from __future__ import annotations

import platform

try:
    from native._bankcore import ffi, lib
except ImportError as error:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "the bankbench C core is not built: run `pip install .` in the project folder "
        "(or `python native/build.py` for an in-place development build)"
    ) from error

__all__ = ["ffi", "lib", "build_info", "is_sanitizer_build"]


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


def is_sanitizer_build() -> bool:
    """Whether the core carries a sanitizer (tox -e sanitize): its flags override the pinned
    ones by design, and Valgrind cannot host its runtime."""
    return "-fsanitize" in build_info()["flags"]
