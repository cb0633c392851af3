"""The child process of ``bankbench memory``: reads a workload's inputs from Arrow IPC files,
runs it once and prints its peak memory as JSON. Its own process, so the parent's generator
temporaries do not count (``python -m bench._memory_child NAME ENGINE THREADS FOLDER``)."""

from __future__ import annotations

import json
import resource
import sys


def peak_rss_bytes() -> int:
    # VmHWM belongs to this address space; ru_maxrss would carry the parent's peak over exec
    try:
        with open("/proc/self/status") as status:
            return int(status.read().split("VmHWM:")[1].split()[0]) * 1024
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str]) -> None:
    import psutil
    import pyarrow as pa

    from workloads import registry

    name, engine, threads, folder = argv[0], argv[1], int(argv[2]), argv[3]
    workload = registry.get(name)
    before = psutil.Process().memory_info().rss
    inputs = {}
    with open(f"{folder}/tables.json") as names:
        for table_name in json.load(names):
            with pa.OSFile(f"{folder}/{table_name}.arrow") as source:
                inputs[table_name] = pa.ipc.open_file(source).read_all()
    outputs = workload.run(inputs, engine=engine, threads=threads)

    def size(tables: dict) -> int:
        return sum(t.nbytes for t in tables.values())

    print(
        json.dumps(
            {
                "workload": name,
                "engine": engine,
                "threads": threads,
                "input_bytes": size(inputs),
                "output_bytes": size(outputs),
                "rss_before_bytes": before,
                "rss_growth_bytes": peak_rss_bytes() - before,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
