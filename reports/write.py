"""Write a report's three formats into a folder, all or nothing.

Every byte is produced in memory first (a chart or the PDF that fails leaves nothing behind),
then written to a temporary folder beside the destination and moved into place entry by entry
(report.html, report.md, report.pdf, charts/), each by one rename, so a reader never sees a
half-written file and a failed report leaves the previous one as it was. Other files in the
destination folder are left alone.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile

from reports import analysis, content, cost, render
from workloads.errors import InputError

CHARTS = "charts"


def _files(document) -> dict[str, bytes]:
    """Every file of the report, by relative path."""
    markdown, images = render.to_markdown(document, CHARTS)
    files = {f"{CHARTS}/{name}": png for name, png in images.items()}
    files["report.html"] = render.to_html(document).encode()
    files["report.md"] = markdown.encode()
    files["report.pdf"] = render.to_pdf(document)
    return files


def _publish(files: dict[str, bytes], folder: pathlib.Path) -> None:
    """Write ``files`` into a temporary folder beside ``folder``, then move each top-level
    entry into place; the temporary folder is removed whatever happens."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = pathlib.Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    except OSError as error:
        raise InputError(f"cannot create the report folder {folder}: {error.strerror}") from None
    umask = os.umask(0)
    os.umask(umask)
    try:
        for relative, data in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.chmod(path, 0o666 & ~umask)  # mkdtemp's 0700 is for secrets, not reports
        if (staging / CHARTS).exists():
            os.chmod(staging / CHARTS, 0o777 & ~umask)
        for entry in sorted(staging.iterdir(), key=lambda p: p.name == "report.html"):
            target = folder / entry.name
            if entry.is_dir() and target.is_dir():  # a directory cannot replace one: swap
                old = staging / f".old-{entry.name}"
                target.rename(old)
                entry.rename(target)
            else:
                os.replace(entry, target)
    except OSError as error:
        raise InputError(f"cannot write the report into {folder}: {error.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def report(
    keys: list[str],
    stores: list[str],
    cost_paths: list[str],
    allow: set[str],
    out_dir: str,
    projection: bool = True,
) -> dict[str, str]:
    """Analyse the runs and write report.html, report.pdf, report.md (+ charts/*.png).
    Returns {format: path}."""
    model = cost.load(cost_paths) if cost_paths else None  # bad cost input fails first
    machines = analysis.load(keys, stores)
    print(f"analysing {len(machines)} runs...", file=sys.stderr)
    document = content.build(analysis.analyse(machines, allow, model, projection))
    files = _files(document)  # everything in memory before anything touches the disk
    folder = pathlib.Path(out_dir)
    _publish(files, folder)
    return {fmt: str(folder / f"report.{fmt}") for fmt in ("html", "md", "pdf")}
