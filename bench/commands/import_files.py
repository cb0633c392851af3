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

    store = Store(args.store)
    for name in args.files:  # check every file before writing anything
        importer.load(pathlib.Path(name))
    for name in args.files:
        run_id, count = importer.import_file(store, pathlib.Path(name), args.label)
        print(f"{name}: {count} benchmark(s) imported as run {run_id}")
    return EXIT_OK
