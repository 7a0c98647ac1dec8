"""Multi-table and nested SQL patterns: joins along declared foreign keys, subqueries, set operations.

Join filters take their literal from values reachable through the same join (a query run once per
join), so a sampled filter is known to match at least one joined row.
"""

from __future__ import annotations

import random

from routesql.db.schema import quote_identifier
from routesql.synth.patterns import (
    Draft,
    choose,
    filter_setup,
    name_slots,
    table_with,
    target_column,
)
from routesql.synth.sampler import NUMBER, ROWS_READ, DbContext, Edge, sql_literal
from routesql.synth.verbalize import COMPARISON_WORDS, natural_name, plural, value_text, verbalize


def _on(left_alias: str, left_table: str, right_alias: str, right_table: str, edge: Edge) -> str:
    left = f"{left_alias}.{quote_identifier(edge.column_on(left_table))}"
    return f"{left} = {right_alias}.{quote_identifier(edge.column_on(right_table))}"


def join_where(ctx: DbContext, rng: random.Random) -> Draft | None:
    """SELECT T1.a FROM x AS T1 JOIN y AS T2 ON ... WHERE T2.b = v (either side of the key first)."""
    edge = choose(rng, ctx.edges)
    if edge is None:
        return None
    first = rng.choice((edge.child, edge.parent))
    second = edge.other(first)
    target = target_column(ctx, rng, first, exclude=(edge.column_on(first),))
    column = choose(rng, ctx.columns(second))
    if target is None or column is None:
        return None
    joined = f"FROM {quote_identifier(first)} AS T1 JOIN {quote_identifier(second)} AS T2 ON {_on('T1', first, 'T2', second, edge)}"
    value = choose(rng, ctx.query_values(f"SELECT T2.{quote_identifier(column)} {joined} LIMIT {ROWS_READ}"))
    if value is None:
        return None
    sql = f"SELECT T1.{quote_identifier(target)} {joined} WHERE T2.{quote_identifier(column)} = {sql_literal(value)}"
    question = verbalize(
        "join_where",
        rng,
        target=natural_name(target),
        tables=plural(first),
        other_tables=plural(second),
        other_table=natural_name(second),
        column=natural_name(column),
        value=value_text(value),
    )
    return Draft("join_where", sql, question)


def join_group_count(ctx: DbContext, rng: random.Random) -> Draft | None:
    """How many children each parent row has, grouped by the parent's key."""
    edge = choose(rng, ctx.edges)
    if edge is None:
        return None
    label = target_column(ctx, rng, edge.parent, exclude=(edge.parent_column,))
    if label is None:
        return None
    sql = (
        f"SELECT T1.{quote_identifier(label)}, count(*) FROM {quote_identifier(edge.parent)} AS T1 "
        f"JOIN {quote_identifier(edge.child)} AS T2 ON {_on('T1', edge.parent, 'T2', edge.child, edge)} "
        f"GROUP BY T1.{quote_identifier(edge.parent_column)}"
    )
    question = verbalize(
        "join_group_count",
        rng,
        parent=natural_name(edge.parent),
        children=plural(edge.child),
        label=natural_name(label),
    )
    return Draft("join_group_count", sql, question)


def _three_table_paths(edges: list[Edge]) -> list[tuple[str, Edge, str, Edge, str]]:
    """(first, edge, middle, edge, last): two distinct keys meeting at a middle table."""
    paths = []
    for left in edges:
        for right in edges:
            if left == right:
                continue
            for middle in {left.child, left.parent} & {right.child, right.parent}:
                first, last = left.other(middle), right.other(middle)
                if first != last:
                    paths.append((first, left, middle, right, last))
    return paths


