"""The store's files one at a time: written whole and durably, read whole and checked.

Writing: on a local disk a file is written under a temporary name in its own folder, flushed
and fsynced, renamed over its final name, and the folder is fsynced, so after a crash or a
power cut a reader finds the old file or the new one, never a torn one, and never loses a
rename. Object stores have no rename: there a file is one PUT under its final key, which is
atomic by itself (never a temporary object and a copy).

Reading: a file is read whole (a truncated or corrupt page fails here, not in the middle of a
report) and conformed to the schema: a missing required column or a column of another kind is
a wrong schema. Hive directory names (``key=value``) are never read as data: the file's own
columns are the truth, and a directory whose value is not valid, or contradicts the column it
names, is reported.
"""

from __future__ import annotations

import datetime
import os
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from workloads.errors import BankbenchError

OBJECT_STORES = ("s3", "gcs")  # pyarrow filesystems whose paths are keys, not folders
GCS_RETRY_LIMIT_S = 20  # how long a gs:// store retries before its error is shown


class StoreError(BankbenchError):
    """The store cannot be read or written."""


@dataclass(frozen=True)
class Unreadable:
    """A file that cannot be used, and why (one line)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and root of a URI. An s3:// store also asks pyarrow to wait for the
    first bytes before it starts an upload (allow_delayed_open), so a file smaller than one
    part goes up as one PutObject rather than a three-request multipart upload; a pyarrow
    that lacks the option uploads in parts, whose completion is atomic too."""
    joiner = "&" if "?" in location else "?"
    if location.startswith("s3://") and "allow_delayed_open" not in location:
        try:
            return pafs.FileSystem.from_uri(f"{location}{joiner}allow_delayed_open=true")
        except (pa.ArrowInvalid, ValueError):
            pass
    if location.startswith(("gs://", "gcs://")) and "retry_limit_seconds" not in location:
        # pyarrow's GCS client retries for 15 minutes by default, inside C++ where Ctrl-C
        # cannot reach it: without credentials or network a command hung that long
        location = f"{location}{joiner}retry_limit_seconds={GCS_RETRY_LIMIT_S}"
    return pafs.FileSystem.from_uri(location)


# ---- writing ----
def write(fs: pafs.FileSystem, table: pa.Table, path: str) -> None:
    """``table`` as one Parquet file at ``path``, all or nothing (see the module docstring)."""
    folder = path.rsplit("/", 1)[0]
    if not isinstance(fs, pafs.LocalFileSystem):
        if fs.type_name not in OBJECT_STORES:  # keys need no folders; other filesystems may
            fs.create_dir(folder, recursive=True)
        with fs.open_output_stream(path) as stream:  # one object, visible only when complete
            pq.write_table(table, stream)
        return
    _make_folders(folder)
    temporary = f"{folder}/.{uuid.uuid4().hex}.tmp"
    try:
        with open(temporary, "wb") as stream:
            pq.write_table(table, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


def _make_folders(folder: str) -> None:
    """Create ``folder`` and its missing parents, each made durable in its own parent."""
    missing = []
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:  # another writer made it first
            pass
        _fsync_folder(os.path.dirname(path))


def _fsync_folder(folder: str) -> None:
    descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ---- reading ----
def _first_line(error: BaseException) -> str:
    """The error's first sentence: one line that names what is wrong."""
    text = str(error).strip().splitlines()
    return text[0].split(". ", 1)[0].rstrip(".") if text else type(error).__name__


def read(fs: pafs.FileSystem, path: str) -> pa.Table | Unreadable:
    """The whole file, or why it cannot be read. Plain file reads: no dataset discovery, so
    no directory name can add or replace a column."""
    try:
        with fs.open_input_file(path) as stream:
            return pq.ParquetFile(stream).read()
    except (OSError, pa.lib.ArrowException, ValueError) as error:
        return Unreadable(path, f"not a readable Parquet file ({_first_line(error)})")


def read_schema(fs: pafs.FileSystem, path: str) -> pa.Schema | Unreadable:
    """The file's schema from its footer alone (the cheap check of a file no one asked for)."""
    try:
        with fs.open_input_file(path) as stream:
            return pq.read_schema(stream)
    except (OSError, pa.lib.ArrowException, ValueError) as error:
        return Unreadable(path, f"not a readable Parquet file ({_first_line(error)})")


def _same_kind(found: pa.DataType, wanted: pa.DataType) -> bool:
    if found == wanted or pa.types.is_null(found):
        return True
    for predicate in (
        pa.types.is_integer,
        pa.types.is_floating,
        pa.types.is_timestamp,
        pa.types.is_string,
        pa.types.is_large_string,
    ):
        if predicate(found) and predicate(wanted):
            return True
    if pa.types.is_list(found) and pa.types.is_list(wanted):
        return _same_kind(found.value_type, wanted.value_type)
    return pa.types.is_integer(found) and pa.types.is_floating(wanted)


def schema_problem(found: pa.Schema, wanted: pa.Schema, required: tuple[str, ...]) -> str | None:
    """Why a file of schema ``found`` cannot hold rows of ``wanted`` (None when it can:
    unknown columns are ignored, missing optional ones read as unknown)."""
    names = set(found.names)
    missing = [name for name in required if name not in names]
    if missing:
        return f"wrong schema: no column {', '.join(missing)}"
    for field in wanted:
        if field.name in names and not _same_kind(found.field(field.name).type, field.type):
            return (
                f"wrong schema: column {field.name} is {found.field(field.name).type}, "
                f"expected {field.type}"
            )
    return None


def conform(table: pa.Table, wanted: pa.Schema) -> pa.Table:
    """``table`` with exactly ``wanted``'s columns (after schema_problem said it can)."""
    columns = []
    for field in wanted:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=wanted)


def hive_parts(relative: str) -> list[tuple[str, str, str]]:
    """(directory, key, value) of every ``key=value`` folder in a path below a kind's folder."""
    parts = relative.split("/")[:-1]
    return [
        ("/".join(parts[: i + 1]), *part.split("=", 1))  # type: ignore[misc]
        for i, part in enumerate(parts)
        if "=" in part
    ]


def parses_as(value: str, kind: pa.DataType) -> bool:
    """Whether a directory's text is a valid value of a column of this type."""
    try:
        if pa.types.is_integer(kind):
            int(value)
        elif pa.types.is_floating(kind):
            float(value)
        elif pa.types.is_boolean(kind):
            return value.lower() in ("true", "false")
        elif pa.types.is_timestamp(kind):
            datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
