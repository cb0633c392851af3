"""What the audit found, in one line for the CLI: what the compilations proved alike for
every target, what they could not, and which errors are findings about the sources."""

from __future__ import annotations

from bench.audit._common import Target
from bench.audit.targets import cross, installed


def summary(targets: list[Target]) -> str:
    """What the compilations proved alike for every target, and what they could not prove."""
    proved = list(dict.fromkeys(s for t in targets for s in t.proved))
    missing = [s for t in targets for s in t.not_proved if s.split(" (")[0] not in proved]
    text = "proved alike by compiling: " + ", ".join(proved) if proved else "nothing proved"
    if missing:
        text += "; not proved: " + ", ".join(dict.fromkeys(missing))
    return text


def run(cross_arches: list[str]) -> tuple[list[Target], list[str]]:
    """The audited targets, and the differences that the compilations proved (every target's
    lines that name a setting, for the CLI's summary)."""
    from bench.audit.plugins import owner, plugin_targets

    targets = [installed(), *[cross(a) for a in cross_arches], *plugin_targets(cross_arches)]
    proved = [f"{owner(t)}: {e}" for t in targets for e in t.errors if _is_source_finding(e)]
    return targets, proved


def _is_source_finding(error: str) -> bool:
    return any(
        words in error
        for words in (
            " changes the object code of ",
            "the architecture chooses the code",
            "(wchar_t: ",
        )
    )
