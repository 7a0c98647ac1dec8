"""Shared fixtures: where the real benchmarks are, and small real SQLite databases."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import PETS_SCRIPT, make_sqlite


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


@pytest.fixture()
def pets_db(tmp_path: Path) -> Path:
    return make_sqlite(tmp_path / "pets" / "pets.sqlite", PETS_SCRIPT)
