"""Helpers for tests: small real SQLite databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def make_sqlite(path: Path, script: str) -> Path:
    """A real SQLite file built from an SQL script (tests only; the product never writes databases)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.commit()
    conn.close()
    return path


PETS_SCRIPT = """
CREATE TABLE owner (id INTEGER PRIMARY KEY, name TEXT, city TEXT);
CREATE TABLE pet (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES owner(id), kind TEXT, age REAL);
INSERT INTO owner VALUES (1, 'Ann', 'Lyon'), (2, 'Bob', 'Oslo'), (3, 'Cid', 'Lyon');
INSERT INTO pet VALUES (1, 1, 'cat', 3), (2, 1, 'dog', 5), (3, 2, 'cat', 1), (4, 3, 'fish', 0.5);
"""
