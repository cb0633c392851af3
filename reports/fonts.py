"""The fonts the report's PDF and charts draw with, and which characters they can draw.

matplotlib's DejaVu fonts draw Latin, Greek and Cyrillic; labels, host names and imported
benchmark names are the users' text and may be Chinese or Japanese, which DejaVu has no glyphs
for. Where the system has a CJK font (Debian: fonts-droid-fallback, fonts-wqy-microhei,
fonts-noto-cjk), it is the fallback for both; a character no font here draws is written as its
code point ("[U+1F680]"), never drawn as an empty box or dropped (the HTML shows it as it is).
"""

from __future__ import annotations

import functools
import pathlib

# files of fonts with CJK glyphs, as Debian and most distributions name them, in order of
# preference: TrueType outlines first (fpdf2 embeds TrueType; a collection's first face)
CJK_FONT_FILES = (
    "DroidSansFallbackFull.ttf",
    "DroidSansFallback.ttf",
    "wqy-microhei.ttc",
    "wqy-zenhei.ttc",
    "NotoSansCJK-Regular.ttc",
)
FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts")
PROBE_CHARACTER = "中"  # a font that draws it is taken for a CJK font


def dejavu(name: str = "DejaVuSans.ttf") -> str:
    """The path of one of matplotlib's bundled DejaVu fonts."""
    import matplotlib

    return str(pathlib.Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)


@functools.cache
def cjk_fallback() -> str | None:
    """The path of the first CJK font found in the system's font folders, or None."""
    for name in CJK_FONT_FILES:
        for folder in FONT_FOLDERS:
            root = pathlib.Path(folder).expanduser()
            if not root.is_dir():
                continue
            for path in sorted(root.rglob(name)):
                if ord(PROBE_CHARACTER) in _code_points(str(path)):
                    return str(path)
    return None


@functools.cache
def _code_points(path: str) -> frozenset[int]:
    """The characters a font file (a collection's first face) has glyphs for; none where it
    cannot be read."""
    from fontTools.ttLib import TTFont

    try:
        with TTFont(path, fontNumber=0, lazy=True) as font:
            return frozenset(font.getBestCmap() or ())
    except Exception:  # noqa: BLE001 - a broken font file is no font, whatever the error
        return frozenset()


@functools.cache
def drawn_code_points(face: str = "text") -> frozenset[int]:
    """Every character a PDF face draws with its fallback: "text" (regular and bold alike:
    headings and table headers are bold) or "mono" (the commands)."""
    faces = {
        "text": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
        "mono": ("DejaVuSansMono.ttf",),
    }[face]
    own = frozenset.intersection(*(_code_points(dejavu(name)) for name in faces))
    fallback = cjk_fallback()
    return own | (_code_points(fallback) if fallback else frozenset())


def is_drawn(character: str, face: str = "text") -> bool:
    """Whether the PDF's ``face`` can draw ``character`` (white space always: it is layout,
    not a glyph)."""
    return character.isspace() or ord(character) in drawn_code_points(face)


def is_drawn_mono(character: str) -> bool:
    return is_drawn(character, "mono")
