"""``bankbench memory``: how much memory a run takes beyond its own inputs and outputs, and
how much a benchmark worker running it needs.

The inputs are generated, written as Arrow IPC, and read back in a fresh process, so the
generator's temporaries do not count. Reported: peak RSS growth from before loading the
inputs to the end of the run, as a ratio to (input + output Arrow bytes). Zero-copy columns
keep the ratio near 1; a copy of the inputs would add about one input size more.

A second fresh process does what a benchmark worker does (bench._memory_child --worker):
generates the inputs, checks them and runs once, in the worker's allocator environment. Its
peak growth is what `bankbench run` must find free (bench/limits.py), and can be well above
the run's: the generator's temporaries.
"""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys
import tempfile

from bench import text
from bench.plan import DEFAULT_SEED


def measure(name: str, engine: str, threads: int, scale: float, seed: int = DEFAULT_SEED) -> dict:
    import pyarrow as pa

    from workloads import registry

    inputs = registry.get(name).generate(scale=scale, seed=seed)
    with tempfile.TemporaryDirectory() as folder:
        for table_name, table in inputs.items():
            with pa.OSFile(f"{folder}/{table_name}.arrow", "wb") as sink:
                with pa.ipc.new_file(sink, table.schema) as writer:
                    writer.write_table(table)
        pathlib.Path(folder, "tables.json").write_text(json.dumps(list(inputs)))
        del inputs
        result = subprocess.run(
            [sys.executable, "-m", "bench._memory_child", name, engine, str(threads), folder],
            capture_output=True,
            text=True,
            check=False,
        )
    _check_child(result, f"memory measurement of {name}")
    row = json.loads(result.stdout)
    row["scale"] = scale
    row["ratio"] = row["rss_growth_bytes"] / (row["input_bytes"] + row["output_bytes"])
    row["worker_peak_bytes"] = worker_peak_bytes(name, engine, threads, scale, seed)
    return row


def worker_peak_bytes(name: str, engine: str, threads: int, scale: float, seed: int) -> int:
    """Peak RSS growth of a fresh process that generates, checks and runs the workload once,
    in a benchmark worker's allocator environment."""
    import os

    from bench import allocator

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench._memory_child",
            "--worker",
            name,
            engine,
            str(threads),
            repr(scale),
            str(seed),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
        env=allocator.worker_environment(dict(os.environ)),
    )
    _check_child(result, f"memory measurement of {name} as a worker")
    return int(json.loads(result.stdout)["worker_peak_bytes"])


def _check_child(result: subprocess.CompletedProcess, what: str) -> None:
    """One line for a measuring child that failed: its last line of errors, or the signal
    that killed it (SIGKILL is most often the kernel's out-of-memory killer)."""
    from workloads.errors import BankbenchError

    if result.returncode == 0:
        return
    if result.returncode < 0:
        number = -result.returncode
        hint = " (out of memory? try a smaller --scale)" if number == signal.SIGKILL else ""
        raise BankbenchError(
            f"{what} failed: the child process was killed by {text.signal_name(number)}{hint}"
        )
    last = result.stderr.strip().splitlines() or [f"exit status {result.returncode}, no output"]
    raise BankbenchError(f"{what} failed: {last[-1]}")
