"""The comparability contract of ``bankbench compare``: what makes two runs, and two benchmarks
of them, comparable at all (of times; counts keep their own rules in bench.compare.counts).

A benchmark is its KEY (the same workload, engine, threads, scale, seed, mode and batch size
on both sides). Outputs whose digests differ are a correctness finding, reported before any
speed and never compared; emulated runs are refused for timing; other software differences
(compiler, flags, Python, kernel…) are listed and must be allowed by name (--allow).

Different native sources: where both runs' samples record their workload's own source hash and
version (``workload_source_sha256``, ``workload_version``), exactly the benchmarks whose hash
or version differs are refused ("not comparable: source changed" / "…: workload version
changed"), each named, and the others still compare. Runs stored without those columns fall
back to the whole C core's ``source_sha256``: when it differs, no timing is compared.
"""

from __future__ import annotations

from bench import summary
from bench.commands._exit import EXIT_NOT_COMPARABLE
from bench.compare.comparison import KEY, Comparison
from bench.fingerprint import emulation
from bench.records import RunRecord
from bench.text import visible
from workloads.errors import BankbenchError, InputError

SOFTWARE_FIELDS = {  # what may differ between the runs only when named in --allow
    "compiler": ("build", "compiler"),
    "flags": ("build", "flags"),
    "build_label": ("build", "label"),
    "python": ("fingerprint", "python"),
    "kernel": ("fingerprint", "kernel"),
    "os": ("fingerprint", "os"),
    "libc": ("fingerprint", "libc"),
    "cffi": ("build", "cffi_version"),
    # freed memory kept or given back: loan.schedule's time halves (bench/allocator.py)
    "allocator": ("fingerprint", "allocator"),
}
HARDWARE_FIELDS = (
    "arch",
    "cpu_model",
    "midr_implementer",
    "midr_part",
    "sockets",
    "physical_cores",
    "logical_cpus",
    "threads_per_core",
    "memory_bytes",
    "page_size_bytes",
    "transparent_hugepages",
    "cpufreq_governor",
)


def difference(before: object, after: object) -> tuple[str, str]:
    """Two values of a field as the part that differs: for space-separated words (compiler
    flags) the words removed and added, so a long common prefix does not hide the change; a
    field a run did not record (an older run) says so."""
    if before is None or after is None:
        return (
            "not recorded" if before is None else str(before),
            "not recorded" if after is None else str(after),
        )
    if isinstance(before, str) and isinstance(after, str) and " " in before + after:
        old, new = before.split(), after.split()
        removed = [w for w in old if w not in new]
        added = [w for w in new if w not in old]
        if removed or added:
            return " ".join(removed) or "(none)", " ".join(added) or "(none)"
    return str(before), str(after)


def facts(run: dict) -> dict:
    record = RunRecord.from_row(run)  # the one place the JSON columns are decoded
    return {"fingerprint": record.fingerprint or {}, "build": record.build or {}}


def ran_emulated(run: dict) -> bool:
    """Whether a run was timed under emulation: its runs-table column, or the fingerprint in the
    same row (its flag or its facts), says so; one edited field does not make it comparable."""
    recorded = facts(run)["fingerprint"]
    emulation_facts = recorded.get("emulation_facts") or {}
    return bool(run.get("emulated") or recorded.get("emulated") or emulation(emulation_facts))


def contract(
    baseline: dict, candidate: dict, allow: set[str], per_workload_sources: bool = False
) -> Comparison:
    """The run-level contract. ``per_workload_sources``: both runs' samples record each
    workload's source hash, so the benchmarks are judged one by one (refused_benchmarks) and the
    whole core's source_sha256 refuses nothing here."""
    if baseline["run_id"] == candidate["run_id"]:
        raise InputError(
            f"run {visible(baseline['run_id'])} is compared with itself; name two runs "
            "(for this host's noise floor, run `bankbench calibrate`)"
        )
    result = Comparison(baseline, candidate)
    a, b = facts(baseline), facts(candidate)
    for name, run in (("baseline", baseline), ("candidate", candidate)):
        if ran_emulated(run):
            result.refusals.append(
                f"the {name} ran emulated ({run['run_id']}): its timings are invalid"
            )
        status = run.get("status") or "complete"
        if status not in ("complete", "imported"):  # an imported run is first-class
            result.incomplete.append(f"the {name} ({run['run_id']}) is {status}")
    core_sources = (a["build"].get("source_sha256"), b["build"].get("source_sha256"))
    if not per_workload_sources and core_sources[0] != core_sources[1]:
        result.refusals.append(_sources_refusal(core_sources))
    for name, (part, key) in SOFTWARE_FIELDS.items():
        if a[part].get(key) != b[part].get(key):
            result.differences[name] = (a[part].get(key), b[part].get(key))
            if name not in allow:
                result.not_allowed.append(name)
    for key in HARDWARE_FIELDS:
        if a["fingerprint"].get(key) != b["fingerprint"].get(key):
            result.differences[key] = (a["fingerprint"].get(key), b["fingerprint"].get(key))
    return result


