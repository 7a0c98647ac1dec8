"""SENSE strong synthesis, offline: executable (question, SQL) pairs drawn from the question patterns.

For each training database, `routesql.questions.database` reads the schema and real values, and
the patterns of `routesql.questions.patterns` (the same ones the demo benchmark is written with)
compose SQL over it with its literal values and phrase the question. Every query is executed
read-only and kept only when it answers something (`worth_learning`). Questions come from the
patterns' templates, or from an LLM endpoint when a question writer is given. Everything is drawn
from one `random.Random` per database, seeded from (seed, db_id), so the output does not depend
on the number of worker processes.
"""

from __future__ import annotations

import multiprocessing
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from routesql.bench.example import Benchmark
from routesql.db.execute import QueryRunner
from routesql.db.schema import read_schema, render_schema
from routesql.errors import InputError
from routesql.questions.context import NoFit, worth_learning
from routesql.questions.database import database_context
from routesql.questions.patterns import PATTERNS

DEFAULT_TIMEOUT_S = 5.0  # a sampled query slower than this is not worth keeping
ATTEMPTS_PER_PAIR = 6  # pattern draws per wanted pair before giving up on a database
DROP_REASONS = ("no_answer", "error", "duplicate_of_benchmark", "duplicate")
PATTERN_WEIGHTS = [pattern.weight for pattern in PATTERNS]


@dataclass(frozen=True)
class SyntheticPair:
    db_id: str
    question: str
    sql: str
    pattern: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class QuestionWriter(Protocol):
    """Replaces template questions, e.g. by asking an LLM (see `openai_questions`)."""

    def write_questions(
        self, pairs: list[SyntheticPair], schema_text_by_db: Mapping[str, str]
    ) -> list[SyntheticPair]: ...


_QUOTED = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*")""")
_SPACE = re.compile(r"\s+")
_SPACE_AROUND_PUNCTUATION = re.compile(r"\s*([(),])\s*")


def normalize_sql(sql: str) -> str:
    """A comparison key for SQL text: case, whitespace, quote style and trailing `;` ignored.

    Case and spacing are folded outside quoted text only: `'Lyon'` and `'LYON'` select different
    rows in SQLite, so they stay different. A double-quoted token becomes single-quoted, since
    Spider's gold SQL writes string literals both ways.
    """
    parts = _QUOTED.split(sql.strip().rstrip(";").strip())
    # re.split with one capturing group alternates: plain, quoted, plain, quoted, ...
    for index, part in enumerate(parts):
        if index % 2 == 0:
            part = _SPACE_AROUND_PUNCTUATION.sub(r"\1", _SPACE.sub(" ", part.lower()))
        elif part.startswith('"'):
            part = "'" + part[1:-1].replace('""', '"').replace("'", "''") + "'"
        parts[index] = part
    return "".join(parts).strip()


def sample_strong_pairs(
    db_path: Path,
    db_id: str,
    n: int,
    rng: random.Random,
    runner: QueryRunner,
    avoid_normalized: frozenset[str] = frozenset(),
    counts: Counter[str] | None = None,
) -> list[SyntheticPair]:
    """Up to `n` executable pairs for one database (fewer when its schema offers too little).

    Patterns are drawn by their weights, the shares the demo benchmark gives them. A query whose
    normalised SQL is in `avoid_normalized` or was already drawn is dropped before execution.
    `counts`, when given, receives generated / kept / the drop reasons / inapplicable draws.
    """
    counts = Counter() if counts is None else counts
    ctx = database_context(Path(db_path), runner, rng)
    pairs: list[SyntheticPair] = []
    seen: set[str] = set()
    for _ in range(n * ATTEMPTS_PER_PAIR):
        if len(pairs) >= n or not ctx.tables:
            break
        pattern = rng.choices(PATTERNS, weights=PATTERN_WEIGHTS)[0]
        try:
            made = pattern.build(ctx)
        except NoFit:
            made = None
        if made is None:
            counts["inapplicable"] += 1
            continue
        question, sql = made
        counts["generated"] += 1
        verdict = _verdict(db_path, runner, sql, seen, avoid_normalized)
        if verdict != "kept":
            counts[verdict] += 1
            continue
        counts["kept"] += 1
        pairs.append(SyntheticPair(db_id, question, sql, pattern.name))
    return pairs


