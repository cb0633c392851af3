"""The report's charts, drawn with matplotlib's Figure API (no pyplot, no global state) to PNG.

Labels come from results files, so math-text parsing is off (a '$' in a hostname is text)
and every label passes bench.text.chart (controls shown escaped, cut with an ellipsis).
Colours are the Okabe–Ito palette (distinguishable with the common colour-vision
deficiencies), each series also has its own marker and line style, every figure has a legend,
and log axes are ticked at 1-2-5 steps.
"""

from __future__ import annotations

import io
import math

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from bench import text as seam
from bench.samples import LATENCY_QUANTILES
from reports import fonts

matplotlib.rcParams.update({"text.parse_math": False, "font.size": 9, "svg.fonttype": "path"})


def _use_cjk_fallback() -> None:
    """DejaVu Sans first, then the system's CJK font where it has one (matplotlib takes each
    glyph from the first font of font.family that has it; a generic family such as
    sans-serif would give one font only)."""
    from matplotlib import font_manager

    fallback = fonts.cjk_fallback()
    if fallback is None:
        return
    font_manager.fontManager.addfont(fallback)
    name = font_manager.FontProperties(fname=fallback).get_name()
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", name]


_use_cjk_fallback()


def _label(text: object, width: int = seam.LABEL_WIDTH) -> str:
    """A chart's label: seam.chart with the charts' fonts (a character none draws as its
    code point)."""
    return seam.chart(text, width, drawn=fonts.is_drawn)


# Okabe & Ito (2008): blue, orange, bluish green, vermillion, reddish purple, sky blue
MACHINE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")
MARKERS = ("o", "s", "^", "D", "v", "P")
LINES = ("-", "--", "-.", ":", "-", "--")
VERDICT_COLOURS = {
    "better": "#009E73",
    "worse": "#D55E00",
    "no significant difference": "#555555",
    "insufficient evidence": "#AAAAAA",
}
VERDICT_MARKERS = {"better": "^", "worse": "v", "no significant difference": "o"}


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return out.getvalue()


def ticks_125(low: float, high: float) -> list[float]:
    """1-2-5 steps (…, 0.5, 1, 2, 5, 10, …) from the last at or below ``low`` to the first at
    or above ``high``: the axis contains the data and starts and ends on a tick."""
    low, high = max(low, 1e-12), max(high, low * 1.0001)
    steps = [
        m * 10.0**e
        for e in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 2)
        for m in (1, 2, 5)
    ]
    first = max(v for v in steps if v <= low * (1 + 1e-9))
    last = min(v for v in steps if v >= high * (1 - 1e-9))
    ticks = [float(f"{v:.6g}") for v in steps if first <= v <= last]
    if len(ticks) > 10:  # many decades: the decades only, so the labels do not collide
        decades = [t for t in ticks if math.isclose(10 ** round(math.log10(t)), t)]
        ticks = sorted({ticks[0], *decades, ticks[-1]})
    return ticks


def _log_x(ax, low: float, high: float) -> None:
    """A log x axis ticked at 1-2-5 steps around [low, high], plain numbers (the default
    labels are math text, which is off)."""
    ax.set_xscale("log")
    ticks = ticks_125(low, high)
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.set_xlim(ticks[0], ticks[-1])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _colour(index: int) -> str:
    return MACHINE_COLOURS[index % len(MACHINE_COLOURS)]