def _sources_refusal(core_sources: tuple) -> str:
    """Why two runs' C cores are not known to be one program: their hashes differ, or a side
    recorded none (an imported file, or a run from before the hash), which proves nothing."""
    unknown = [
        side for side, sha in zip(("baseline", "candidate"), core_sources, strict=True) if not sha
    ]
    if not unknown:
        return "the C core's sources differ (source_sha256): these are different programs"
    return (
        f"the {' and the '.join(unknown)} recorded no hash of the C core's sources "
        "(source_sha256: an imported file, or a run from before it was kept), so nothing "
        "says both sides ran one program; compare the runs themselves, or two imports"
    )


def output_parity(
    base_samples: list[dict], cand_samples: list[dict], every_output: bool = False
) -> dict[tuple, str]:
    """The one definition of "outputs differ", used by compare, summary and the report: per
    output (a workload at one scale, seed and batch size, whatever the engine and thread
    count; summary.output_key), 'same', 'DIFFERS' (the digests on the two sides differ) or
    'inconsistent' (one side's own engines or thread counts disagree). Outputs run on one
    side only are absent, unless ``every_output`` (the cross-architecture digest gate, where
    an output missing on one side, or run there without a digest, proves nothing and so
    fails): then they are 'not run on the baseline' (or candidate) or 'no digest on …'."""
    a, b = summary.digest_sets(base_samples), summary.digest_sets(cand_samples)
    verdicts = {}
    for key in sorted(set(a) & set(b), key=repr):
        if len(a[key]) > 1 or len(b[key]) > 1:
            verdicts[key] = "inconsistent"
        else:
            verdicts[key] = "same" if a[key] == b[key] else "DIFFERS"
    if every_output:
        ran = {"baseline": _outputs(base_samples), "candidate": _outputs(cand_samples)}
        digested = {"baseline": a, "candidate": b}
        for side, other in (("baseline", "candidate"), ("candidate", "baseline")):
            for key in ran[other] - ran[side]:
                verdicts[key] = f"not run on the {side}"
            for key in ran[side] - digested[side].keys():
                verdicts.setdefault(key, f"no digest on the {side}")
    return verdicts


def _outputs(samples: list[dict]) -> set[tuple]:
    return {summary.output_key(s) for s in samples}


def output_finding(key: tuple, verdict: str) -> str:
    """One output that is not the same on both sides, as compare prints it."""
    output = f"{key[0]} (scale {key[1]:g}, seed {key[2]})"
    return output if verdict in ("DIFFERS", "inconsistent") else f"{output}: {verdict}"


class NotComparableError(BankbenchError):
    """Two runs whose timings cannot be compared at all (the report refuses them as compare
    does, with compare's exit status)."""

    exit_code = EXIT_NOT_COMPARABLE


SOURCE_CHANGED = "source changed"
VERSION_CHANGED = "workload version changed"


def group_by_key(samples: list[dict]) -> dict[tuple, list[dict]]:
    """A run's samples by benchmark (the KEY fields): the one grouping of times and counts."""
    grouped: dict[tuple, list[dict]] = {}
    for s in samples:
        grouped.setdefault(tuple(s.get(k) for k in KEY), []).append(s)
    return grouped


def sources_per_workload(samples: list[dict]) -> bool:
    """Whether every sample records its workload's own source hash (stores written before the
    column, and imported runs, do not: they are judged by the run's one source hash)."""
    return bool(samples) and all(s.get("workload_source_sha256") for s in samples)


def why_benchmark_refused(base: list[dict], cand: list[dict]) -> str | None:
    """Why one benchmark's samples on the two sides are not comparable, or None: its
    workload's source hash differs (SOURCE_CHANGED), else its version (VERSION_CHANGED). A
    version absent on a side is unknown, not a change."""
    sources = [{s.get("workload_source_sha256") for s in side} for side in (base, cand)]
    if sources[0] != sources[1]:
        return SOURCE_CHANGED
    versions = [{s.get("workload_version") for s in side} - {None} for side in (base, cand)]
    if versions[0] and versions[1] and versions[0] != versions[1]:
        return VERSION_CHANGED
    return None


def refused_benchmarks(pairs: list[tuple[list[dict], list[dict]]]) -> dict[str, str]:
    """Per benchmark in common (its samples on each side) that is not comparable, the reason
    (why_benchmark_refused), by the baseline's benchmark name."""
    refused = {}
    for base, cand in pairs:
        reason = why_benchmark_refused(base, cand)
        if reason:
            refused[base[0]["benchmark"]] = reason
    return refused


def refusal_lines(refused: dict[str, str]) -> list[str]:
    """The refused benchmarks as compare prints them: one line per reason, naming each."""
    reasons: dict[str, list[str]] = {}
    for name, reason in refused.items():
        reasons.setdefault(reason, []).append(name)
    return [
        f"not comparable: {reason}: {', '.join(sorted(names))}" for reason, names in reasons.items()
    ]
