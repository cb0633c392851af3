"""Progress of a long command (run, calibrate, verify) on stderr.

In a terminal: one live line, redrawn in place — the current benchmark, n of N, elapsed time
and the estimated time left. Elsewhere (CI logs, pipes): one line per finished benchmark, so
a log shows what ran and how long it took without carriage-return noise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds}s"


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, live: bool | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.total = total
        self.done = 0
        self.current: str | None = None
        self.started = time.monotonic()
        self.current_started = self.started
        self.width = 0

    def eta_s(self) -> float | None:
        """Seconds left: the mean time of the finished benchmarks times those left."""
        if not self.done:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / self.done * max(self.total - self.done, 0)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        eta = self.eta_s()
        left = f"ETA {_clock(eta)}" if eta is not None else "ETA after the first benchmark"
        name = self.current or ""
        return (
            f"[{min(self.done + 1, self.total)}/{self.total}] {name}  "
            f"{_clock(elapsed)} elapsed, {left}"
        )

    def start(self, name: str) -> None:
        self.current = name
        self.current_started = time.monotonic()
        self.draw()

    def finish(self, name: str) -> None:
        took = time.monotonic() - self.current_started
        self.done += 1
        if not self.live:
            eta = self.eta_s() or 0.0
            print(
                f"[{self.done}/{self.total}] {name} done in {took:.1f}s "
                f"({_clock(time.monotonic() - self.started)} elapsed, ETA {_clock(eta)})",
                file=self.stream,
                flush=True,
            )
        self.current = None

    def draw(self) -> None:
        """Redraw the live line (called on start and on a timer while a benchmark runs)."""
        if not self.live or self.current is None:
            return
        text = self.line()
        pad = max(self.width - len(text), 0)
        self.width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()

    def close(self) -> None:
        """Leave the terminal on a fresh line."""
        if self.live and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
