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


def write_spider_benchmark(root: Path, questions: list[tuple[str, str]], db_id: str = "pets",
                           script: str = PETS_SCRIPT) -> Path:
    """A one-database benchmark in Spider's layout (dev.json and train_spider.json hold the same
    (question, gold SQL) pairs; tables.json is left out, as the loaders allow)."""
    import json

    make_sqlite(root / "database" / db_id / f"{db_id}.sqlite", script)
    records = [{"db_id": db_id, "question": q, "query": sql} for q, sql in questions]
    for name in ("dev.json", "train_spider.json"):
        (root / name).write_text(json.dumps(records))
    return root
