"""Builds example_tiered_interest._core with bankbench's pinned portable flags,
its tuned-build switch (BANKBENCH_TUNE) and a build record (native.plugin_build),
exactly as bankbench's own core."""

import pathlib

from native.plugin_build import plugin_ffibuilder

HEADER = pathlib.Path("example_tiered_interest/kernel.h")
text = HEADER.read_text()
cdef = text[text.index("/* BEGIN CDEF */") + len("/* BEGIN CDEF */") : text.index("/* END CDEF */")]

ffibuilder = plugin_ffibuilder(
    "example_tiered_interest._core",
    cdef=cdef,
    sources=["example_tiered_interest/kernel.c"],
    include_dirs=["example_tiered_interest"],
    headers=[str(HEADER)],
    preamble='#include "kernel.h"\n',
)
