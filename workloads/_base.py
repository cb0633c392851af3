"""The workload interface (DESIGN.md): generate / run / digest / check / units / engines."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from workloads import _tables
from workloads._tables import Schema, Tables
from workloads.errors import InputError, UnknownNameError


class Workload:
    """One measured unit of banking work. Subclasses define the class attributes and the
    ``_generate`` / ``_run_<engine>`` / ``_check`` methods; this class validates arguments
    and inputs once, in one place."""

    name: str = ""
    version: int = 1  # bump when the spec changes: results of other versions don't compare
    unit: str = ""  # what units() counts, e.g. "applications"
    engines: tuple[str, ...] = ("c", "python")
    input_schemas: Mapping[str, Schema] = {}
    output_schemas: Mapping[str, Schema] = {}

    def generate(self, scale: float = 0.01, seed: int = 42) -> Tables:
        """Deterministic inputs: the same (scale, seed) gives the same bytes everywhere."""
        if not (isinstance(scale, (int, float)) and 0 < scale <= 1000):
            raise InputError(f"{self.name}: scale must be in (0, 1000], got {scale!r}")
        if not (isinstance(seed, int) and 0 <= seed < 2**64):
            raise InputError(f"{self.name}: seed must be an integer in [0, 2^64), got {seed!r}")
        return self._generate(scale, seed)

    def run(self, inputs: Mapping[str, pa.Table], engine: str = "c", threads: int = 1) -> Tables:
        if engine not in self.engines:
            raise UnknownNameError(
                f"{self.name}: unknown engine '{engine}'; this workload has: "
                + ", ".join(self.engines)
            )
        if not (isinstance(threads, int) and threads >= 1):
            raise InputError(f"{self.name}: threads must be a whole number >= 1, got {threads!r}")
        _tables.validate(inputs, self.input_schemas, self.name)
        self._validate_more(inputs)
        return getattr(self, f"_run_{engine}")(inputs, threads)

    def digest(self, outputs: Mapping[str, pa.Table]) -> str:
        return _tables.digest(outputs)

    def check(self, inputs: Mapping[str, pa.Table], outputs: Mapping[str, pa.Table]) -> None:
        """Invariants of a correct result; raises AssertionError naming the broken one."""
        _tables.validate(outputs, self.output_schemas, f"{self.name} outputs")
        self._check(inputs, outputs)

    def units(self, inputs: Mapping[str, pa.Table]) -> int:
        return self._units(inputs)

    # ---- for subclasses ----
    def _generate(self, scale: float, seed: int) -> Tables:
        raise NotImplementedError

    def _validate_more(self, inputs: Mapping[str, pa.Table]) -> None:
        """Checks beyond column types (e.g. parameter tables); raise InputError."""

    def _check(self, inputs: Mapping[str, pa.Table], outputs: Mapping[str, pa.Table]) -> None:
        raise NotImplementedError

    def _units(self, inputs: Mapping[str, pa.Table]) -> int:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<workload {self.name} v{self.version} engines={','.join(self.engines)}>"


def scaled(base: int, scale: float) -> int:
    """Rows at a scale: at least one."""
    return max(1, int(base * scale))
