"""Builds example_tiered_interest._core with bankbench's pinned portable flags,
its tuned-build switch (BANKBENCH_TUNE) and a build record, exactly as bankbench's own core."""

import os
import pathlib
import sys

# bankbench's build helper (native/plugin_build.py), copied into bankbench_build/ by
# bankbench new-workload: the build needs only setuptools and cffi, so pip's isolated build
# environment, which holds no bankbench, builds it (cffi runs this file from the package root)
sys.path.insert(0, os.path.abspath("bankbench_build"))
from plugin_build import plugin_ffibuilder  # noqa: E402

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
