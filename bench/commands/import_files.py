"""``bankbench import``: pytest-benchmark JSON files (any project) into the store."""

from __future__ import annotations

from bench.commands._arguments import add_store
from bench.commands._exit import EXIT_OK

NAME = "import"
HELP = "pytest-benchmark JSON files (any project) into the store"


def add_arguments(p) -> None:
    p.add_argument("files", nargs="+", help="files written by pytest --benchmark-json")
    p.add_argument("--label", help="a label for the imported runs (default: the file name)")
    add_store(p)


def main(args) -> int:
    import pathlib

    from bench import importer
    from bench.store import Store

    store = Store(args.store)  # every file is checked before any is written
    for path, run_id, count in importer.import_files(
        store, [pathlib.Path(name) for name in args.files], args.label
    ):
        print(f"{path}: {count} benchmark(s) imported as run {run_id}")
    return EXIT_OK
