"""Shared fixtures: where the real benchmarks are, and small real SQLite databases."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest


def _benchmarks_root() -> Path | None:
    value = os.environ.get("ROUTESQL_BENCHMARKS")
    return Path(value) if value else None


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    root = _benchmarks_root()
    if root is None:
        pytest.skip("ROUTESQL_BENCHMARKS is not set: it must name ../shared/benchmarks (the real Spider data)")
    if not root.is_dir():
        pytest.skip(f"ROUTESQL_BENCHMARKS={root} is not a folder")
    return root


@pytest.fixture(scope="session")
def spider_dir(benchmarks_dir: Path) -> Path:
    return benchmarks_dir / "spider"


@pytest.fixture(scope="session")
def peers_dir(benchmarks_dir: Path) -> Path:
    peers = benchmarks_dir.parent / "peers"
    if not peers.is_dir():
        pytest.skip(f"no peers folder beside {benchmarks_dir}")
    return peers


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


@pytest.fixture()
def pets_db(tmp_path: Path) -> Path:
    return make_sqlite(tmp_path / "pets" / "pets.sqlite", PETS_SCRIPT)
