"""Opening benchmark databases: read-only, always, with tolerant text decoding."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from routesql.errors import InputError


def decode_text(raw: bytes) -> str:
    """SQLite TEXT → str; bytes that are not UTF-8 are dropped rather than failing the query.

    Spider's wta_1 holds non-UTF-8 bytes; the official evaluator decodes with errors="ignore",
    so we do the same to keep results comparable.
    """
    return raw.decode("utf-8", errors="ignore")


def open_readonly(db_path: str | Path) -> sqlite3.Connection:
    """Open a SQLite file so that nothing can be written to it.

    Three locks: the URI's ``mode=ro`` (the OS file is opened read-only), ``PRAGMA query_only``
    (SQLite refuses any write), and ``immutable`` is *not* used so that a database another process
    is writing stays consistent. Raises InputError when the file is missing.
    """
    path = Path(db_path)
    if not path.is_file():
        raise InputError(path, "database file not found")
    uri = f"{path.resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.text_factory = decode_text
    conn.execute("PRAGMA query_only = ON")
    return conn
