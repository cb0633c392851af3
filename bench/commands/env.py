"""``bankbench env``: this host's fingerprint."""

from __future__ import annotations

import json

from bench.commands._arguments import add_json
from bench.commands._exit import EXIT_OK

NAME = "env"
HELP = "this host's fingerprint: CPU (MIDR on Arm), topology, OS, build"


def add_arguments(p) -> None:
    add_json(p)


def main(args) -> int:
    from bench import fingerprint

    facts = fingerprint.collect()
    if args.json:
        print(json.dumps(facts, indent=1))
        return EXIT_OK
    if facts["emulated"]:
        print(
            f"WARNING: emulated ({facts['emulation_reason']}): timings from this host are invalid"
        )
    build = facts.pop("build")
    evidence = facts.pop("emulation_facts")
    if not facts["emulated"]:
        facts.pop("emulation_reason")
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        if key == "numa_nodes" and value:
            value = "; ".join(f"{node} cpus {v['cpus']}" for node, v in value.items())
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif key == "isa_features" and value:
            value = value if len(value) <= 80 else value[:77] + "..."
        print(f"{key:<{width}}  {'unknown' if value is None else value}")
    for key, value in build.items():
        print(f"{'build.' + key:<{width}}  {value}")
    print("emulation evidence:")
    for name, fact in evidence.items():
        value = "unknown" if fact["value"] is None else fact["value"]
        print(f"  {fact['verdict']:<10}  {name}: {value}")
    return EXIT_OK
