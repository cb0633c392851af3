"""Write a report's three formats into a folder, each file atomically (temp + rename)."""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile

from reports import analysis, content, cost, render
from workloads.errors import InputError

CHARTS = "charts"


def _atomic(path: pathlib.Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 is for secrets, not reports
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def report(
    keys: list[str],
    stores: list[str],
    cost_paths: list[str],
    allow: set[str],
    out_dir: str,
) -> dict[str, str]:
    """Analyse the runs and write report.html, report.pdf, report.md (+ charts/*.png).
    Returns {format: path}."""
    model = cost.load(cost_paths) if cost_paths else None  # bad cost input fails first
    machines = analysis.load(keys, stores)
    folder = pathlib.Path(out_dir)
    try:
        (folder / CHARTS).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create the report folder {out_dir}: {error.strerror}") from None
    print(f"analysing {len(machines)} runs...", file=sys.stderr)
    document = content.build(analysis.analyse(machines, allow, model))
    written = {}
    markdown, images = render.to_markdown(document, CHARTS)
    for name, png in images.items():
        _atomic(folder / CHARTS / name, png)
    for fmt, data in (
        ("html", render.to_html(document).encode()),
        ("md", markdown.encode()),
        ("pdf", render.to_pdf(document)),
    ):
        path = folder / f"report.{fmt}"
        _atomic(path, data)
        written[fmt] = str(path)
    return written
