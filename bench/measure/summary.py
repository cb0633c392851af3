"""The counts of a run, per benchmark and per unit of work: printed after
``bankbench run --measure instructions`` (instead of its times, which are Valgrind's) and
``--measure counters`` (after the times)."""

from __future__ import annotations

from bench import text
from bench.measure.counts import per_unit_of

COLUMNS = (
    ("instructions", "instr/unit"),
    ("cycles", "cycles/unit"),
    ("ipc", "IPC"),
    ("l1d_misses", "L1D miss/unit"),
    ("llc_misses", "LL miss/unit"),
    ("branch_misses", "br miss/unit"),
)


def rows(samples: list[dict]) -> tuple[list[list[str]], list[str]]:
    """Table rows (benchmark, scope, one cell per column) and the reasons for unknowns."""
    by_benchmark: dict[str, list[dict]] = {}
    for sample in samples:
        by_benchmark.setdefault(sample["benchmark"], []).append(sample)
    table, reasons = [], []
    for name in sorted(by_benchmark):
        values, unknown = per_unit_of(by_benchmark[name])
        if unknown and unknown not in reasons:
            reasons.append(unknown)
        cells = ["unknown" if values[key] is None else f"{values[key]:,.2f}" for key, _ in COLUMNS]
        table.append([name, by_benchmark[name][0].get("counts_scope") or "", *cells])
    return table, reasons


def print_table(samples: list[dict]) -> None:
    table, reasons = rows(samples)
    header = ["benchmark", "scope", *(label for _, label in COLUMNS)]
    body = [[text.terminal(row[0], text.CELL_WIDTH), *row[1:]] for row in table]
    widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(header))]
    for row in (header, *body):
        print(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(
        "scope: core = inside the C core's calls, every thread, barrier waits and "
        "malloc/free left out; call = the whole call, interpreter included"
    )
    for reason in reasons:
        print(f"unknown: {text.terminal(reason)}")
