"""Execution match of many (gold, prediction) pairs, in a pool of worker processes.

Each worker owns one `QueryRunner` (its connections and its gold-result cache). Jobs are sent
grouped by database so a worker reuses its connection and cache; results come back in job order.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from routesql.db.execute import ExecResult, QueryRunner
from routesql.db.limits import QueryLimits
from routesql.metrics.exec_match import (
    SEMANTICS,
    bird_rows_match,
    prepare_spider,
    spider_order_matters,
    spider_rows_match,
)


@dataclass(frozen=True)
class MatchJob:
    db_path: Path
    gold_sql: str
    pred_sql: str


@dataclass(frozen=True)
class MatchOutcome:
    """exec_match is None when the example cannot be scored (missing database, failing gold)."""

    exec_match: bool | None
    error: str | None = None
    error_kind: str | None = None  # from ExecResult, or "wrong_result" / "gold_failed"


def match_one(
    runner: QueryRunner, job: MatchJob, semantics: str = "spider", keep_distinct: bool = False
) -> MatchOutcome:
    if semantics not in SEMANTICS:
        raise ValueError(f"unknown semantics {semantics!r}; choose one of {', '.join(SEMANTICS)}")
    if not job.db_path.is_file():
        return MatchOutcome(None, f"database not found: {job.db_path}", "missing_database")
    gold_sql, pred_sql = job.gold_sql, job.pred_sql
    if semantics == "spider":
        gold_sql, pred_sql = prepare_spider(gold_sql, pred_sql, keep_distinct)
    gold = runner.run(job.db_path, gold_sql, cache=True)
    if gold.error_kind in ("missing_database", "bad_database"):
        return MatchOutcome(None, gold.error, gold.error_kind)
    if not gold.ok:
        return MatchOutcome(None, f"gold query failed: {gold.error}", "gold_failed")
    if not pred_sql.strip():
        return MatchOutcome(False, "empty prediction", "empty")
    pred = runner.run(job.db_path, pred_sql)
    if not pred.ok:
        return MatchOutcome(False, pred.error, pred.error_kind)
    same = _rows_match(gold, pred, gold_sql, semantics)
    return MatchOutcome(True) if same else MatchOutcome(False, "result differs from gold", "wrong_result")


def _rows_match(gold: ExecResult, pred: ExecResult, gold_sql: str, semantics: str) -> bool:
    assert gold.rows is not None and pred.rows is not None
    if semantics == "bird":
        return bird_rows_match(gold.rows, pred.rows)
    return spider_rows_match(gold.rows, pred.rows, spider_order_matters(gold_sql))


# --- the worker pool -------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1  # linux/prctl.h

_worker_runner: QueryRunner | None = None
_worker_options: tuple[str, bool] = ("spider", False)


def _init_worker(limits: QueryLimits, semantics: str, keep_distinct: bool) -> None:
    global _worker_runner, _worker_options
    _worker_runner = QueryRunner.within(limits)
    _worker_options = (semantics, keep_distinct)


def _match_in_worker(job: MatchJob) -> MatchOutcome:
    assert _worker_runner is not None
    return match_one(_worker_runner, job, *_worker_options)


def match_many(
    jobs: list[MatchJob],
    semantics: str = "spider",
    workers: int = 1,
    limits: QueryLimits = QueryLimits(),
    keep_distinct: bool = False,
    progress: bool = True,
    description: str = "executing",
) -> list[MatchOutcome]:
    """Score every job; outcomes are returned in the order of `jobs`."""
    if semantics not in SEMANTICS:
        raise ValueError(f"unknown semantics {semantics!r}; choose one of {', '.join(SEMANTICS)}")
    order = sorted(range(len(jobs)), key=lambda i: (str(jobs[i].db_path), i))
    ordered_jobs = [jobs[i] for i in order]
    outcomes: list[MatchOutcome | None] = [None] * len(jobs)
    results = _run_ordered(ordered_jobs, semantics, workers, limits, keep_distinct)
    try:
        bar = tqdm(results, total=len(jobs), desc=description, unit="query", disable=not progress, leave=False)
        for position, outcome in zip(order, bar):
            outcomes[position] = outcome
    finally:
        if isinstance(results, Generator):
            results.close()  # an interrupted run stops its worker processes now
    return [o for o in outcomes if o is not None]


def _run_ordered(
    jobs: list[MatchJob], semantics: str, workers: int, limits: QueryLimits, keep_distinct: bool
) -> Iterable[MatchOutcome]:
    if workers <= 1 or len(jobs) < 2:
        _init_worker(limits, semantics, keep_distinct)
        return (_match_in_worker(job) for job in jobs)
    return _pool_results(jobs, semantics, workers, limits, keep_distinct)


def _pool_results(
    jobs: list[MatchJob], semantics: str, workers: int, limits: QueryLimits, keep_distinct: bool
) -> Iterator[MatchOutcome]:
    # spawn, not fork: the caller may hold threads (torch, tqdm) that fork would copy half-way.
    context = multiprocessing.get_context("spawn")
    chunk = max(1, min(64, len(jobs) // (workers * 8)))
    pool = context.Pool(workers, initializer=_init_pool_worker, initargs=(limits, semantics, keep_distinct))
    finished = False
    try:
        yield from pool.imap(_match_in_worker, jobs, chunksize=chunk)
        finished = True
    finally:
        if finished:
            pool.close()
        else:  # interrupted (SIGINT/SIGTERM, an error, the caller gave up): a worker may be deep in
            pool.terminate()  # a runaway query; waiting for it would hold the user up to its timeout
        pool.join()


def _init_pool_worker(limits: QueryLimits, semantics: str, keep_distinct: bool) -> None:
    """A pool worker: Ctrl-C is the parent's to handle, and the worker dies with its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    _init_worker(limits, semantics, keep_distinct)


def _die_with_parent() -> None:
    """Linux: SIGTERM this process when its parent dies, even by SIGKILL (no orphan at full CPU)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)
