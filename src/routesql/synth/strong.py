"""SENSE strong synthesis, offline: executable (question, SQL) pairs sampled from a grammar.

For each training database the sampler composes SQL over the real schema with literal values read
from the database (patterns in `patterns` and `compound`), executes every query read-only, and
keeps only those that return at least one non-NULL value. Questions come from templates
(`verbalize`), or from an LLM endpoint when a question writer is given. Everything is drawn from
one `random.Random` per database, seeded from (seed, db_id), so the output does not depend on
the number of worker processes.
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
from routesql.synth import compound, patterns
from routesql.synth.patterns import Pattern
from routesql.synth.sampler import DbContext

DEFAULT_TIMEOUT_S = 5.0  # a sampled query slower than this is not worth keeping
ATTEMPTS_PER_PAIR = 6  # pattern draws per wanted pair before giving up on a database
DROP_REASONS = ("no_rows", "error", "duplicate_of_benchmark", "duplicate")

PATTERNS: dict[str, Pattern] = {
    "select_where_eq": patterns.select_where_eq,
    "select_where_compare": patterns.select_where_compare,
    "select_where_like": patterns.select_where_like,
    "select_where_between": patterns.select_where_between,
    "select_where_and": patterns.select_where_and,
    "order_limit": patterns.order_limit,
    "count_where": patterns.count_where,
    "count_distinct": patterns.count_distinct,
    "aggregate": patterns.aggregate,
    "aggregate_where": patterns.aggregate_where,
    "group_count": patterns.group_count,
    "group_aggregate": patterns.group_aggregate,
    "group_having": patterns.group_having,
    "group_top": patterns.group_top,
    "join_where": compound.join_where,
    "join_group_count": compound.join_group_count,
    "join_three": compound.join_three,
    "nested_average": compound.nested_average,
    "not_in_child": compound.not_in_child,
    "set_intersect": compound.set_intersect,
    "set_union": compound.set_union,
    "set_except": compound.set_except,
}

# The SQL feature each pattern exercises; tests check that sampling covers every family.
PATTERN_FAMILY: dict[str, str] = {
    **dict.fromkeys(
        ("select_where_eq", "select_where_compare", "select_where_like", "select_where_between", "select_where_and"),
        "selection",
    ),
    "order_limit": "order_limit",
    **dict.fromkeys(("count_where", "count_distinct", "aggregate", "aggregate_where"), "aggregate"),
    **dict.fromkeys(("group_count", "group_aggregate", "group_having", "group_top"), "group_by"),
    **dict.fromkeys(("join_where", "join_group_count", "join_three"), "join"),
    **dict.fromkeys(("nested_average", "not_in_child"), "nesting"),
    **dict.fromkeys(("set_intersect", "set_union", "set_except"), "set_operation"),
}


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

    Patterns are drawn in shuffled rounds so every applicable pattern appears. A draft whose
    normalised SQL is in `avoid_normalized` or was already drawn is dropped before execution.
    `counts`, when given, receives generated / kept / the drop reasons / inapplicable draws.
    """
    counts = Counter() if counts is None else counts
    ctx = DbContext.load(Path(db_path), runner)
    pairs: list[SyntheticPair] = []
    seen: set[str] = set()
    round_left: list[str] = []
    for _ in range(n * ATTEMPTS_PER_PAIR):
        if len(pairs) >= n or not ctx.tables:
            break
        if not round_left:
            round_left = list(PATTERNS)
            rng.shuffle(round_left)
        draft = PATTERNS[round_left.pop()](ctx, rng)
        if draft is None:
            counts["inapplicable"] += 1
            continue
        counts["generated"] += 1
        verdict = _verdict(ctx, draft.sql, seen, avoid_normalized)
        if verdict != "kept":
            counts[verdict] += 1
            continue
        counts["kept"] += 1
        pairs.append(SyntheticPair(db_id, draft.question, draft.sql, draft.pattern))
    return pairs


def _verdict(ctx: DbContext, sql: str, seen: set[str], avoid_normalized: frozenset[str]) -> str:
    key = normalize_sql(sql)
    if key in avoid_normalized:
        return "duplicate_of_benchmark"
    if key in seen:
        return "duplicate"
    seen.add(key)
    result = ctx.runner.run(ctx.db_path, sql)
    if not result.ok or result.rows is None:
        return "error"
    if all(value is None for row in result.rows for value in row):
        return "no_rows"  # also covers an empty result
    return "kept"


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
