"""``bankbench memory``: how much memory a run takes beyond its own inputs and outputs.

The inputs are generated, written as Arrow IPC, and read back in a fresh process, so the
generator's temporaries do not count. Reported: peak RSS growth from before loading the
inputs to the end of the run, as a ratio to (input + output Arrow bytes). Zero-copy columns
keep the ratio near 1; a copy of the inputs would add about one input size more.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys
import psutil, pyarrow as pa
from workloads import registry
name, engine, threads, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
workload = registry.get(name)
before = psutil.Process().memory_info().rss
inputs = {}
for table_name in json.load(open(folder + "/tables.json")):
    with pa.OSFile(f"{folder}/{table_name}.arrow") as source:
        inputs[table_name] = pa.ipc.open_file(source).read_all()
outputs = workload.run(inputs, engine=engine, threads=threads)
try:  # VmHWM belongs to this address space; ru_maxrss would carry the parent's peak over exec
    status = open("/proc/self/status").read().split("VmHWM:")[1]
    peak = int(status.split()[0]) * 1024
except (OSError, IndexError):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
size = lambda tables: sum(t.nbytes for t in tables.values())
print(json.dumps({"workload": name, "engine": engine, "threads": threads,
                  "input_bytes": size(inputs), "output_bytes": size(outputs),
                  "rss_growth_bytes": peak - before}))
"""


def measure(name: str, engine: str, threads: int, scale: float, seed: int = 42) -> dict:
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
            [sys.executable, "-c", CHILD, name, engine, str(threads), folder],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        from workloads.errors import BankbenchError

        raise BankbenchError(
            f"memory measurement of {name} failed: {result.stderr.strip().splitlines()[-1]}"
        )
    row = json.loads(result.stdout)
    row["ratio"] = row["rss_growth_bytes"] / (row["input_bytes"] + row["output_bytes"])
    return row