def _verdict(db_path: Path, runner: QueryRunner, sql: str, seen: set[str], avoid_normalized: frozenset[str]) -> str:
    key = normalize_sql(sql)
    if key in avoid_normalized:
        return "duplicate_of_benchmark"
    if key in seen:
        return "duplicate"
    seen.add(key)
    result = runner.run(db_path, sql)
    if not result.ok or result.rows is None:
        return "error"
    return "kept" if worth_learning(result.rows) else "no_answer"


# --- every training database -----------------------------------------------------------------


def synthesize_strong(
    bench_train: Benchmark,
    avoid: Iterable[str],
    per_db: int,
    seed: int,
    workers: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    question_writer: QuestionWriter | None = None,
) -> tuple[list[SyntheticPair], dict]:
    """Pairs for every database of `bench_train`, none repeating a benchmark query.

    `avoid` holds SQL to keep out (train + dev gold); comparison is by `normalize_sql`. Databases
    whose file is missing are skipped and counted. Returns the pairs (ordered by db_id) and the
    counts for the stage manifest (no timings, so the same inputs give the same manifest).
    """
    if per_db < 0:
        raise InputError("synthesize.per_db", f"must be >= 0 (got {per_db})")
    avoid_normalized = frozenset(normalize_sql(sql) for sql in avoid)
    db_ids = sorted({example.db_id for example in bench_train.examples})
    present = [db_id for db_id in db_ids if bench_train.db_path(db_id).is_file()]
    tasks = [(str(bench_train.db_path(db_id)), db_id, per_db, seed, timeout_s) for db_id in present]
    results = _run_tasks(tasks, avoid_normalized, workers)
    pairs = [pair for db_pairs, _ in results for pair in db_pairs]
    totals: Counter[str] = Counter()
    for _, db_counts in results:
        totals.update(db_counts)
    if question_writer is not None:
        pairs = _rewrite_questions(pairs, bench_train, question_writer, totals)
    stats = {
        "databases": len(present),
        "databases_missing": len(db_ids) - len(present),
        "generated": totals["generated"],
        "kept": len(pairs),
        "dropped": {reason: totals[reason] for reason in DROP_REASONS},
        "inapplicable_draws": totals["inapplicable"],
        "by_pattern": dict(sorted(Counter(pair.pattern for pair in pairs).items())),
        "questions_from_endpoint": totals["questions_from_endpoint"],
    }
    return pairs, stats


def _rewrite_questions(
    pairs: list[SyntheticPair], bench: Benchmark, writer: QuestionWriter, totals: Counter[str]
) -> list[SyntheticPair]:
    schema_text = {
        db_id: render_schema(read_schema(bench.db_path(db_id))) for db_id in sorted({pair.db_id for pair in pairs})
    }
    rewritten = writer.write_questions(pairs, schema_text)
    totals["questions_from_endpoint"] = sum(a.question != b.question for a, b in zip(pairs, rewritten))
    return rewritten


_worker_avoid: frozenset[str] = frozenset()


def _init_worker(avoid_normalized: frozenset[str]) -> None:
    # Sent once per process rather than once per database: the avoid set is thousands of strings.
    global _worker_avoid
    _worker_avoid = avoid_normalized


def _one_database(task: tuple[str, str, int, int, float]) -> tuple[list[SyntheticPair], Counter[str]]:
    db_path, db_id, per_db, seed, timeout_s = task
    runner = QueryRunner(timeout_s=timeout_s, row_cap=10_000)
    counts: Counter[str] = Counter()
    try:
        # A string seed is hashed with SHA-512 by `random`, so it is stable across processes.
        rng = random.Random(f"{seed}:{db_id}")
        pairs = sample_strong_pairs(Path(db_path), db_id, per_db, rng, runner, _worker_avoid, counts)
    finally:
        runner.close()
    return pairs, counts


def _run_tasks(
    tasks: list[tuple[str, str, int, int, float]], avoid_normalized: frozenset[str], workers: int
) -> list[tuple[list[SyntheticPair], Counter[str]]]:
    if workers <= 1 or len(tasks) < 2:
        _init_worker(avoid_normalized)
        return [_one_database(task) for task in tasks]
    # spawn, not fork: the caller may hold threads (torch, tqdm) that fork would copy half-way.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(avoid_normalized,)
    ) as pool:
        return list(pool.map(_one_database, tasks))
