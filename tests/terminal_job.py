"""Start a command as a terminal starts a foreground job, and interrupt it as a user does.

A terminal's job has its own process group and takes Ctrl-C (SIGINT's default action). A
process started from a background shell job or a CI runner may inherit SIGINT *ignored*, and
Python then leaves it ignored: a Ctrl-C test run there would see the run finish (exit 0) and
fail for the wrong reason, so the job's SIGINT is set back to its default before exec."""

from __future__ import annotations

import os
import signal
import subprocess


def _take_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(command: list[str]) -> subprocess.Popen:
    """``command`` in its own session and process group, SIGINT at its default, output dropped."""
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_take_ctrl_c,
    )


def interrupt(job: subprocess.Popen, signal_name: str) -> None:
    """SIGINT as Ctrl-C sends it (to the whole foreground group, workers too); any other
    signal to the job's first process only, as kill does."""
    number = getattr(signal, signal_name)
    if number == signal.SIGINT:
        os.killpg(job.pid, number)
    else:
        job.send_signal(number)


def kill_if_running(job: subprocess.Popen) -> None:
    if job.poll() is None:
        os.killpg(job.pid, signal.SIGKILL)
