"""SQL patterns the strong sampler composes, each with its template question.

A pattern is a function ``(ctx, rng) -> Draft | None``: it picks tables, columns and real values
from the `DbContext`, writes the SQL and verbalises it, or returns None when the database has
nothing the pattern needs (no numeric column, no foreign key, ...). Whether the SQL returns rows
is checked by the caller, who executes it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from routesql.db.schema import quote_identifier
from routesql.synth.sampler import NUMBER, TEXT, DbContext, sql_literal
from routesql.synth.verbalize import (
    AGGREGATE_WORDS,
    COMPARISON_WORDS,
    ORDER_WORDS,
    natural_name,
    plural,
    value_text,
    verbalize,
)


@dataclass(frozen=True)
class Draft:
    pattern: str
    sql: str
    question: str


Pattern = Callable[[DbContext, random.Random], "Draft | None"]
T = TypeVar("T")


# --- picking helpers -----------------------------------------------------------------------------


def choose(rng: random.Random, items: Sequence[T]) -> T | None:
    return rng.choice(items) if items else None


def target_column(ctx: DbContext, rng: random.Random, table: str, exclude: tuple[str, ...] = ()) -> str | None:
    """The column a question asks for: a text column by preference (names, titles), else any."""
    for kind, keys in ((TEXT, False), (None, False), (None, True)):
        columns = [c for c in ctx.columns(table, kind, keys=keys) if c not in exclude]
        if columns:
            return rng.choice(columns)
    return None


def table_with(ctx: DbContext, rng: random.Random, filters: int, kind: str | None = None) -> str | None:
    """A table with at least `filters` non-key columns of `kind` plus one more column to select."""
    tables = [
        t
        for t in ctx.table_names()
        if len(ctx.columns(t, kind)) >= filters and len(ctx.columns(t, keys=True)) > filters
    ]
    return choose(rng, tables)


def name_slots(table: str) -> dict[str, str]:
    return {"table": natural_name(table), "tables": plural(table)}


def filter_setup(ctx: DbContext, rng: random.Random, kind: str | None = None) -> tuple[str, str, str] | None:
    """(table, filter column, target column) with target ≠ filter."""
    table = table_with(ctx, rng, 1, kind)
    if table is None:
        return None
    column = rng.choice(ctx.columns(table, kind))
    target = target_column(ctx, rng, table, exclude=(column,))
    return None if target is None else (table, column, target)


# --- single-table selections --------------------------------------------------------------------


def select_where_eq(ctx: DbContext, rng: random.Random) -> Draft | None:
    setup = filter_setup(ctx, rng)
    if setup is None:
        return None
    table, column, target = setup
    value = ctx.pick_value(rng, table, column)
    sql = f"SELECT {quote_identifier(target)} FROM {quote_identifier(table)} WHERE {quote_identifier(column)} = {sql_literal(value)}"
    question = verbalize(
        "select_where_eq",
        rng,
        target=natural_name(target),
        **name_slots(table),
        column=natural_name(column),
        value=value_text(value),
    )
    return Draft("select_where_eq", sql, question)


def select_where_compare(ctx: DbContext, rng: random.Random) -> Draft | None:
    setup = filter_setup(ctx, rng, NUMBER)
    if setup is None:
        return None
    table, column, target = setup
    value = ctx.pick_value(rng, table, column)
    op = rng.choice(sorted(COMPARISON_WORDS))
    sql = f"SELECT {quote_identifier(target)} FROM {quote_identifier(table)} WHERE {quote_identifier(column)} {op} {sql_literal(value)}"
    question = verbalize(
        "select_where_compare",
        rng,
        target=natural_name(target),
        **name_slots(table),
        column=natural_name(column),
        op_words=COMPARISON_WORDS[op],
        value=value_text(value),
    )
    return Draft("select_where_compare", sql, question)


def select_where_like(ctx: DbContext, rng: random.Random) -> Draft | None:
    setup = filter_setup(ctx, rng, TEXT)
    if setup is None:
        return None
    table, column, target = setup
    words = sorted({w for v in ctx.values(table, column) for w in str(v).split() if w.isalpha() and len(w) >= 3})
    word = choose(rng, words)
    if word is None:
        return None
    sql = f"SELECT {quote_identifier(target)} FROM {quote_identifier(table)} WHERE {quote_identifier(column)} LIKE '%{word}%'"
    question = verbalize(
        "select_where_like",
        rng,
        target=natural_name(target),
        **name_slots(table),
        column=natural_name(column),
        word=str(word),
    )
    return Draft("select_where_like", sql, question)


def select_where_between(ctx: DbContext, rng: random.Random) -> Draft | None:
    setup = filter_setup(ctx, rng, NUMBER)
    if setup is None:
        return None
    table, column, target = setup
    values = ctx.values(table, column)
    if len(values) < 2:
        return None
    low, high = sorted(rng.sample(values, 2))  # type: ignore[type-var]  # numbers only here
    sql = (
        f"SELECT {quote_identifier(target)} FROM {quote_identifier(table)} "
        f"WHERE {quote_identifier(column)} BETWEEN {sql_literal(low)} AND {sql_literal(high)}"
    )
    question = verbalize(
        "select_where_between",
        rng,
        target=natural_name(target),
        **name_slots(table),
        column=natural_name(column),
        low=value_text(low),
        high=value_text(high),
    )
    return Draft("select_where_between", sql, question)


def select_where_and(ctx: DbContext, rng: random.Random) -> Draft | None:
    table = table_with(ctx, rng, 2)
    if table is None:
        return None
    first, second = rng.sample(ctx.columns(table), 2)
    target = target_column(ctx, rng, table, exclude=(first, second))
    row = ctx.pick_row(rng, table, [first, second])
    if target is None or row is None:
        return None
    # Both values come from one row, so at least that row satisfies the conjunction.
    sql = (
        f"SELECT {quote_identifier(target)} FROM {quote_identifier(table)} WHERE {quote_identifier(first)} = "
        f"{sql_literal(row[first])} AND {quote_identifier(second)} = {sql_literal(row[second])}"
    )
    question = verbalize(
        "select_where_and",
        rng,
        target=natural_name(target),
        **name_slots(table),
        column=natural_name(first),
        value=value_text(row[first]),
        column2=natural_name(second),
        value2=value_text(row[second]),
    )
    return Draft("select_where_and", sql, question)


def order_limit(ctx: DbContext, rng: random.Random) -> Draft | None:
    setup = filter_setup(ctx, rng, NUMBER)
    if setup is None:
        return None
    table, column, target = setup
    direction = rng.choice(sorted(ORDER_WORDS))
    limit = rng.choice((1, 1, 3, 5))
    sql = f"SELECT {quote_identifier(target)} FROM {quote_identifier(table)} ORDER BY {quote_identifier(column)} {direction} LIMIT {limit}"
    names = name_slots(table)
    limit_phrase = names["table"] if limit == 1 else f"{limit} {names['tables']}"
    question = verbalize(
        "order_limit",
        rng,
        target=natural_name(target),
        column=natural_name(column),
        is_are="is" if limit == 1 else "are",
        limit_phrase=limit_phrase,
        order_words=ORDER_WORDS[direction],
    )
    return Draft("order_limit", sql, question)


# --- aggregates and grouping --------------------------------------------------------------------


def count_where(ctx: DbContext, rng: random.Random) -> Draft | None:
    setup = filter_setup(ctx, rng)
    if setup is None:
        return None
    table, column, _ = setup
    value = ctx.pick_value(rng, table, column)
    sql = f"SELECT count(*) FROM {quote_identifier(table)} WHERE {quote_identifier(column)} = {sql_literal(value)}"
    question = verbalize("count_where", rng, **name_slots(table), column=natural_name(column), value=value_text(value))
    return Draft("count_where", sql, question)


def count_distinct(ctx: DbContext, rng: random.Random) -> Draft | None:
    table = table_with(ctx, rng, 1)
    if table is None:
        return None
    column = rng.choice(ctx.columns(table))
    sql = f"SELECT count(DISTINCT {quote_identifier(column)}) FROM {quote_identifier(table)}"
    question = verbalize("count_distinct", rng, **name_slots(table), column=natural_name(column))
    return Draft("count_distinct", sql, question)


def aggregate_function(rng: random.Random, column: str) -> str:
    """sum/avg/min/max; only min/max for years, whose sum or average means nothing."""
    words = natural_name(column).split(" ")
    functions = ("max", "min") if "year" in words or "date" in words else sorted(AGGREGATE_WORDS)
    return rng.choice(functions)


def aggregate(ctx: DbContext, rng: random.Random) -> Draft | None:
    table = table_with(ctx, rng, 1, NUMBER)
    if table is None:
        return None
    column = rng.choice(ctx.columns(table, NUMBER))
    function = aggregate_function(rng, column)
    sql = f"SELECT {function}({quote_identifier(column)}) FROM {quote_identifier(table)}"
    question = verbalize(
        "aggregate", rng, **name_slots(table), column=natural_name(column), agg_words=AGGREGATE_WORDS[function]
    )
    return Draft("aggregate", sql, question)


def aggregate_where(ctx: DbContext, rng: random.Random) -> Draft | None:
    table = table_with(ctx, rng, 1, NUMBER)
    if table is None:
        return None
    column = rng.choice(ctx.columns(table, NUMBER))
    filters = [c for c in ctx.columns(table) if c != column]
    filter_column = choose(rng, filters)
    if filter_column is None:
        return None
    value = ctx.pick_value(rng, table, filter_column)
    function = aggregate_function(rng, column)
    sql = f"SELECT {function}({quote_identifier(column)}) FROM {quote_identifier(table)} WHERE {quote_identifier(filter_column)} = {sql_literal(value)}"
    question = verbalize(
        "aggregate_where",
        rng,
        **name_slots(table),
        column=natural_name(column),
        agg_words=AGGREGATE_WORDS[function],
        filter_column=natural_name(filter_column),
        value=value_text(value),
    )
    return Draft("aggregate_where", sql, question)


def _group_column(ctx: DbContext, rng: random.Random) -> tuple[str, str] | None:
    """(table, column) where the column repeats values among the rows read."""
    candidates = [(t, c) for t in ctx.table_names() for c in ctx.columns(t) if ctx.has_repeats(t, c)]
    return choose(rng, candidates)


def group_count(ctx: DbContext, rng: random.Random) -> Draft | None:
    picked = _group_column(ctx, rng)
    if picked is None:
        return None
    table, group = picked
    sql = (
        f"SELECT {quote_identifier(group)}, count(*) FROM {quote_identifier(table)} GROUP BY {quote_identifier(group)}"
    )
    question = verbalize("group_count", rng, **name_slots(table), group=natural_name(group))
    return Draft("group_count", sql, question)


def group_aggregate(ctx: DbContext, rng: random.Random) -> Draft | None:
    picked = _group_column(ctx, rng)
    if picked is None:
        return None
    table, group = picked
    column = choose(rng, [c for c in ctx.columns(table, NUMBER) if c != group])
    if column is None:
        return None
    function = aggregate_function(rng, column)
    sql = f"SELECT {quote_identifier(group)}, {function}({quote_identifier(column)}) FROM {quote_identifier(table)} GROUP BY {quote_identifier(group)}"
    question = verbalize(
        "group_aggregate",
        rng,
        **name_slots(table),
        group=natural_name(group),
        column=natural_name(column),
        agg_words=AGGREGATE_WORDS[function],
    )
    return Draft("group_aggregate", sql, question)


def group_having(ctx: DbContext, rng: random.Random) -> Draft | None:
    picked = _group_column(ctx, rng)
    if picked is None:
        return None
    table, group = picked
    count = rng.choice((1, 1, 2))
    sql = f"SELECT {quote_identifier(group)} FROM {quote_identifier(table)} GROUP BY {quote_identifier(group)} HAVING count(*) > {count}"
    question = verbalize("group_having", rng, **name_slots(table), group=natural_name(group), count=str(count))
    return Draft("group_having", sql, question)


def group_top(ctx: DbContext, rng: random.Random) -> Draft | None:
    picked = _group_column(ctx, rng)
    if picked is None:
        return None
    table, group = picked
    sql = f"SELECT {quote_identifier(group)} FROM {quote_identifier(table)} GROUP BY {quote_identifier(group)} ORDER BY count(*) DESC LIMIT 1"
    question = verbalize("group_top", rng, **name_slots(table), group=natural_name(group))
    return Draft("group_top", sql, question)
