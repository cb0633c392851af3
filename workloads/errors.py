"""The one exception hierarchy of bankbench. The CLI catches BankbenchError in one place and
prints its message as a single line; anything else is a programmer error."""

from __future__ import annotations


class BankbenchError(Exception):
    """An operating error with a message a user can act on (what, where, how to fix)."""

    exit_code = 2


class InputError(BankbenchError, ValueError):
    """Input data, a table, a file or a parameter is malformed."""


class UnknownNameError(BankbenchError, LookupError):
    """A workload, engine or other name that does not exist; the message lists valid ones."""

    def __str__(self) -> str:  # LookupError would quote the message like a dict key
        return str(self.args[0]) if self.args else ""


class NativeError(BankbenchError):
    """The C core returned a failing status for a whole call."""

    def __init__(self, message: str, code: int, code_name: str):
        super().__init__(message)
        self.code = code
        self.code_name = code_name


class PluginError(BankbenchError):
    """A workload plugin (an entry point in group ``bankbench.workloads``) that cannot be
    used: not importable, an incomplete interface, a wrong schema, a name that is taken."""


class Stopped(KeyboardInterrupt):
    """A run asked to stop by a signal (SIGTERM, or Ctrl-C's SIGINT): not an error. The CLI
    exits 128 + its number, as a shell reports a process the signal ended (143, 130)."""

    def __init__(self, signal_number: int):
        super().__init__(signal_number)
        self.signal_number = signal_number
        self.run_id: str | None = None  # the run it left incomplete, once one was stored
