"""`routesql ask`: the answer runs under params' execution limits, once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_mcp import ScriptedGenerator

from routesql.ask import answer_with
from routesql.db.execute import QueryRunner
from routesql.mcp import MCPPipeline, MCPSettings

RUNAWAY = "WITH RECURSIVE c(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM c) SELECT count(*) FROM c"


@pytest.mark.parametrize("timeout_s", [1.0, 2.0])
def test_a_runaway_answer_stops_within_the_timeout_and_runs_once(pets_db: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   timeout_s: float) -> None:
    executed: list[str] = []
    original = QueryRunner._run_uncached

    def counting(self: QueryRunner, path: Path, sql: str):
        executed.append(sql)
        return original(self, path, sql)

    monkeypatch.setattr(QueryRunner, "_run_uncached", counting)
    generator = ScriptedGenerator({("write", "count forever"): RUNAWAY, ("say_error", "count forever"): "correct"})
    settings = MCPSettings(schema_linking=False, noise_correction=True, continuation=True, timeout_s=timeout_s)
    started = time.monotonic()
    result = answer_with(MCPPipeline(generator, settings), "count forever", pets_db)
    elapsed = time.monotonic() - started
    assert result.error == f"timed out after {timeout_s:g} s"
    assert elapsed < timeout_s + 1, elapsed
    assert executed.count(RUNAWAY) == 1, executed
