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
import shlex
import signal
import unicodedata
from collections.abc import Callable

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


def _columns(char: str) -> int:
    """The terminal columns one character takes: 2 for East Asian wide and full-width ones
    (CJK, most emoji), 0 for combining marks, else 1."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cell(text: object, width: int) -> str:
    """terminal(text) cut and padded to ``width`` terminal columns, not characters: a label of
    CJK characters or emoji took twice its share and pushed the next columns right."""
    shown, used = terminal(text), 0
    kept: list[str] = []
    for char in shown:
        columns = _columns(char)
        if used + columns > width:  # cut, the last column an ellipsis
            while kept and used + 1 > width:
                used -= _columns(kept.pop())
            kept.append(ELLIPSIS)
            used += 1
            break
        kept.append(char)
        used += columns
    return "".join(kept) + " " * (width - used)


# What CommonMark/GFM would read as markup, wherever it stands in one line of text: code spans,
# emphasis and strikethrough, table pipes, GitHub math, an HTML tag (< is written &lt;), an
# entity or escape, a link or image (its "](", "][" or "]:"), and "_" unless it sits inside a
# word (a_b cannot open or close emphasis). Everything else (. - : ? ( ) [ ] ! …) stays as
# written, so report.md reads in an editor.
_MD_INLINE = re.compile(
    r"[`*~|$<]"
    r"|\\(?=[!-/:-@\[-`{-~]|$)"
    r"|&(?=#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{0,31};)"
    r"|\](?=[(\[:])"
    r"|(?<![^\W_])_|_(?![^\W_])"
)
# What starts a block at the start of a line (heading, quote, list item, thematic break, setext
# underline, task box, table) and a heading's closing "#"s at its end.
_MD_LINE_START = re.compile(r"^(?:[#>+=\-\[]|[0-9]{1,9}(?=[.)](?:\s|$)))")
_MD_HEADING_CLOSE = re.compile(r"(?<=\s)#+(?=\s*$)")


def _markdown_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return "&lt;" if char == "<" else "\\" + char


def markdown(text: object, width: int | None = None) -> str:
    """For GitHub-flavoured Markdown, in a paragraph, list item, heading or table cell: only
    what Markdown would read as markup at its position is escaped (see _MD_INLINE), so no HTML
    tag, entity, code span, emphasis, link, heading or table cell can start, and visible
    controls keep it on one line; ``ledger.eod[c-1t-0.002]`` and ``work?`` stay as written."""
    shown = visible(text)
    if width:
        shown = truncate(shown, width)
    escaped = _MD_INLINE.sub(_markdown_char, shown)
    escaped = _MD_HEADING_CLOSE.sub(lambda m: "\\" + m.group(0), escaped)
    start = _MD_LINE_START.match(escaped)
    if start is None:
        return escaped
    if start.group(0).isdigit():  # "1. x" as text: escape the list marker after the number
        end = start.end()
        return escaped[:end] + "\\" + escaped[end:]
    return "\\" + escaped


def html(text: object, width: int | None = None) -> str:
    """For HTML element content and attribute values."""
    shown = visible(text)
    return _html.escape(truncate(shown, width) if width else shown, quote=True)


def pdf(text: object, width: int | None = None, drawn: Callable[[str], bool] | None = None) -> str:
    """For the PDF (fpdf2 draws text, it does not parse markup): visible controls, and each
    character its fonts cannot draw (``drawn`` False: reports/fonts.py) as its code point,
    "[U+1F680]", not an empty box."""
    shown = _drawable(visible(text), drawn)
    return truncate(shown, width) if width else shown


def _drawable(shown: str, drawn: Callable[[str], bool] | None) -> str:
    """Each character a renderer's fonts cannot draw (``drawn`` False) as its code point."""
    if drawn is None:
        return shown
    return "".join(c if drawn(c) else f"[U+{ord(c):04X}]" for c in shown)


def _shell_escaped(char: str) -> str:
    """One character in bash's ANSI-C quoting ($'…'): visible()'s escapes, by code point."""
    code = ord(char)
    if char in "\\'":
        return "\\" + char
    if unicodedata.category(char) not in ("Cc", "Cf"):
        return char
    if char in "\n\r\t":
        return _escaped(char)
    if code < 0x80:
        return f"\\x{code:02x}"
    # bash's \x writes a byte; \u and \U write the code point in UTF-8
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def command(line: str) -> str:
    """A stored command line as a shell reruns it, with nothing invisible in it: each word that
    holds a control or format character (a label with a newline) is written in bash's ANSI-C
    quoting, ``$'night\\nrun'``, whose escapes are visible()'s; the others as shlex quotes
    them. A line that does not split as shell words is shown as it is (each format's seam
    still makes its controls visible)."""
    try:
        words = shlex.split(line)
    except ValueError:
        return line
    if visible(line) == line:
        return line  # nothing to show otherwise: the line as it was typed
    return " ".join(
        shlex.quote(word)
        if visible(word) == word
        else "$'" + "".join(map(_shell_escaped, word)) + "'"
        for word in words
    )


def chart(
    text: object, width: int = LABEL_WIDTH, drawn: Callable[[str], bool] | None = None
) -> str:
    """For a matplotlib label (math text is off in reports.charts): visible controls, each
    character its fonts cannot draw as its code point (as pdf), cut to ``width`` so one label
    cannot stretch a figure."""
    return truncate(_drawable(visible(text), drawn), width)


# --- words ----------------------------------------------------------------------------------


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 benchmark', '2 benchmarks'."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


def of(part: int, whole: int, noun: str = "benchmark") -> str:
    """'1 of 16 benchmarks', '3 of 3 benchmarks'."""
    return f"{part:,} of {plural(whole, noun)}"


def signal_name(number: int) -> str:
    """'SIGKILL' for 9: the name of the signal that ended a child process, or 'signal N'
    where this system has none for it."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
