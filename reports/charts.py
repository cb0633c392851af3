"""The report's charts, drawn with matplotlib's Figure API (no pyplot, no global state) to PNG.

Labels come from results files, so math-text parsing is off: a '$' in a hostname is text.
"""

from __future__ import annotations

import io
import math

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from bench.samples import LATENCY_QUANTILES

matplotlib.rcParams.update({"text.parse_math": False, "font.size": 9, "svg.fonttype": "path"})
VERDICT_COLOURS = {
    "better": "#1a7f37",
    "worse": "#cf222e",
    "no significant difference": "#57606a",
}
MACHINE_COLOURS = ("#0969da", "#bc4c00", "#8250df", "#1a7f37", "#cf222e", "#57606a")


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return out.getvalue()


def _log_x(ax, low: float, high: float, mark: float | None = None) -> None:
    """A log x axis over [low, high] with about six plain-number ticks (the default labels are
    math text, which is off), plus ``mark`` if given."""
    ax.set_xscale("log")
    ticks = {float(f"{v:.2g}") for v in np.geomspace(low, high, 6)} | ({mark} if mark else set())
    ax.set_xticks(sorted(ticks), [f"{v:g}" for v in sorted(ticks)])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _colour(index: int) -> str:
    return MACHINE_COLOURS[index % len(MACHINE_COLOURS)]


def forest(rows: list[tuple[str, float, float, float, str]], title: str) -> bytes:
    """rows: (label, ratio, ci_low, ci_high, verdict); a log-scale forest plot around 1."""
    fig = Figure(figsize=(7.5, 0.28 * len(rows) + 1.2))
    ax = fig.subplots()
    for y, (_label, ratio, low, high, verdict) in enumerate(reversed(rows)):
        colour = VERDICT_COLOURS.get(verdict, "#57606a")
        ax.errorbar(
            ratio,
            y,
            xerr=[[ratio - low], [high - ratio]],
            fmt="o",
            color=colour,
            markersize=4,
            capsize=2,
        )
    ax.axvline(1.0, color="#8c959f", linewidth=1, linestyle="--")
    ax.set_yticks(range(len(rows)), [r[0] for r in reversed(rows)])
    _log_x(ax, min(r[2] for r in rows), max(r[3] for r in rows), mark=1.0)
    ax.set_xlabel("throughput ratio, candidate / baseline (log scale; > 1: candidate faster)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def latency_cdf(series: list[tuple[str, list[int]]]) -> bytes:
    """series: (label, latency ns at LATENCY_QUANTILES); the per-application latency CDF."""
    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.subplots()
    every = []
    for i, (label, quantiles_ns) in enumerate(series):
        micros = [max(q, 1) / 1000 for q in quantiles_ns]
        every += micros
        ax.step(micros, LATENCY_QUANTILES, where="post", label=label, color=_colour(i))
    _log_x(ax, min(every), max(every))
    ax.set_xlabel("latency per application, µs (log scale)")
    ax.set_ylabel("percentile")
    ax.set_ylim(0, 100.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("loan.decide online latency, one application per call")
    return _png(fig)


def scaling(curves: dict[str, list[tuple[str, list[int], list[float]]]]) -> bytes:
    """curves: workload → [(machine, threads, parallel efficiency)]; small multiples."""
    names = sorted(curves)
    columns = 3
    rows = max(1, math.ceil(len(names) / columns))
    fig = Figure(figsize=(7.5, 2.3 * rows + 0.4))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names, strict=False):
        for i, (machine, threads, efficiency) in enumerate(curves[name]):
            ax.plot(threads, efficiency, marker="o", markersize=3, color=_colour(i), label=machine)
        ax.axhline(1.0, color="#8c959f", linewidth=0.8, linestyle="--")
        ax.set_title(name, fontsize=8)
        ax.set_ylim(0, 1.3)
        ax.set_xlabel("threads", fontsize=7)
        ax.set_ylabel("efficiency", fontsize=7)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=6, loc="lower left")
    fig.suptitle("parallel efficiency: rate(t) / (t × rate(1)); 1 = linear scaling")
    fig.tight_layout()
    return _png(fig)


def grouped_bars(
    groups: list[str], series: list[tuple[str, list[float]]], ylabel: str, title: str
) -> bytes:
    """One bar per (group, series); NaN for a missing value."""
    fig = Figure(figsize=(7.5, 3.4))
    ax = fig.subplots()
    width = 0.8 / max(1, len(series))
    for i, (label, values) in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, values, width=width, label=label, color=_colour(i))
    ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def tornado(rows: list[dict], base_saving: float, title: str) -> bytes:
    """rows: {input, low, high} savings at −20 % and +20 % of each input, widest first."""
    fig = Figure(figsize=(7.5, 0.32 * len(rows) + 1.3))
    ax = fig.subplots()
    for y, row in enumerate(reversed(rows)):
        low, high = row["low"] * 100, row["high"] * 100
        ax.barh(y, low - base_saving * 100, left=base_saving * 100, color="#0969da", height=0.6)
        ax.barh(y, high - base_saving * 100, left=base_saving * 100, color="#bc4c00", height=0.6)
    ax.axvline(base_saving * 100, color="#24292f", linewidth=1)
    ax.axvline(0, color="#cf222e", linewidth=1, linestyle="--")
    ax.set_yticks(range(len(rows)), [r["input"] for r in reversed(rows)])
    ax.set_xlabel(
        "candidate fleet TCO saving, % of the baseline's (blue: input −20 %, orange: +20 %)"
    )
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)
