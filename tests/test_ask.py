"""`routesql ask`: the answer runs under params' execution limits, once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from routesql.ask import answer_with
from routesql.db.execute import QueryRunner
from routesql.mcp.pipeline import MCPPipeline
from support import mcp_with
from test_mcp import ScriptedGenerator

RUNAWAY = "WITH RECURSIVE c(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM c) SELECT count(*) FROM c"


@pytest.mark.parametrize("timeout_s", [1.0, 2.0])
def test_a_runaway_answer_stops_within_the_timeout_and_runs_once(
    pets_db: Path, monkeypatch: pytest.MonkeyPatch, timeout_s: float
) -> None:
    executed: list[str] = []
    original = QueryRunner._run_uncached

    def counting(self: QueryRunner, path: Path, sql: str):
        executed.append(sql)
        return original(self, path, sql)

    monkeypatch.setattr(QueryRunner, "_run_uncached", counting)
    generator = ScriptedGenerator({("write", "count forever"): RUNAWAY, ("say_error", "count forever"): "correct"})
    settings = mcp_with("noise_correction", "continuation", timeout_s=timeout_s)
    started = time.monotonic()
    result = answer_with(MCPPipeline(generator, settings), "count forever", pets_db)
    elapsed = time.monotonic() - started
    assert result.error == f"timed out after {timeout_s:g} s"
    assert elapsed < timeout_s + 1, elapsed
    assert executed.count(RUNAWAY) == 1, executed


def test_asking_a_wal_database_leaves_its_folder_as_it_was(tmp_path: Path) -> None:
    import hashlib
    import sqlite3

    folder = tmp_path / "shop"
    folder.mkdir()
    db = folder / "shop.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE item (name TEXT, price REAL)")
    conn.executemany("INSERT INTO item VALUES (?, ?)", [("pen", 1.5), ("ink", 4.0)])
    conn.commit()
    conn.close()

    def state() -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}

    before = state()
    generator = ScriptedGenerator({("write", "how many items"): "SELECT count(*) FROM item"})
    settings = mcp_with("noise_correction", "continuation")
    result = answer_with(MCPPipeline(generator, settings), "how many items", db)
    assert result.error is None and result.rows == ((2,),)
    assert state() == before == {"shop.sqlite": before["shop.sqlite"]}