def join_three(ctx: DbContext, rng: random.Random) -> Draft | None:
    path = choose(rng, _three_table_paths(ctx.edges))
    if path is None:
        return None
    first, left, middle, right, last = path
    target = target_column(ctx, rng, first, exclude=(left.column_on(first),))
    column = choose(rng, ctx.columns(last))
    if target is None or column is None:
        return None
    joined = (
        f"FROM {quote_identifier(first)} AS T1 JOIN {quote_identifier(middle)} AS T2 "
        f"ON {_on('T1', first, 'T2', middle, left)} "
        f"JOIN {quote_identifier(last)} AS T3 ON {_on('T2', middle, 'T3', last, right)}"
    )
    value = choose(rng, ctx.query_values(f"SELECT T3.{quote_identifier(column)} {joined} LIMIT {ROWS_READ}"))
    if value is None:
        return None
    sql = f"SELECT T1.{quote_identifier(target)} {joined} WHERE T3.{quote_identifier(column)} = {sql_literal(value)}"
    question = verbalize(
        "join_three",
        rng,
        target=natural_name(target),
        tables=plural(first),
        middle_tables=plural(middle),
        far_tables=plural(last),
        far_table=natural_name(last),
        column=natural_name(column),
        value=value_text(value),
    )
    return Draft("join_three", sql, question)


def nested_average(ctx: DbContext, rng: random.Random) -> Draft | None:
    """Rows above (or below) the column's average, computed by a scalar subquery."""
    setup = filter_setup(ctx, rng, NUMBER)
    if setup is None:
        return None
    table, column, target = setup
    op = rng.choice(sorted(COMPARISON_WORDS))
    sql = (
        f"SELECT {quote_identifier(target)} FROM {quote_identifier(table)} WHERE {quote_identifier(column)} {op} "
        f"(SELECT avg({quote_identifier(column)}) FROM {quote_identifier(table)})"
    )
    question = verbalize(
        "nested_average",
        rng,
        target=natural_name(target),
        **name_slots(table),
        column=natural_name(column),
        op_words=COMPARISON_WORDS[op],
    )
    return Draft("nested_average", sql, question)


def not_in_child(ctx: DbContext, rng: random.Random) -> Draft | None:
    """Parent rows that no child row references."""
    edge = choose(rng, ctx.edges)
    if edge is None:
        return None
    target = target_column(ctx, rng, edge.parent, exclude=(edge.parent_column,))
    if target is None:
        return None
    sql = (
        f"SELECT {quote_identifier(target)} FROM {quote_identifier(edge.parent)} WHERE {quote_identifier(edge.parent_column)} "
        f"NOT IN (SELECT {quote_identifier(edge.child_column)} FROM {quote_identifier(edge.child)})"
    )
    question = verbalize(
        "not_in_child",
        rng,
        target=natural_name(target),
        parents=plural(edge.parent),
        parent=natural_name(edge.parent),
        children=plural(edge.child),
        child=natural_name(edge.child),
    )
    return Draft("not_in_child", sql, question)


def _set_operation(ctx: DbContext, rng: random.Random, operator: str) -> Draft | None:
    """Two selects of the same column of one table, filtered on two different columns."""
    table = table_with(ctx, rng, 2)
    if table is None:
        return None
    first, second = rng.sample(ctx.columns(table), 2)
    target = target_column(ctx, rng, table, exclude=(first, second))
    row = ctx.pick_row(rng, table, [first, second])
    if target is None or row is None:
        return None
    value, value2 = row[first], row[second]
    if operator != "INTERSECT":
        # For INTERSECT both filters come from one row, so that row is in both halves; for the
        # others a second value from a different row makes the halves differ.
        other = choose(rng, [v for v in ctx.values(table, second) if v != value2])
        value2 = value2 if other is None else other
    select = f"SELECT {quote_identifier(target)} FROM {quote_identifier(table)} WHERE"
    sql = f"{select} {quote_identifier(first)} = {sql_literal(value)} {operator} {select} {quote_identifier(second)} = {sql_literal(value2)}"
    pattern = f"set_{operator.lower()}"
    question = verbalize(
        pattern,
        rng,
        target=natural_name(target),
        **name_slots(table),
        column=natural_name(first),
        value=value_text(value),
        column2=natural_name(second),
        value2=value_text(value2),
    )
    return Draft(pattern, sql, question)


def set_intersect(ctx: DbContext, rng: random.Random) -> Draft | None:
    return _set_operation(ctx, rng, "INTERSECT")


def set_union(ctx: DbContext, rng: random.Random) -> Draft | None:
    return _set_operation(ctx, rng, "UNION")


def set_except(ctx: DbContext, rng: random.Random) -> Draft | None:
    return _set_operation(ctx, rng, "EXCEPT")
