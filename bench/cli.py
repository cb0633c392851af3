"""The ``bankbench`` command. Each command lives in bench.commands (its arguments and its
output); this module assembles them, and every operating error is caught here, in one place,
and printed as one line: what went wrong, where, and how to fix it."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import NoReturn

from bench import __version__
from bench.commands import COMMANDS
from bench.commands._exit import (  # noqa: F401  (re-exported: the statuses scripts test for)
    EXIT_CANNOT_DECIDE,
    EXIT_ERROR,
    EXIT_MISMATCH,
    EXIT_NOT_COMPARABLE,
    EXIT_OK,
    EXIT_OUTPUTS_DIFFER,
    EXIT_REGRESSION,
)
from workloads.errors import BankbenchError, InputError

EPILOG = """examples:
  bankbench list                          the workloads, their engines and units
  bankbench env                           this host: CPU (MIDR on Arm), cores, NUMA, pages, build
  bankbench run --profile smoke           every workload and engine in seconds, into ./results
  bankbench run -p standard --label kunpeng-a --store s3://bucket/bankbench
  bankbench run -w 'ledger.*' -e c -t max -s 1
  bankbench runs                          the runs in the store; `bankbench show RUN` again
  bankbench import other-project.json     pytest-benchmark JSON files into the store
  bankbench compare x86-a kunpeng-a --format markdown --fail-on-regression 5
  bankbench calibrate -p standard -e c    this host's noise floor (A/A)
  bankbench verify                        every workload, engine and 1/2 threads vs golden digests
  bankbench verify -w 'loan.*' -e c -t 1,2,4
  bankbench verify --json > verify.json   machine-readable, for CI
"""


class _OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line with the fix, not argparse's usage block first; exit 2."""

    def error(self, message: str) -> NoReturn:
        from bench import text

        self.exit(2, f"bankbench: error: {text.terminal(message)}; see `{self.prog} --help`\n")


def parser() -> argparse.ArgumentParser:
    top = _OneLineParser(
        prog="bankbench",
        description="Benchmark and migration suite for core-banking compute "
        "(x86-64 and Arm): proves bit-identical results, measures speed.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    top.add_argument("--version", action="version", version=f"bankbench {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(
            command.NAME,
            help=command.HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=getattr(command, "EPILOG", None),
        )
        command.add_arguments(p)
        p.set_defaults(func=command.main)
    return top


def _check_engines(args) -> None:
    from workloads import registry

    engines = getattr(args, "engines", None)
    if engines:
        known = sorted({e for w in registry.select(None) for e in w.engines})
        unknown = [e for e in engines if e not in known]
        if unknown:
            raise InputError(f"unknown engine '{unknown[0]}'; valid: {', '.join(known)}")


def _one_line(error: BaseException) -> str:
    """An error's message made safe: it may quote a label or a run id from the store."""
    from bench import text

    return text.terminal(error)


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    from bench import text

    # one line, no source echo; the message may quote a label or an imported name
    print(f"bankbench: warning: {text.terminal(message)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.showwarning = _warning_line
    args = parser().parse_args(argv)
    if not getattr(args, "func", None):
        parser().print_help()
        return EXIT_ERROR
    try:
        _check_engines(args)
        return args.func(args)
    except BankbenchError as error:
        print(f"bankbench: error: {_one_line(error)}", file=sys.stderr)
        return error.exit_code
    except ImportError as error:  # the C core was never built
        print(f"bankbench: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as stop:
        # only a run that was stored is named: one stopped while probing stored nothing,
        # and other commands store no run at all
        run_id = getattr(stop, "run_id", None)
        kept = (
            f"; run {run_id} keeps the benchmarks that finished and is marked incomplete"
            if run_id
            else ""
        )
        print(f"\nbankbench: interrupted{kept}", file=sys.stderr)
        return 128 + getattr(stop, "signal_number", signal.SIGINT)
    except BrokenPipeError:  # the reader went away (| head): not an error
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
