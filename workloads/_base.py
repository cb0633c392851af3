"""The workload interface (DESIGN.md): generate / run / digest / check / units / engines, and
what a workload declares about itself (its benchmarks, C sources, golden file, version), so
the harness (bench/plan.py, bench/verify.py, bench/suite) iterates over declarations and never
names a workload."""

from __future__ import annotations

import hashlib
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from workloads import _tables
from workloads._tables import Schema, Tables
from workloads.errors import BankbenchError, InputError, NativeError, UnknownNameError

# the golden point: the (seed, scale) of every golden digest, and the default of generate()
CANONICAL_SEED = 42
CANONICAL_SCALE = 0.01  # small enough for the reference and for emulated aarch64
# seeds are stored in the results' int64 columns: one range everywhere, [0, 2^63)
SEED_LIMIT = 2**63
GOLDEN_PATH = pathlib.Path(__file__).resolve().parent / "golden.json"

# the kinds of benchmark a workload can declare; bench/suite has one test function per kind
BATCH = "batch"  # a table per call: throughput over every engine and thread count
ONLINE = "online"  # one request per call (Workload.online): per-call latency percentiles
CAPACITY = "capacity"  # micro-batches of an online session on independent shards
BATCHING = "batching"  # the batch path cut into requests of batch_size (Workload.batched)
KINDS = (BATCH, ONLINE, CAPACITY, BATCHING)  # the suite's order


@dataclass(frozen=True)
class Benchmark:
    """One kind of benchmark a workload declares. ``engines`` None: every engine of the
    workload; ``threaded``: at each of the plan's thread counts (the reference runs on one);
    ``batch_sizes``: one benchmark per size (none: one benchmark)."""

    kind: str
    engines: tuple[str, ...] | None = None
    threaded: bool = False
    batch_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        assert self.kind in KINDS, f"unknown benchmark kind {self.kind!r}; valid: {KINDS}"


