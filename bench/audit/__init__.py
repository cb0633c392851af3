"""``bankbench audit``: is the compiled core the portable, deterministic program it claims to be?

The audit proves by compiling, not by reading the text (a pattern over the sources misses a
``char`` made by token pasting, ``__typeof__(1.0L)`` or a declaration split over lines):
- the core's sources are compiled for each target with each setting that differs between
  x86-64 and aarch64 — plain ``char`` signed and unsigned, every ``long double`` width the
  target can choose, floating-point contraction fast and off — and the object code must be
  identical: then no answer can depend on it. A difference names the functions it changes;
- the build record: the effective value of every pinned flag, read from the whole compile
  line (the last flag wins, as in GCC); a build with extra flags is ``custom``, never
  ``portable``; a portable build has no -march/-mcpu/native or x86-only flags;
- the machine code (objdump): every floating-point instruction class (x87 included, and
  soft-float library calls) must be absent (money is integer fen); SVE, counted by its
  z/p register operands and its own mnemonics, is absent for a Kunpeng 920 (TSV110) target;
  the atomics of every kind — Arm LSE instructions, load/store-exclusive loops, outline-atomic
  helper calls (``__aarch64_ldadd4_acq_rel``…), x86 lock prefixes — counted, and for aarch64
  what a Kunpeng 920 build (ARMv8.2, LSE) would use instead;
- the platform facts the compiler predefines, and the page size of this host.

One module per job: ``objdump`` (the instruction classes and imports of the machine code),
``flags`` (reading the compile line), ``compiling`` (the toolchain, and the object code under
each setting), ``preprocessing`` (the same program for both targets), ``targets`` (the
installed core and cross-compiled sources) and ``findings`` (the summary).
"""

from bench.audit._common import NATIVE, AuditError, Target
from bench.audit.compiling import VARIANTS, Toolchain, compile_objects, differences, toolchain_for
from bench.audit.findings import run, summary
from bench.audit.flags import audit_flags, compiler_settings, effective, pinned_settings, predefined
from bench.audit.objdump import (
    FLOAT_CLASSES,
    Instruction,
    atomics,
    audit_code,
    audit_imports,
    describe,
    disassemble,
    imports,
    is_core_import,
    is_sve,
)
from bench.audit.preprocessing import OTHER_ARCH, same_program
from bench.audit.targets import cross, installed, kunpeng_atomics

__all__ = [
    "FLOAT_CLASSES",
    "NATIVE",
    "OTHER_ARCH",
    "VARIANTS",
    "AuditError",
    "Instruction",
    "Target",
    "Toolchain",
    "atomics",
    "audit_code",
    "audit_flags",
    "audit_imports",
    "compile_objects",
    "compiler_settings",
    "cross",
    "describe",
    "differences",
    "disassemble",
    "effective",
    "imports",
    "installed",
    "is_core_import",
    "is_sve",
    "kunpeng_atomics",
    "pinned_settings",
    "predefined",
    "run",
    "same_program",
    "summary",
    "toolchain_for",
]
