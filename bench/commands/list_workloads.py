"""``bankbench list``: the workloads, their engines and units."""

from __future__ import annotations

import json

from bench.commands._arguments import add_json
from bench.commands._exit import EXIT_OK

NAME = "list"
HELP = "list the workloads, their engines and units"


def add_arguments(p) -> None:
    add_json(p)


def main(args) -> int:
    import importlib

    from bench import text
    from workloads import registry

    workloads = registry.select(None)
    if args.json:
        print(
            json.dumps(
                [
                    {"workload": w.name, "engines": list(w.engines), "unit": w.unit}
                    for w in workloads
                ]
            )
        )
        return EXIT_OK
    print(f"{'workload':<16} {'engines':<16} {'unit':<14} what")
    for w in workloads:
        module = importlib.import_module(type(w).__module__)
        first = next(iter((module.__doc__ or "").strip().splitlines()), "")  # a plugin's: any
        summary = first.split("—", 1)[-1].strip()
        # a plugin's name, engines, unit and docstring are its author's text: the one seam
        name, engines = text.terminal(w.name), text.terminal(",".join(w.engines))
        print(f"{name:<16} {engines:<16} {text.terminal(w.unit):<14} {text.terminal(summary)}")
    return EXIT_OK
