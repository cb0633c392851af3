"""How the report writes numbers: rates with k/M/G, money, significant figures, percentages,
intervals, and the mark of a projection wherever a projected figure appears. The figures
come from reports.analysis; these only word them."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from bench.text import plural

if TYPE_CHECKING:
    from bench.scaling import Rate
    from reports.fleet import Range, ServerFigures


def rate(value: float | None) -> str:
    """3 significant figures with k/M/G, no exponent."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    for size, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= size:
            return f"{significant(value / size)}{suffix}"
    return significant(value)


def significant(value: float, digits: int = 3) -> str:
    """``digits`` significant figures in plain positional notation (never 2.146e-05)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def money(value: float | None, currency: str) -> str:
    return "–" if value is None else f"{value:,.0f} {currency}"


def small_money(value: float | None, currency: str = "") -> str:
    """Amounts below a unit (cost per million decisions): significant figures, no exponent."""
    if value is None:
        return "–"
    return significant(value) + (f" {currency}" if currency else "")


def projected(text: str, is_projected: bool, low: str = "", high: str = "") -> str:
    """A figure as text, marked wherever it is a projection, with its interval."""
    if not is_projected:
        return text
    interval = f" [{low}–{high}]" if low and high and low != high else ""
    return f"{text}{interval} (projected)"


def rate_figure(figure: Rate | None, k: float = 1.0, unit: str = "") -> str:
    """A rate per server (or per core, socket, watt: ``k`` scales it), marked if projected."""
    if figure is None:
        return "–"
    return projected(
        rate(figure.value * k) + unit,
        figure.projected,
        rate(figure.low * k),
        rate(figure.high * k),
    )


def server_rate_figure(figures: ServerFigures, what: str) -> str:
    """A rate per server (decisions, postings, capacity) as page one and every table word it:
    the figure, marked if projected, or 'withheld' where reports.fleet gave a reason instead."""
    figure = getattr(figures, what)
    if figure is None and what in figures.withheld:
        return "withheld"
    return rate_figure(figure)


def percent(fraction: float) -> str:
    return f"{fraction * 100:.1f} %"


def server_count(r: Range | None, is_projected: bool) -> str:
    if r is None:
        return "–"
    return projected(
        plural(int(r.value), "server"), is_projected, f"{int(r.low):,}", f"{int(r.high):,}"
    )


def money_range(r: Range | None, is_projected: bool, currency: str) -> str:
    if r is None:
        return "–"
    return projected(
        money(r.value, currency),
        is_projected,
        f"{r.low:,.0f}",
        f"{r.high:,.0f}",
    )


def fixed(value: float | None, digits: int = 1) -> str:
    """A count per unit with thousands separators and ``digits`` decimals."""
    return "–" if value is None else f"{value:,.{digits}f}"
