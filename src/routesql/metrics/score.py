"""Execution accuracy of a prediction list over a benchmark split, as a JSON-ready report."""

from __future__ import annotations

import logging
from collections import defaultdict

from routesql.bench.example import Benchmark
from routesql.db.limits import QueryLimits
from routesql.metrics.matcher import MatchJob, MatchOutcome, match_many
from routesql.sqlkit.hardness import spider_hardness

log = logging.getLogger(__name__)

HARDNESS_LEVELS = ("easy", "medium", "hard", "extra")
BIRD_DIFFICULTIES = ("simple", "moderate", "challenging")
BIRD_FORMATS = ("bird", "bird-minidev")


def resolve_semantics(semantics: str, benchmark: str) -> str:
    """'auto' → BIRD's comparison (row sets) for BIRD and its mini-dev, Spider's for the rest."""
    if semantics != "auto":
        return semantics
    return "bird" if benchmark in BIRD_FORMATS else "spider"


def example_hardness(sql: str) -> str:
    """Spider hardness of a gold query, or "unknown" when it cannot be parsed."""
    try:
        return spider_hardness(sql)
    except ValueError:
        return "unknown"


def score_predictions(
    bench: Benchmark,
    predictions: list[str],
    semantics: str = "auto",
    workers: int = 1,
    limits: QueryLimits = QueryLimits(),
    keep_distinct: bool = False,
    progress: bool = True,
    warn_unscorable: bool = True,
) -> dict:
    """Score `predictions` (aligned with `bench.examples`) and return the report.

    Examples whose database is missing (or whose gold query fails) get ``exec_match: None`` and
    count as unscorable, with a warning (unless `warn_unscorable` is off: a caller scoring the
    same split again has said it once); they are neither errors nor zeros. `semantics`: spider,
    bird, or auto (`resolve_semantics`).
    """
    semantics = resolve_semantics(semantics, bench.name)
    if len(predictions) != len(bench.examples):
        raise ValueError(f"{len(predictions)} predictions for {len(bench.examples)} examples")
    jobs = [MatchJob(bench.db_path(ex.db_id), ex.sql, pred) for ex, pred in zip(bench.examples, predictions)]
    outcomes = match_many(
        jobs,
        semantics=semantics,
        workers=workers,
        limits=limits,
        keep_distinct=keep_distinct,
        progress=progress,
        description=f"scoring {bench.name}/{bench.split}",
    )
    # A benchmark's own difficulty labels (BIRD's) win over Spider's hardness of the gold SQL.
    hardness = [ex.difficulty or example_hardness(ex.sql) for ex in bench.examples]
    return {"semantics": semantics, **build_report(bench, outcomes, hardness, warn_unscorable)}


def build_report(
    bench: Benchmark, outcomes: list[MatchOutcome], hardness: list[str], warn_unscorable: bool = True
) -> dict:
    rows = list(zip(bench.examples, outcomes, hardness))
    examples = [
        {
            "index": i,
            "db_id": ex.db_id,
            "hardness": level,
            "exec_match": outcome.exec_match,
            "error": outcome.error,
            "error_kind": outcome.error_kind,
        }
        for i, (ex, outcome, level) in enumerate(rows)
    ]
    unscorable = [ex.db_id for ex, outcome, _ in rows if outcome.exec_match is None]
    if unscorable and warn_unscorable:
        missing = sorted(set(unscorable))
        log.warning("%d examples cannot be scored (databases or gold queries: %s)", len(unscorable), ", ".join(missing))
    return {"summary": summarize(examples), "examples": examples}


def summarize(examples: list[dict]) -> dict:
    scored = [e for e in examples if e["exec_match"] is not None]
    by_level: dict[str, list[bool]] = defaultdict(list)
    for e in scored:
        by_level[e["hardness"]].append(bool(e["exec_match"]))
    known = HARDNESS_LEVELS + BIRD_DIFFICULTIES
    levels = [lvl for lvl in known if lvl in by_level] + sorted(set(by_level) - set(known))
    unscorable = [e for e in examples if e["exec_match"] is None]
    return {
        # None (JSON null) when nothing could be scored: no figure at all, never a 0.0
        "ex": _share(sum(bool(e["exec_match"]) for e in scored), len(scored)) if scored else None,
        "n_scored": len(scored),
        "n_unscorable": len(unscorable),
        # why examples could not be scored: reason → count and the first message (names the file)
        "unscorable_reasons": {
            kind: {
                "n": sum(1 for e in unscorable if str(e["error_kind"]) == kind),
                "example": next(e["error"] for e in unscorable if str(e["error_kind"]) == kind),
            }
            for kind in sorted({str(e["error_kind"]) for e in unscorable})
        },
        # Spider hardness of the gold SQL, or the benchmark's own difficulty label (BIRD)
        "by_hardness": {
            lvl: {"ex": _share(sum(by_level[lvl]), len(by_level[lvl])), "n": len(by_level[lvl])} for lvl in levels
        },
        "breakdown": "difficulty" if any(lvl in BIRD_DIFFICULTIES for lvl in levels) else "hardness",
    }


def _share(hits: int, total: int) -> float:
    return hits / total if total else 0.0
