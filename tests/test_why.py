"""The report's "why" section: counts per unit side by side, one plain sentence a row."""

from __future__ import annotations

from types import SimpleNamespace

from bench.compare.counts import CountRow
from reports import why
from reports.document import Table


def row(base: dict, cand: dict, unit: str = "transfers") -> CountRow:
    keys = ("instructions", "cycles", "ipc", "l1d_misses", "llc_misses", "branch_misses")
    return CountRow(
        "ledger.post[c-1t-1.0]",
        unit,
        {k: base.get(k) for k in keys},
        {k: cand.get(k) for k in keys},
    )


def counters(instructions, ipc, misses, branch_misses=1.0):
    return {
        "instructions": instructions,
        "cycles": instructions / ipc,
        "ipc": ipc,
        "l1d_misses": misses,
        "llc_misses": misses / 10,
        "branch_misses": branch_misses,
    }


def test_more_instructions_blames_the_compiler_or_instruction_set_across_machines():
    text = why.sentence(row(counters(1000, 1.5, 5), counters(1300, 1.5, 5)), same_arch=False)
    assert text == (
        "the candidate executes 1.30× the instructions per transfer (more): "
        "the compiler or instruction set differs"
    )


def test_lower_ipc_with_more_misses_is_memory_bound():
    text = why.sentence(row(counters(1000, 1.4, 5), counters(1000, 0.6, 15)), same_arch=True)
    assert text == "IPC 0.60 against 1.40 with 3.0× the cache misses: memory-bound on the candidate"


def test_lower_ipc_with_the_same_misses_is_the_core():
    text = why.sentence(
        row(counters(1000, 2.0, 5, 1.0), counters(1000, 1.5, 5, 2.0)), same_arch=False
    )
    assert "the core itself" in text and "2.0× the branch mispredictions" in text


def test_same_counts_leave_the_clock():
    text = why.sentence(row(counters(1000, 2.0, 5), counters(1010, 2.0, 5)), same_arch=False)
    assert "clock speed" in text


def test_instruction_counts_without_cycles():
    base = {"instructions": 1000, "l1d_misses": 5, "llc_misses": 1, "branch_misses": 1}
    assert "the same work" in why.sentence(row(base, dict(base)), same_arch=True)
    more = {**base, "instructions": 1100}
    assert "the code does more work" in why.sentence(row(base, more), same_arch=True)


def test_unknown_counts_say_why():
    r = row({"instructions": None}, {"instructions": None})
    r.unknown = "no PMU: perf_event_open fails with ENOENT"
    assert why.sentence(r, same_arch=True) == "unknown: no PMU: perf_event_open fails with ENOENT"


def _samples(run_id, instructions, cycles, source="perf"):
    return [
        {
            "run_id": run_id,
            "benchmark": f"{w}[c-{t}t-1.0]",
            "workload": w,
            "engine": "c",
            "threads": t,
            "units": 100,
            "scale": 1.0,
            "seed": 42,
            "mode": "batch",
            "batch_size": None,
            "instructions": instructions,
            "cycles": cycles,
            "branches": 10,
            "branch_misses": 1,
            "l1d_misses": 5,
            "llc_misses": 1,
            "counts_source": source,
            "counts_unknown": None,
        }
        for w in ("ledger.post", "loan.score")
        for t in (1, 2)
    ]


def _machine(name, arch, samples):
    return SimpleNamespace(name=name, fingerprint={"arch": arch}, samples=samples)


def test_section_has_one_row_per_workload_at_one_thread_when_both_runs_counted():
    report = SimpleNamespace(
        machines=[
            _machine("x86", "x86_64", _samples("a", 1000, 500)),
            _machine("arm", "aarch64", _samples("b", 1300, 650)),
        ]
    )
    blocks = why.section(report)
    table = next(b for b in blocks if isinstance(b, Table))
    assert [r[0] for r in table.rows] == ["ledger.post", "loan.score"]
    assert table.rows[0][1] == "10.0 / 13.0" and table.rows[0][3] == "2.00 / 2.00"
    assert "compiler or instruction set" in table.rows[0][-1]


def test_no_section_when_a_run_has_no_counts():
    timed = [{**s, "counts_source": None} for s in _samples("b", None, None)]
    report = SimpleNamespace(
        machines=[_machine("x86", "x86_64", _samples("a", 1000, 500)), _machine("t", "x", timed)]
    )
    assert why.section(report) == []


def test_counts_of_two_counting_methods_are_not_set_side_by_side():
    """The why table compared callgrind/1 counts with callgrind/2 ones (the allocator in and
    out of the count), which compare refuses: it refuses with compare's own sentence."""
    from bench.compare import counts as compare_instructions
    from reports.document import Paragraph

    counted = {"measure": "instructions"}
    base = [{**s, **counted} for s in _samples("a", 1000, None, source="callgrind/1")]
    cand = [{**s, **counted} for s in _samples("b", 800, None, source="callgrind/2")]
    report = SimpleNamespace(
        machines=[_machine("old", "x86_64", base), _machine("new", "x86_64", cand)]
    )
    blocks = why.section(report)
    assert not any(isinstance(b, Table) for b in blocks)
    refusal = compare_instructions.compare({"run_id": "a"}, {"run_id": "b"}, base, cand).refusals[0]
    assert "counted by different methods (callgrind/1 vs callgrind/2)" in refusal
    (said,) = [b.text for b in blocks if isinstance(b, Paragraph)]
    assert said == f"new against old: not compared: {refusal}."
    same = _samples("b", 800, None, source="callgrind/1")
    report.machines[1] = _machine("new", "x86_64", same)
    assert any(isinstance(b, Table) for b in why.section(report))
