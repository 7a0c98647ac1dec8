"""Opening benchmark databases: read-only, always, with tolerant text decoding, leaving no trace."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from routesql.errors import InputError

SQLITE_HEADER = b"SQLite format 3\x00"
LFS_POINTER_START = b"version https://git-lfs"


class BadDatabase(InputError):
    """The file exists but is not a usable SQLite database (empty, a Git LFS pointer, other bytes)."""


def decode_text(raw: bytes) -> str:
    """SQLite TEXT → str; bytes that are not UTF-8 are dropped rather than failing the query.

    Spider's wta_1 holds non-UTF-8 bytes; the official evaluator decodes with errors="ignore",
    so we do the same to keep results comparable.
    """
    return raw.decode("utf-8", errors="ignore")


def read_header(path: Path) -> bytes:
    """The first 100 bytes of a database file (SQLite's header), checked to be one.

    Raises InputError when the file is missing, BadDatabase when it is empty, a Git LFS pointer
    (checked out without git-lfs) or anything else that does not start like SQLite.
    """
    if not path.is_file():
        raise InputError(path, "database file not found")
    try:
        with path.open("rb") as stream:
            header = stream.read(100)
    except OSError as error:
        raise BadDatabase(path, f"cannot be read ({error.strerror or error})") from None
    if not header:
        raise BadDatabase(path, "is empty (0 bytes), not a SQLite database")
    if header.startswith(LFS_POINTER_START):
        raise BadDatabase(path, "is a Git LFS pointer, not the database: run `git lfs pull`")
    if not header.startswith(SQLITE_HEADER):
        raise BadDatabase(path, "is not a SQLite database (its header is not 'SQLite format 3')")
    return header


def is_wal_mode(header: bytes) -> bool:
    """Header bytes 18 and 19 (write and read format versions) are 2 in WAL mode."""
    return len(header) >= 20 and header[18] == 2 and header[19] == 2


def open_readonly(db_path: str | Path) -> sqlite3.Connection:
    """Open a SQLite file so that nothing can be written to it, nor beside it.

    Three locks: the URI's ``mode=ro`` (the OS file is opened read-only), ``PRAGMA query_only``
    (SQLite refuses any write) and, in `QueryRunner`, an authorizer. A WAL-mode database would
    get ``-shm`` and ``-wal`` files created next to it by any reader; when it has no ``-wal`` file
    (nobody is writing it), it is opened ``immutable`` instead, which creates nothing. One that
    has a ``-wal`` file is being written (or was left so): it is read through the files already
    there, so a concurrent writer stays consistent. Raises InputError when the file is missing and
    BadDatabase when it is not a SQLite database.
    """
    path = Path(db_path)
    header = read_header(path)
    wal_file = path.with_name(path.name + "-wal")
    immutable = is_wal_mode(header) and not wal_file.exists()
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.text_factory = decode_text
    conn.execute("PRAGMA query_only = ON")
    return conn
