"""A report as a list of plain blocks, rendered alike to HTML, PDF and Markdown.

All text in blocks is plain text (from results files too): each renderer escapes it for its
format through bench.text (one seam per format), so nothing in a hostname or label can become
markup, break a table or reorder the text around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2
    new_page: bool = False  # starts a page in print (the detail after page one)


@dataclass(frozen=True)
class Paragraph:
    text: str
    emphasis: bool = False  # the verdict: shown prominently


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    small_columns: tuple[int, ...] = ()  # columns in small print (ids beside their words)


@dataclass(frozen=True)
class Figure:
    name: str  # file stem for formats that keep images apart (Markdown)
    png: bytes
    caption: str


@dataclass(frozen=True)
class Code:
    lines: list[str]  # commands to rerun, one a line: monospace, verbatim (but escaped)


@dataclass(frozen=True)
class Tile:
    """One answer at a glance: what is asked, the answer in big print, one sentence why."""

    label: str
    value: str
    sentence: str


@dataclass(frozen=True)
class Tiles:
    tiles: list[Tile]


Block = Heading | Paragraph | Bullets | Table | Figure | Code | Tiles


@dataclass
class Document:
    title: str
    subtitle: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)
