"""Text from users and stores (labels, hostnames, CPU models, imported benchmark names) made
safe for each output format: one function per format, and every renderer calls only its own.

Every format first makes invisible characters visible: C0/C1 controls (newline, carriage
return, ANSI escape sequences' ESC), and format characters (bidirectional overrides and
isolates, zero-width joiners) are shown as Python-style escapes (``\\n``, ``\\x1b``,
``\\u202e``), so a label can neither break a table, recolour a terminal nor reorder the text
around it. Then each format escapes its own markup. Table cells are also cut to a width with
an ellipsis, so a 10,000-character label cannot push a table off the page.
"""

from __future__ import annotations

import html as _html
import re
import unicodedata

ELLIPSIS = "…"
CELL_WIDTH = 300  # characters of a table cell before the ellipsis (ours are shorter)
LABEL_WIDTH = 40  # a run label or host name in prose and headers


def _escaped(char: str) -> str:
    code = ord(char)
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(
        char, f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    )


def visible(text: object) -> str:
    """Controls and format characters (Unicode categories Cc and Cf) as escapes; everything
    else unchanged."""
    return "".join(_escaped(c) if unicodedata.category(c) in ("Cc", "Cf") else c for c in str(text))


def truncate(text: str, width: int = CELL_WIDTH) -> str:
    """At most ``width`` characters, the last an ellipsis when cut."""
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def terminal(text: object, width: int | None = None) -> str:
    """For a terminal: visible controls (no ANSI sequence or bidi override takes effect)."""
    shown = visible(text)
    return truncate(shown, width) if width else shown


_MD_PUNCTUATION = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")


def markdown(text: object, width: int | None = None) -> str:
    """For GitHub-flavoured Markdown, in a paragraph or a table cell: every ASCII punctuation
    character backslash-escaped (CommonMark makes each a literal; GFM tables read ``\\|`` as a
    pipe inside the cell), so no HTML tag, entity, code span, emphasis, link or heading can
    start, and visible controls keep it on one line. ``<`` and ``>`` are written as entities
    too, for renderers that pass raw HTML before Markdown."""
    shown = visible(text)
    if width:
        shown = truncate(shown, width)
    escaped = _MD_PUNCTUATION.sub(r"\\\1", shown)
    return escaped.replace("\\<", "&lt;").replace("\\>", "&gt;")


def html(text: object, width: int | None = None) -> str:
    """For HTML element content and attribute values."""
    shown = visible(text)
    return _html.escape(truncate(shown, width) if width else shown, quote=True)


def pdf(text: object, width: int | None = None) -> str:
    """For the PDF (fpdf2 draws text, it does not parse markup): visible controls only."""
    shown = visible(text)
    return truncate(shown, width) if width else shown


def chart(text: object, width: int = LABEL_WIDTH) -> str:
    """For a matplotlib label (math text is off in reports.charts): visible controls, cut to
    ``width`` so one label cannot stretch a figure."""
    return truncate(visible(text), width)


# --- words ----------------------------------------------------------------------------------


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 benchmark', '2 benchmarks'."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


def of(part: int, whole: int, noun: str = "benchmark") -> str:
    """'1 of 16 benchmarks', '3 of 3 benchmarks'."""
    return f"{part:,} of {plural(whole, noun)}"