def forest(rows: list[tuple[str, float, float, float, str]], title: str) -> bytes:
    """rows: (label, ratio, ci_low, ci_high, verdict); a log-scale forest plot around 1."""
    fig = Figure(figsize=(7.5, 0.28 * len(rows) + 1.6))
    ax = fig.subplots()
    for y, (_name, ratio, low, high, verdict) in enumerate(reversed(rows)):
        ax.errorbar(
            ratio,
            y,
            xerr=[[ratio - low], [high - ratio]],
            fmt=VERDICT_MARKERS.get(verdict, "o"),
            color=VERDICT_COLOURS.get(verdict, "#555555"),
            markersize=4.5,
            capsize=2,
        )
    ax.axvline(1.0, color="#444444", linewidth=1, linestyle="--")
    ax.set_yticks(range(len(rows)), [_label(r[0], 60) for r in reversed(rows)])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    _log_x(ax, min(min(r[2] for r in rows), 1.0), max(max(r[3] for r in rows), 1.0))
    ax.set_xlabel("work per second, candidate / baseline (log scale; > 1: candidate faster)")
    ax.set_title(_label(title, 90))
    ax.grid(axis="x", alpha=0.3)
    present = [v for v in VERDICT_COLOURS if any(r[4] == v for r in rows)]
    ax.legend(
        handles=[
            Line2D([], [], color=VERDICT_COLOURS[v], marker=VERDICT_MARKERS.get(v, "o"), label=v)
            for v in present
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.45 / (0.28 * len(rows) + 1.6) - 0.08),
        ncol=len(present),
        fontsize=7,
        frameon=False,
    )
    return _png(fig)


