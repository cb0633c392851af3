"""A Document to HTML (one self-contained file), Markdown (charts as PNG files beside it) and
PDF (fpdf2, pure Python, with matplotlib's DejaVu fonts for the non-Latin-1 text, and a CJK
font as their fallback where the system has one: reports/fonts.py).

Every string is escaped for its format here, and only here, by that format's one function
in bench.text (html, markdown, pdf): controls and bidi characters shown escaped, markup
escaped, table cells cut with an ellipsis."""

from __future__ import annotations

import base64
import io
import struct

from bench import text as seam
from reports import fonts
from reports.document import Bullets, Code, Document, Figure, Heading, Paragraph, Table, Tiles

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { margin-bottom: 0; } .subtitle { color: #57606a; margin-top: .2em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: .6em 0; font-size: 12.5px; }
th, td { border: 1px solid #d0d7de; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } tr:nth-child(even) td { background: #fbfcfd; }
.verdict { font-size: 15px; background: #f6f8fa; border-left: 4px solid #0969da;
           padding: .6em .9em; text-align: left; }
td.small { font-size: 10.5px; color: #57606a; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
figcaption { color: #57606a; font-size: 12.5px; }
pre { background: #f6f8fa; padding: .7em; overflow-x: auto; white-space: pre-wrap; }
.tiles { display: grid; grid-template-columns: repeat(3, 1fr); gap: .6em; margin: 1em 0; }
.tile { border: 1px solid #d0d7de; border-radius: 6px; padding: .5em .8em; }
.tile .label { color: #57606a; font-size: 12px; text-transform: uppercase; }
.tile .value { font-size: 24px; font-weight: 700; line-height: 1.2; margin: .15em 0; }
.tile .sentence { font-size: 12.5px; }
@media print { body { max-width: none; } h2 { break-after: avoid; }
               figure { break-inside: avoid; } .new-page { break-before: page; } }
"""


# ---- HTML ----
def _e(text: str) -> str:
    return seam.html(text)


def _cell_html(text: str) -> str:
    return seam.html(text, seam.CELL_WIDTH)


def to_html(document: Document) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # no scripts, no network: images are data URIs, styles inline
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{_e(document.title)}</title><style>{CSS}</style></head><body>",
        f'<h1>{_e(document.title)}</h1><p class="subtitle">{_e(document.subtitle)}</p>',
    ]
    for block in document.blocks:
        if isinstance(block, Heading):
            attribute = ' class="new-page"' if block.new_page else ""
            parts.append(f"<h{block.level}{attribute}>{_e(block.text)}</h{block.level}>")
        elif isinstance(block, Tiles):
            parts.append(
                '<div class="tiles">'
                + "".join(
                    f'<div class="tile"><div class="label">{_e(t.label)}</div>'
                    f'<div class="value">{_e(t.value)}</div>'
                    f'<div class="sentence">{_e(t.sentence)}</div></div>'
                    for t in block.tiles
                )
                + "</div>"
            )
        elif isinstance(block, Paragraph):
            attribute = ' class="verdict"' if block.emphasis else ""
            parts.append(f"<p{attribute}>{_e(block.text)}</p>")
        elif isinstance(block, Bullets):
            parts.append("<ul>" + "".join(f"<li>{_e(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{_cell_html(h)}</th>" for h in block.header)
            body = "".join(
                "<tr>"
                + "".join(
                    ("<td class='small'>" if i in block.small_columns else "<td>")
                    + f"{_cell_html(c)}</td>"
                    for i, c in enumerate(row)
                )
                + "</tr>"
                for row in block.rows
            )
            caption = f"<caption>{_e(block.caption)}</caption>" if block.caption else ""
            parts.append(
                f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            )
        elif isinstance(block, Figure):
            data = base64.b64encode(block.png).decode("ascii")
            parts.append(
                f'<figure><img alt="{_e(block.caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{_e(block.caption)}</figcaption></figure>"
            )
        elif isinstance(block, Code):
            parts.append("<pre>" + "\n".join(seam.html(c) for c in _commands(block)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _commands(block: Code) -> list[str]:
    """A Code block's commands as a shell reruns them (a label's newline as $'…\\n…', not a
    \\n a shell would read as two characters); each format's seam escapes them after."""
    return [seam.command(line) for line in block.lines]


# ---- Markdown ----
def _m(text: str) -> str:
    return seam.markdown(text)


def _cell_md(text: str) -> str:
    return seam.markdown(text, seam.CELL_WIDTH)


def to_markdown(document: Document, image_folder: str | None) -> tuple[str, dict[str, bytes]]:
    """The Markdown text and the images it links to ({file name: PNG}). With image_folder
    None, charts are left out (a CI step summary cannot hold images)."""
    lines = [f"# {_m(document.title)}", "", f"_{_m(document.subtitle)}_", ""]
    images: dict[str, bytes] = {}
    for block in document.blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + _m(block.text), ""]
        elif isinstance(block, Paragraph):
            lines += [f"**{_m(block.text)}**" if block.emphasis else _m(block.text), ""]
        elif isinstance(block, Tiles):
            lines += [f"- **{_m(t.label)}: {_m(t.value)}** — {_m(t.sentence)}" for t in block.tiles]
            lines.append("")
        elif isinstance(block, Bullets):
            lines += [f"- {_m(i)}" for i in block.items] + [""]
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(_cell_md(h) or " " for h in block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += ["| " + " | ".join(_cell_md(c) for c in row) + " |" for row in block.rows]
            lines.append("")
        elif isinstance(block, Figure) and image_folder is not None:
            name = f"{block.name}.png"
            images[name] = block.png
            lines += [f"![{_m(block.caption)}]({image_folder}/{name})", ""]
        elif isinstance(block, Code):
            fence = "~~~~"  # a fenced block is literal text: only a fence could end it early
            code = "\n".join(map(seam.visible, _commands(block))).replace("~~~", "~ ~ ~")
            lines += [fence, code, fence, ""]
    return "\n".join(lines), images


# ---- PDF ----
def _pdf_text(value: object, width: int | None = None) -> str:
    """seam.pdf with the PDF's fonts: a character none of them draws as its code point."""
    return seam.pdf(value, width, drawn=fonts.is_drawn)


def _pdf_code(value: object) -> str:
    """_pdf_text for the monospaced face of the commands (it draws fewer scripts)."""
    return seam.pdf(value, drawn=fonts.is_drawn_mono)


def _add_fonts(pdf) -> None:
    """DejaVu (regular, bold, mono) and, where the system has one, a CJK fallback for all
    three (fpdf2 takes a glyph from the fallback when the font in use has none)."""
    pdf.add_font("DejaVu", "", fonts.dejavu("DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", fonts.dejavu("DejaVuSans-Bold.ttf"))
    pdf.add_font("DejaVuMono", "", fonts.dejavu("DejaVuSansMono.ttf"))
    fallback = fonts.cjk_fallback()
    if fallback is not None:
        pdf.add_font("CJK", "", fallback)
        pdf.set_fallback_fonts(["CJK"], exact_match=False)


HEADING_ROOM_MM = 45  # a heading starts a new page unless this much room follows it


FIGURE_CAPTION_MM = 12  # room kept under a chart for its caption


def _shrunk_height_mm(full_mm: float) -> float:
    """The least height a chart may be drawn at to fit the rest of a page: half its own,
    at least 60 mm (or its own height, if less)."""
    return min(full_mm, max(full_mm / 2, 60))


def _png_height_mm(png: bytes, width_mm: float) -> float:
    """The height of a PNG drawn ``width_mm`` wide (its size is in the IHDR chunk)."""
    width, height = struct.unpack(">II", png[16:24])
    return width_mm * height / max(width, 1)


TILE_COLUMNS = 3
TILE_GAP_MM = 3.0


def _pdf_tiles(pdf, block: Tiles) -> None:
    """Page one's answers as boxes, TILE_COLUMNS a row: label, big value, one sentence."""
    width = (pdf.epw - TILE_GAP_MM * (TILE_COLUMNS - 1)) / TILE_COLUMNS
    for start in range(0, len(block.tiles), TILE_COLUMNS):
        row = block.tiles[start : start + TILE_COLUMNS]
        top = bottom = pdf.get_y()
        for i, tile in enumerate(row):
            x = pdf.l_margin + i * (width + TILE_GAP_MM)
            pdf.set_xy(x + 2, top + 1.5)
            for size, style, value, height, colour in (
                (7, "", tile.label.upper(), 3.4, (87, 96, 106)),
                (14, "B", tile.value, 6.5, (31, 35, 40)),
                (7.5, "", tile.sentence, 3.5, (31, 35, 40)),
            ):
                pdf.set_font("DejaVu", style, size)
                pdf.set_text_color(*colour)
                pdf.multi_cell(
                    width - 4, height, _pdf_text(value), new_x="LEFT", new_y="NEXT", align="L"
                )
            bottom = max(bottom, pdf.get_y() + 1.5)
        pdf.set_draw_color(208, 215, 222)
        for i in range(len(row)):
            pdf.rect(pdf.l_margin + i * (width + TILE_GAP_MM), top, width, bottom - top)
        pdf.set_text_color(0, 0, 0)
        pdf.set_y(bottom + TILE_GAP_MM)


def to_pdf(document: Document) -> bytes:
    """The PDF; its last section (the reproducibility manifest) is kept on one page: drawn
    where it falls, and when that splits it across two pages (a line or two alone on the last
    page), drawn again from the top of a page of its own."""
    last = max(
        (i for i, b in enumerate(document.blocks) if isinstance(b, Heading) and not b.new_page),
        default=None,
    )
    rendered, split = _render_pdf(document, last, page_before=None)
    if split:
        rendered, _ = _render_pdf(document, last, page_before=last)
    return rendered


def _render_pdf(
    document: Document, last: int | None, page_before: int | None
) -> tuple[bytes, bool]:
    """The PDF, a page started before block ``page_before``, and whether the section that
    starts at heading ``last`` runs onto another page than the one it starts on."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    _add_fonts(pdf)
    pdf.set_title(_pdf_text(document.title))
    pdf.set_creator("bankbench")
    pdf.add_page()
    width = pdf.epw

    def text(size: float, style: str, value: str, height: float) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(width, height, _pdf_text(value), new_x="LMARGIN", new_y="NEXT", align="L")

    text(18, "B", document.title, 9)
    text(10, "", document.subtitle, 5)
    pdf.ln(3)
    last_page = None  # the page the last section starts on
    for number, block in enumerate(document.blocks):
        if number == page_before:
            pdf.add_page()
        if number == last:
            last_page = pdf.page
        if isinstance(block, Heading) and block.new_page:
            pdf.add_page()
            text(14 if block.level == 2 else 11.5, "B", block.text, 7)
            pdf.ln(1)
        elif isinstance(block, Heading):
            # keep a heading with what follows it (a whole figure, or the start of the text)
            following = document.blocks[number + 1 : number + 2]
            room: float = HEADING_ROOM_MM
            if following and isinstance(following[0], Figure):
                room = max(room, 20 + _shrunk_height_mm(_png_height_mm(following[0].png, width)))
            if pdf.get_y() > pdf.h - pdf.b_margin - min(room, pdf.eph * 0.9):
                pdf.add_page()
                last_page = pdf.page if number == last else last_page
            pdf.ln(3)
            text(14 if block.level == 2 else 11.5, "B", block.text, 7)
            pdf.ln(1)
        elif isinstance(block, Tiles):
            _pdf_tiles(pdf, block)
        elif isinstance(block, Paragraph):
            text(10.5 if block.emphasis else 9, "B" if block.emphasis else "", block.text, 5)
            pdf.ln(2)
        elif isinstance(block, Bullets):
            for item in block.items:
                text(9, "", "• " + item, 4.6)
            pdf.ln(2)
        elif isinstance(block, Table):
            size = 7.5 if len(block.header) <= 4 else 6.5
            pdf.set_font("DejaVu", "", size)
            cells_text = [
                [_pdf_text(c, seam.CELL_WIDTH) for c in row] for row in [block.header, *block.rows]
            ]
            # columns as wide as their longest text, within reason
            longest = [
                min(max(len(row[i]) for row in cells_text), 60) + 4
                for i in range(len(block.header))
            ]
            small = FontFace(size_pt=size - 1.5, color=(87, 96, 106))
            with pdf.table(
                col_widths=longest,
                headings_style=FontFace(emphasis="BOLD", fill_color=(246, 248, 250)),
                line_height=size * 0.5,
                text_align="LEFT",
                first_row_as_headings=True,
            ) as table:
                for number, row in enumerate(cells_text):
                    cells = table.row()
                    for i, value in enumerate(row):
                        style = small if number and i in block.small_columns else None
                        cells.cell(value, style=style)
            pdf.ln(3)
        elif isinstance(block, Figure):
            full = _png_height_mm(block.png, width)
            left = pdf.h - pdf.b_margin - pdf.get_y() - FIGURE_CAPTION_MM
            if left < _shrunk_height_mm(full):
                pdf.add_page()
                left = pdf.eph - FIGURE_CAPTION_MM
            # a tall chart is drawn smaller to finish the page rather than leave it near empty
            height = min(full, left)
            pdf.image(io.BytesIO(block.png), w=width * height / full, h=height)
            text(8, "", block.caption, 4)
            pdf.ln(3)
        elif isinstance(block, Code):
            pdf.set_font("DejaVuMono", "", 7.5)
            pdf.multi_cell(
                width,
                4,
                "\n".join(map(_pdf_code, _commands(block))),
                new_x="LMARGIN",
                new_y="NEXT",
                align="L",
            )
            pdf.ln(2)
    split = last_page is not None and pdf.page != last_page and page_before is None
    return bytes(pdf.output()), split
