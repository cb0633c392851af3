"""The report's PDF and charts draw the users' text in any script their fonts have (a CJK
fallback where the system has one, reports/fonts.py), and write a character no font has as
its code point: nothing is an empty box, nothing is dropped. CI installs the fallback
(.ci/run: fonts-droid-fallback) and requires it."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings

import pytest

from bench import text
from reports import fonts, render
from reports.document import Document, Figure, Paragraph, Table

CJK_LABEL = "夜间运行-基线"
ROCKET = "\U0001f680"  # no font here has it: a colour emoji font is no outline font


def _cjk_font() -> str:
    found = fonts.cjk_fallback()
    if found is None:
        if os.environ.get("BANKBENCH_REQUIRE_REPORT_TOOLS"):
            pytest.fail("no CJK font: apt-get install fonts-droid-fallback")
        pytest.skip("no CJK font installed")
    return found


def test_a_character_no_font_draws_is_written_as_its_code_point_then_cut():
    drawn = {"a", "b"}.__contains__
    assert text.pdf("ab\U0001f680a", drawn=drawn) == "ab[U+1F680]a"
    assert text.pdf("ab\u4e2d", 6, drawn=drawn) == "ab[U+…"  # cut after, as any text
    assert text.chart("a\u4e2d", drawn=drawn) == "a[U+4E2D]"
    # controls are escaped first, as before; the escape is then text like any other
    assert text.pdf("a\x1b", drawn=set("a\\x1b").__contains__) == "a\\x1b"
    assert text.pdf("ab\U0001f680") == "ab\U0001f680"  # no fonts given: unchanged


def test_the_fonts_draw_latin_cyrillic_and_space_and_never_an_emoji():
    assert all(fonts.is_drawn(c) for c in "Az09 ок€…\n")
    assert not fonts.is_drawn(ROCKET)
    assert fonts.is_drawn("中") == (fonts.cjk_fallback() is not None)


def test_the_commands_face_writes_what_it_lacks_as_code_points():
    """The commands are drawn monospaced, and DejaVu Sans Mono has no Hebrew that DejaVu Sans
    has: a label's Hebrew in a command was dropped from the PDF, so its rerun was wrong."""
    from reports.document import Code

    assert fonts.is_drawn("ש") and not fonts.is_drawn_mono("ש")
    document = Document("t", "s", [Code(["bankbench run --label 'שלום'"])])
    assert "--label '[U+05E9][U+05DC][U+05D5][U+05DD]'" in _pdf_text(document)


def test_a_font_file_that_is_not_one_draws_nothing(tmp_path):
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    assert fonts._code_points(str(broken)) == frozenset()


def _pdf_text(document: Document) -> str:
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        if os.environ.get("BANKBENCH_REQUIRE_REPORT_TOOLS"):
            pytest.fail("pdftotext is required here but not installed")
        pytest.skip("pdftotext not installed")
    done = subprocess.run(
        [pdftotext, "-", "-"], input=render.to_pdf(document), capture_output=True, check=True
    )
    return done.stdout.decode()


def test_the_pdf_draws_a_cjk_label_and_writes_an_emoji_as_its_code_point():
    _cjk_font()
    label = f"{CJK_LABEL} {ROCKET} машина"
    document = Document(
        f"report {label}",
        label,
        [Paragraph(label), Table(["run", "value"], [[label, "1"]])],
    )
    shown = _pdf_text(document)
    assert f"{CJK_LABEL} [U+1F680] машина" in shown
    assert ROCKET not in shown and "\ufffd" not in shown


def test_a_chart_draws_a_cjk_label_without_a_missing_glyph():
    """matplotlib warns of each glyph its fonts lack (and draws a box): none here."""
    _cjk_font()
    from reports import charts

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph")  # "Glyph … missing from font(s)"
        png = charts.forest(
            [(f"{CJK_LABEL} {ROCKET}", 1.1, 0.9, 1.3, "no significant difference")],
            f"{CJK_LABEL} against {ROCKET}",
        )
    document = Document("t", "s", [Figure("forest", png, f"{CJK_LABEL} {ROCKET}")])
    assert f"{CJK_LABEL} [U+1F680]" in _pdf_text(document)
