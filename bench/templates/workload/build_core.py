"""Builds __PACKAGE__._core with bankbench's pinned portable flags,
its tuned-build switch (BANKBENCH_TUNE) and a build record (native.plugin_build),
exactly as bankbench's own core."""

import pathlib

from native.plugin_build import plugin_ffibuilder

HEADER = pathlib.Path("__PACKAGE__/kernel.h")
text = HEADER.read_text()
cdef = text[text.index("/* BEGIN CDEF */") + len("/* BEGIN CDEF */") : text.index("/* END CDEF */")]

ffibuilder = plugin_ffibuilder(
    "__PACKAGE__._core",
    cdef=cdef,
    sources=["__PACKAGE__/kernel.c"],
    include_dirs=["__PACKAGE__"],
    headers=[str(HEADER)],
    preamble='#include "kernel.h"\n',
)
