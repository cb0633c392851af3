"""The child processes of ``bankbench memory``, each printing its peak memory as JSON:

* ``python -m bench._memory_child NAME ENGINE THREADS FOLDER`` reads a workload's inputs
  from Arrow IPC files and runs it once: the run's own growth (the parent's generator
  temporaries do not count);
* ``python -m bench._memory_child --worker NAME ENGINE THREADS SCALE SEED`` does what a
  benchmark worker does with one workload: generates its inputs, checks them and runs it
  once, in the worker's allocator environment (the parent starts it so). Its peak is what
  a plan must fit in memory; the generator's temporaries can exceed the run's growth
  (ledger.post at scale 1: 1.1 GB against 0.43 GB)."""

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


def worker_peak(argv: list[str]) -> None:
    import psutil

    from workloads import registry

    name, engine = argv[0], argv[1]
    threads, scale, seed = int(argv[2]), float(argv[3]), int(argv[4])
    workload = registry.get(name)
    before = psutil.Process().memory_info().rss
    inputs = workload.generate(scale=scale, seed=seed)
    workload.validate_inputs(inputs)
    workload.run_validated(inputs, engine=engine, threads=threads)
    print(json.dumps({"worker_peak_bytes": peak_rss_bytes() - before}))


def main(argv: list[str]) -> None:
    import psutil
    import pyarrow as pa

    from workloads import registry

    if argv[0] == "--worker":
        return worker_peak(argv[1:])
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