class Workload:
    """One measured unit of banking work. Subclasses define the class attributes and the
    ``_generate`` / ``_run_<engine>`` / ``_check`` methods; this class validates arguments
    and inputs once, in one place."""

    name: str = ""
    version: int = 1  # bump when the spec changes: results of other versions don't compare
    unit: str = ""  # what units() counts, e.g. "applications"
    title: str = ""  # what it does, in words for a reader who does not know the ids (reports)
    # the cost figure the report prices it as: "decisions" or "postings" (reports/fleet.py)
    priced_as: str | None = None
    engines: tuple[str, ...] = ("c", "python")
    input_schemas: Mapping[str, Schema] = {}
    output_schemas: Mapping[str, Schema] = {}
    benchmarks: tuple[Benchmark, ...] = (Benchmark(BATCH, threaded=True),)
    # the C files its engine is built from (paths under native/, or absolute for a
    # workload's own C outside it), the shared core files it includes among them: its
    # source hash (native/_source_hash.py) changes when one of these does, and only then
    c_sources: tuple[str, ...] = ()
    golden_path: pathlib.Path = GOLDEN_PATH  # where its golden entry lives (workloads/golden.py)
    # a plugin's own cffi extension (built by native.plugin_build), whose build record is
    # recorded with its results beside the core's; empty: it runs on bankbench's core
    c_module: str = ""

    def generate(self, scale: float = CANONICAL_SCALE, seed: int = CANONICAL_SEED) -> Tables:
        """Deterministic inputs: the same (scale, seed) gives the same bytes everywhere."""
        if not (isinstance(scale, (int, float)) and 0 < scale <= 1000):
            raise InputError(f"{self.name}: scale must be in (0, 1000], got {scale!r}")
        if not (isinstance(seed, int) and 0 <= seed < SEED_LIMIT):
            raise InputError(f"{self.name}: seed must be an integer in [0, 2^63), got {seed!r}")
        return self._generate(scale, seed)

    def run(self, inputs: Mapping[str, pa.Table], engine: str = "c", threads: int = 1) -> Tables:
        self._check_call(engine, threads)
        self.validate_inputs(inputs)
        return getattr(self, f"_run_{engine}")(inputs, threads)

    def run_validated(
        self, inputs: Mapping[str, pa.Table], engine: str = "c", threads: int = 1
    ) -> Tables:
        """run() without its input checks: for inputs that passed them (validate_inputs) and
        whose tables no one has written since, the benchmark harness's own (generated once
        and checked before the timed rounds). The checks are Python beside the parallel C,
        up to 13 % of a 1-thread call at the quick profile; a table written behind Arrow's
        back after them could pass checks C does not repeat, so a caller's inputs go through
        run()."""
        self._check_call(engine, threads)
        return getattr(self, f"_run_{engine}")(inputs, threads)

    def _check_call(self, engine: str, threads: int) -> None:
        if engine not in self.engines:
            raise UnknownNameError(
                f"{self.name}: unknown engine '{engine}'; this workload has: "
                + ", ".join(self.engines)
            )
        if not (isinstance(threads, int) and threads >= 1):
            raise InputError(f"{self.name}: threads must be a whole number >= 1, got {threads!r}")

    def validate_inputs(self, inputs: Mapping[str, pa.Table]) -> None:
        """The checks run() makes of its inputs: their schemas, then the workload's own
        (_validate_more); InputError on the first that fails."""
        _tables.validate(inputs, self.input_schemas, self.name)
        self._validate_more(inputs)

    def digest(self, outputs: Mapping[str, pa.Table]) -> str:
        return _tables.digest(outputs)

    def check(self, inputs: Mapping[str, pa.Table], outputs: Mapping[str, pa.Table]) -> None:
        """Invariants of a correct result; raises AssertionError naming the broken one."""
        if not __debug__:  # the invariants are assert statements, which python -O strips
            raise BankbenchError(
                f"{self.name}: check() cannot run under python -O (PYTHONOPTIMIZE), which strips "
                "the assert statements its invariants are; run without -O"
            )
        _tables.validate(outputs, self.output_schemas, f"{self.name} outputs")
        self._check(inputs, outputs)

    def units(self, inputs: Mapping[str, pa.Table]) -> int:
        return self._units(inputs)

    def online(self, inputs: Mapping[str, pa.Table], engine: str = "c"):
        """A session deciding one request per ``decide(row)`` call (and ``decide_many(begin,
        end)``, ``size``, ``outputs()``): what an ONLINE or CAPACITY benchmark drives."""
        raise NotImplementedError(f"{self.name} declares no online benchmark")

    def serve_shards(self, sessions, bounds, batch_size: int):
        """Session i (of ``online(inputs, "c")``) serves rows [bounds[i], bounds[i + 1]) in
        micro-batches of ``batch_size``, all at once, the service loop in C: the service time
        of each micro-batch in ns, shard by shard (numpy int64). What CAPACITY measures."""
        raise NotImplementedError(f"{self.name} declares no capacity benchmark")

    def batched(self, inputs: Mapping[str, pa.Table], batch_size: int) -> Tables:
        """The same inputs cut into requests of at most ``batch_size``: BATCHING's inputs."""
        raise NotImplementedError(f"{self.name} declares no batching benchmark")

    def kinds(self) -> tuple[str, ...]:
        return tuple(b.kind for b in self.benchmarks)

    def source_sha256(self) -> str:
        """The hash of the C this workload runs: its ``c_sources`` and the shared core files,
        as the core was built (a file outside native/, a workload's own C, as it is now).
        Stored with every sample: a run compares with another only where it is equal."""
        from native import _source_hash, file_sha256

        built = file_sha256()
        hashes = {}
        for path in (*_source_hash.SHARED_CORE, *self.c_sources) if self.c_sources else ():
            if path in built:
                hashes[path] = built[path]
            else:  # a workload's own C file, compiled by itself (an absolute path), keyed
                # by its name, not its folder: one plugin installed in two places compares
                own = pathlib.Path(path)
                assert f"own/{own.name}" not in hashes, f"{self.name}: two C files {own.name}"
                hashes[f"own/{own.name}"] = hashlib.sha256(own.read_bytes()).hexdigest()
        return _source_hash.workload_source_hash(hashes)

    def build_record(self) -> dict[str, str] | None:
        """How its own C extension was built (native.plugin_build); None: on the core."""
        if not self.c_module:
            return None
        from native import plugin_build

        return plugin_build.build_record(self.c_module)

    def check_status(self, status: int, names: Mapping[int, str], call: str) -> None:
        """A plugin's C status (0: success) into a NativeError that names this workload, the
        call and the code, by its name in ``names`` (its kernel.h's codes) and its number, so
        a code its header does not name still says which it was."""
        if status == 0:
            return
        name = names.get(status, "a code its kernel.h does not name")
        raise NativeError(f"{self.name}: {call} returned status {status} ({name})", status, name)

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
