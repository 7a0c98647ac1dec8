"""Load a split and execute every gold query: the data layer's health check."""

from __future__ import annotations

from pathlib import Path

from routesql.bench.example import Benchmark
from routesql.bench.loaders import load_benchmark, missing_databases
from routesql.db.limits import QueryLimits
from routesql.metrics.matcher import MatchJob, match_many


def check_gold_queries(
    root: Path,
    split: str,
    fmt: str | None = None,
    workers: int = 1,
    limits: QueryLimits = QueryLimits(),
    progress: bool = True,
    spider_root: Path | None = None,
) -> dict:
    """Execute each gold query whose database exists; report the ones SQLite rejects.

    Gold text gets the same Spider fixes the official evaluator applies (``> =`` spacing), so a
    query reported here fails there too.
    """
    return check_gold(load_benchmark(root, split, fmt, spider_root), workers, limits, progress)


def check_gold(bench: Benchmark, workers: int = 1, limits: QueryLimits = QueryLimits(), progress: bool = True) -> dict:
    """`check_gold_queries` on a split already loaded."""
    missing = missing_databases(bench)
    present = [(i, ex) for i, ex in enumerate(bench.examples) if ex.db_id not in missing]
    jobs = [MatchJob(bench.db_path(ex.db_id), ex.sql, ex.sql) for _, ex in present]
    outcomes = match_many(
        jobs,
        semantics="spider",
        workers=workers,
        limits=limits,
        progress=progress,
        description=f"checking {bench.name}/{bench.split} gold",
    )
    failures = [
        {
            "index": i,
            "id": ex.id,
            "db_id": ex.db_id,
            "sql": ex.sql,
            "error": (outcome.error or "").removeprefix("gold query failed: "),
        }
        for (i, ex), outcome in zip(present, outcomes)
        if outcome.error_kind == "gold_failed"
    ]
    return {
        "benchmark": bench.name,
        "split": bench.split,
        "n_examples": len(bench.examples),
        "n_executed": len(present) - len(failures),
        "n_missing_database": len(bench.examples) - len(present),
        "missing_databases": sorted(missing),
        "failures": failures,
    }
