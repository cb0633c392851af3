"""What every part of the audit shares: the audited Target, the audit's error, the tools it
runs and where the installed sources lie."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
from dataclasses import dataclass, field

from workloads.errors import BankbenchError

NATIVE = pathlib.Path(__file__).resolve().parents[2] / "native"
PLUGIN_PREFIX = "plugin "  # a plugin target's name begins so: findings name the plugin by it


class AuditError(BankbenchError):
    """The audit cannot run (a tool is missing, or the sources do not compile)."""


@dataclass
class Target:
    """One audited build: the installed core, or the sources cross-compiled."""

    name: str
    arch: str
    label: str
    flags: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    proved: list[str] = field(default_factory=list)  # what the compilations proved alike
    not_proved: list[str] = field(default_factory=list)  # and what they could not, and why

    @property
    def code(self) -> str:
        """Whose code a finding is about: "the core's" or "plugin acme.accrual's"."""
        if self.name.startswith(PLUGIN_PREFIX):
            return f"plugin {self.name[len(PLUGIN_PREFIX) :].split(':', 1)[0]}'s"
        return "the core's"


def tool(*names: str) -> str:
    for name in names:
        if path := shutil.which(name):
            return path
    raise AuditError(
        f"{names[0]} not found; install binutils (and gcc-aarch64-linux-gnu for --cross)"
    )


# a compiler or objdump call takes seconds, minutes under qemu-user, whose forked child can hang
# before its exec (seen once in the emulated aarch64 root): killed at this bound, tried again
TOOL_TIMEOUT_S = 600


def check_output(command: list[str]) -> str:
    try:
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, check=True, timeout=TOOL_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            done = subprocess.run(
                command, capture_output=True, text=True, check=True, timeout=TOOL_TIMEOUT_S
            )
        return done.stdout
    except subprocess.TimeoutExpired:
        raise AuditError(
            f"{pathlib.Path(command[0]).name} took over {TOOL_TIMEOUT_S} s twice"
        ) from None
    except subprocess.CalledProcessError as error:
        first = (error.stderr or "").strip().splitlines()[:1]
        raise AuditError(
            f"{pathlib.Path(command[0]).name} failed: {first[0] if first else error}"
        ) from None
