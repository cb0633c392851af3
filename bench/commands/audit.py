"""``bankbench audit``: the compiled core's (and each plugin's) flags, instructions and
sources."""

from __future__ import annotations

import json

from bench.commands._arguments import add_json, names
from bench.commands._exit import EXIT_MISMATCH, EXIT_OK

NAME = "audit"
HELP = (
    "check the compiled core and each plugin's C: flags, no float/SVE, atomics, code proved "
    "by compiling"
)
EPILOG = (
    "examples:\n  bankbench audit\n  bankbench audit --cross aarch64   "
    "# also the sources compiled with aarch64-linux-gnu-gcc\n"
    "exit status: 0 clean, 1 a finding, 2 a tool is missing"
)


def add_arguments(p) -> None:
    p.add_argument(
        "--cross",
        type=names,
        help="also cross-compile the sources for these architectures (e.g. aarch64)",
    )
    add_json(p)


def main(args) -> int:
    from bench import audit

    targets, source_problems = audit.run(args.cross or [])
    if args.json:
        print(
            json.dumps(
                {
                    "targets": [t.__dict__ for t in targets],
                    "sources": source_problems,
                    "ok": not source_problems and not any(t.errors for t in targets),
                },
                indent=1,
            )
        )
    else:
        for t in targets:
            print(f"{t.name} ({t.arch}, {t.label}): {'FAILED' if t.errors else 'OK'}")
            print(f"  flags: {' '.join(t.flags)}")
            print("  " + " · ".join(f"{k} {v}" for k, v in t.counts.items()))
            if t.facts:
                print("  platform: " + " · ".join(f"{k} {v}" for k, v in t.facts.items()))
            for line in t.notes:
                print(f"  {line}")
            for line in t.errors:
                print(f"  ERROR: {line}")
        print(
            "sources: "
            + (
                f"OK ({audit.summary(targets)})"
                if not source_problems
                else f"FAILED ({len(source_problems)} differences, named above)"
            )
        )
    failed = source_problems or any(t.errors for t in targets)
    return EXIT_MISMATCH if failed else EXIT_OK