def latency_cdf(series: list[tuple[str, list[int]]]) -> bytes:
    """series: (label, latency ns at LATENCY_QUANTILES); the per-application latency CDF."""
    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.subplots()
    every = []
    for i, (label, quantiles_ns) in enumerate(series):
        micros = [max(q, 1) / 1000 for q in quantiles_ns]
        every += micros
        ax.step(
            micros,
            LATENCY_QUANTILES,
            where="post",
            label=_label(label),
            color=_colour(i),
            linestyle=LINES[i % len(LINES)],
        )
    _log_x(ax, min(every), max(every))
    ax.set_xlabel("latency per application, µs (log scale)")
    ax.set_ylabel("percentile")
    ax.set_ylim(0, 100.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("loan decisions, one application per call: latency per application")
    return _png(fig)


Curves = dict[str, list[tuple[str, list[int], list[float]]]]


def scaling(curves: Curves, weak: Curves | None = None) -> bytes:
    """curves: workload → [(machine, threads, parallel efficiency)], the strong (fixed-work)
    curves; ``weak``: the weak-scaling ones (work per thread fixed), drawn in each machine's
    colour and marker, dotted with open markers. Small multiples, one per workload."""
    weak = weak or {}
    names = sorted(set(curves) | set(weak))
    machines = list(dict.fromkeys(m for c in (curves, weak) for s in c.values() for m, *_ in s))
    columns = 3
    rows = max(1, math.ceil(len(names) / columns))
    fig = Figure(figsize=(7.5, 2.3 * rows + 0.4))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    highest = max(
        (
            e
            for c in (curves, weak)
            for series in c.values()
            for _, _, eff in series
            for e in eff
            if np.isfinite(e)
        ),
        default=1.0,
    )
    for ax, name in zip(axes.flat, names, strict=False):
        for kind, series in (("strong", curves.get(name, [])), ("weak", weak.get(name, []))):
            for machine, threads, efficiency in series:
                i = machines.index(machine)
                ax.plot(
                    threads,
                    [e * 100 for e in efficiency],
                    marker=MARKERS[i % len(MARKERS)],
                    # with weak curves the line style tells the curve, else the machine
                    linestyle=(
                        ("-" if kind == "strong" else ":") if weak else LINES[i % len(LINES)]
                    ),
                    markersize=4,
                    color=_colour(i),
                    markerfacecolor=_colour(i) if kind == "strong" else "white",
                    label=_label(machine) + (f", {kind}" if weak else ""),
                )
        ax.axhline(100, color="#444444", linewidth=0.8, linestyle="--")
        ax.set_title(_label(name), fontsize=8)
        ax.set_ylim(0, max(130, highest * 100 * 1.1))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # threads are whole numbers
        ax.set_xlabel("threads", fontsize=7)
        ax.set_ylabel("efficiency, %", fontsize=7)
        ax.grid(alpha=0.3)
    labelled: dict[str, Line2D] = {}
    for ax in axes.flat[: len(names)]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            labelled.setdefault(label, handle)
    fig.legend(
        list(labelled.values()),
        list(labelled),
        loc="lower center",
        ncol=min(4, len(labelled)),
        fontsize=7,
    )
    fig.suptitle(
        "parallel efficiency: rate(t) / (t × rate(1)); 100 % = linear scaling"
        + ("; solid: strong, dotted: weak" if weak else "")
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
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
        ax.bar(
            xs,
            values,
            width=width,
            label=_label(label),
            color=_colour(i),
            hatch=("", "//", "..", "xx", "\\\\", "++")[i % 6],
            edgecolor="white",
        )
    ax.set_xticks(range(len(groups)), [_label(g) for g in groups], rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(_label(title, 90))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def tornado(rows: list[dict], base_saving: float, title: str) -> bytes:
    """rows: {input, low, high} savings at −20 % and +20 % of each input, widest first."""
    fig = Figure(figsize=(7.5, 0.32 * len(rows) + 1.3))
    ax = fig.subplots()
    for y, row in enumerate(reversed(rows)):
        low, high = row["low"] * 100, row["high"] * 100
        ax.barh(y, low - base_saving * 100, left=base_saving * 100, color=LOW, height=0.6)
        ax.barh(
            y, high - base_saving * 100, left=base_saving * 100, color=HIGH, height=0.6, hatch="//"
        )
    ax.axvline(base_saving * 100, color="#222222", linewidth=1)
    ax.axvline(0, color="#444444", linewidth=1, linestyle="--")
    ax.set_yticks(range(len(rows)), [_label(r["input"], 60) for r in reversed(rows)])
    ax.set_xlabel("candidate fleet saving, % of the baseline's fleet cost")
    ax.set_title(_label(title, 90))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(
        handles=[
            Patch(color=LOW, label="input −20 %"),
            Patch(facecolor=HIGH, hatch="//", label="input +20 %"),
            Line2D([], [], color="#222222", label="as given"),
            Line2D([], [], color="#444444", linestyle="--", label="break-even"),
        ],
        fontsize=7,
        loc="best",
    )
    return _png(fig)


LOW, HIGH = MACHINE_COLOURS[0], MACHINE_COLOURS[1]


# one open-loop curve: (machine, threads, [(offered/s, p99 ns, saturated)], capacity/s or None)
LoadCurve = tuple[str, int, list[tuple[float, int, bool]], float | None]


def latency_vs_load(workload: str, curves: list[LoadCurve], slo_ns: int) -> bytes:
    """p99 latency (log) against offered load, one line per machine and thread count; the
    SLO as a horizontal line, each capacity marked by a vertical one, saturated points open."""
    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.subplots()
    every_ns = [slo_ns]
    for i, (machine, threads, points, capacity_per_s) in enumerate(curves):
        colour = _colour(i)
        offered = [p[0] for p in points]
        p99_us = [max(p[1], 1) / 1000 for p in points]
        every_ns += [max(p[1], 1) for p in points]
        label = _label(f"{machine}, {threads}t")
        ax.plot(offered, p99_us, color=colour, linestyle=LINES[i % len(LINES)], label=label)
        for x, y, saturated in zip(offered, p99_us, (p[2] for p in points), strict=True):
            ax.plot(
                [x],
                [y],
                marker=MARKERS[i % len(MARKERS)],
                color=colour,
                markerfacecolor="white" if saturated else colour,
                markersize=5,
            )
        if capacity_per_s is not None:
            ax.axvline(capacity_per_s, color=colour, linestyle=":", linewidth=1.2)
    ax.axhline(slo_ns / 1000, color="#444444", linewidth=1.0)
    ax.set_yscale("log")
    ticks = ticks_125(min(every_ns) / 1000, max(every_ns) / 1000)
    ax.set_yticks(ticks, [f"{v:g}" for v in ticks])  # plain numbers: math text is off
    ax.set_ylim(ticks[0], ticks[-1])
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(left=0)
    ax.text(0, slo_ns / 1000, " SLO (p99)", va="bottom", fontsize=7)
    ax.set_xlabel("offered load, million requests/s (dotted: capacity; open marker: saturated)")
    ax.set_ylabel("p99 latency, µs (log)")
    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1e6:g}"))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=7)
    ax.set_title(f"{_label(workload)}: p99 vs offered load, open loop")
    return _png(fig)
