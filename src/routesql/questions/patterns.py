"""The question patterns: one SQL shape each, with its paraphrases and a builder.

A builder draws tables, columns and values from a `QuestionContext` and returns (question, SQL),
or None when the draw does not fit (it may raise `NoFit` when the database cannot serve the
pattern at all). SQL is written in one canonical style: uppercase keywords, lowercase
aggregates, single-quoted strings, the subject table first as ``T1``, ``ON`` conditions with the
earlier alias first, identifiers quoted only where SQLite needs it. The demo benchmark and SENSE
strong synthesis draw from these same patterns; whether a query answers anything is checked by
the caller, who executes it (`worth_learning`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from routesql.db.schema import quote_identifier
from routesql.questions.context import (
    FILTER_ROLES,
    ORDER_ROLES,
    PROPERTY_ROLES,
    Edge,
    NoFit,
    QuestionContext,
    child_first,
    join_on,
    parent_first,
    quoted,
    sql_literal,
)
from routesql.questions.words import (
    COMPARE_WORDS,
    COUNT_WORDS,
    MOST_WORDS,
    SORT_WORDS,
    THREE_TABLE_CLAUSES,
    article,
    natural_name,
    plural,
)

Made = tuple[str, str] | None  # (question, sql), or None when the pattern does not fit the draw


@dataclass(frozen=True)
class Pattern:
    name: str
    weight: float  # share of the questions of each database, relative to the other patterns
    build: Callable[[QuestionContext], Made]


# --- single-table patterns -----------------------------------------------------------------------


def select_column(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(FILTER_ROLES)
    shown = ctx.must_pick_shown(table)
    return ctx.ask("select_column", table, s=shown), f"SELECT {shown.sql} FROM {quoted(table)}"


def select_two_columns(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(FILTER_ROLES)
    first = ctx.must_pick_shown(table)
    second = ctx.pick_column(table, FILTER_ROLES, exclude=(first.name,))
    if second is None:
        return None
    question = ctx.ask("select_two_columns", table, s=first, n=second)
    return question, f"SELECT {first.sql}, {second.sql} FROM {quoted(table)}"


def select_star(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(FILTER_ROLES)
    if ctx.rng.random() < 0.5:
        return ctx.ask("select_star", table), f"SELECT * FROM {quoted(table)}"
    cond = ctx.must_random_condition(table)
    question = ctx.ask("select_star_where", table, c=cond.phrase)
    return question, f"SELECT * FROM {quoted(table)} WHERE {cond.sql}"


def select_distinct(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",))
    group = ctx.must_pick_column(table, ("category",))
    return ctx.ask("select_distinct", table, g=group), f"SELECT DISTINCT {group.sql} FROM {quoted(table)}"


def count_all(ctx: QuestionContext) -> Made:
    table = ctx.pick_table()
    return ctx.ask("count_all", table), f"SELECT count(*) FROM {quoted(table)}"


def count_where(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(FILTER_ROLES)
    cond = ctx.must_random_condition(table)
    question = ctx.ask("count_where", table, c=cond.phrase)
    return question, f"SELECT count(*) FROM {quoted(table)} WHERE {cond.sql}"


def count_distinct(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",))
    group = ctx.must_pick_column(table, ("category",))
    question = ctx.ask("count_distinct", table, g=group)
    return question, f"SELECT count(DISTINCT {group.sql}) FROM {quoted(table)}"


def aggregate(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("number",))
    column = ctx.must_pick_column(table, ("number",))
    function, word = ctx.aggregate(column)
    question = ctx.ask("aggregate", table, w=word, n=column)
    return question, f"SELECT {function}({column.sql}) FROM {quoted(table)}"


def aggregate_where(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("number",))
    column = ctx.must_pick_column(table, ("number",))
    cond = ctx.random_condition(table, exclude=(column.name,), roles=PROPERTY_ROLES)
    if cond is None:
        return None
    function, word = ctx.aggregate(column)
    question = ctx.ask("aggregate_where", table, w=word, n=column, c=cond.phrase)
    return question, f"SELECT {function}({column.sql}) FROM {quoted(table)} WHERE {cond.sql}"


def max_and_min(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("number",))
    column = ctx.must_pick_column(table, ("number",))
    question = ctx.ask("max_and_min", table, n=column)
    return question, f"SELECT max({column.sql}), min({column.sql}) FROM {quoted(table)}"


def list_where(ctx: QuestionContext, table: str, rest: str, where: str, exclude: Sequence[str]) -> Made:
    """A LIST question that shows one column of the rows matching `where`."""
    shown = ctx.pick_shown(table, exclude=exclude)
    if shown is None:
        return None
    question = ctx.ask("list", table, s=shown, rest=rest)
    return question, f"SELECT {shown.sql} FROM {quoted(table)} WHERE {where}"


def where_filter(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(FILTER_ROLES)
    cond = ctx.must_random_condition(table)
    return list_where(ctx, table, f"whose {cond.phrase}", cond.sql, (cond.column,))


def where_not_equal(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",))
    column = ctx.must_pick_column(table, ("category",))
    value = ctx.pick_value(table, column.name)
    rest = f"whose {natural_name(column.name)} is not {value}"
    return list_where(ctx, table, rest, f"{column.sql} != {sql_literal(value)}", (column.name,))


def where_like(ctx: QuestionContext, negated: bool = False) -> Made:
    table = ctx.pick_table(("label",))
    column = ctx.must_pick_column(table, ("label",))
    value = str(ctx.pick_value(table, column.name))
    words = [w for w in value.split() if w.isalpha() and len(w) >= 3]
    if not words:
        return None
    word = ctx.rng.choice(words)
    verb, op = ("does not contain", "NOT LIKE") if negated else ("contains", "LIKE")
    rest = f"whose {natural_name(column.name)} {verb} {word}"
    return list_where(ctx, table, rest, f"{column.sql} {op} '%{word}%'", ())


def where_not_like(ctx: QuestionContext) -> Made:
    return where_like(ctx, negated=True)


def where_between(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(ORDER_ROLES)
    column = ctx.must_pick_column(table, ORDER_ROLES)
    low, high = ctx.pick_range(table, column.name)
    if low == high:
        return None
    rest = f"whose {natural_name(column.name)} is between {low} and {high}"
    where = f"{column.sql} BETWEEN {sql_literal(low)} AND {sql_literal(high)}"
    return list_where(ctx, table, rest, where, (column.name,))


def where_in(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",))
    column = ctx.must_pick_column(table, ("category",))
    distinct = sorted(set(ctx.values(table, column.name)))
    if len(distinct) < 3:
        return None
    chosen = ctx.rng.sample(distinct, min(ctx.rng.choice((2, 3)), len(distinct) - 1))
    spoken = ", ".join(map(str, chosen[:-1])) + f" and {chosen[-1]}"
    listed = ", ".join(sql_literal(v) for v in chosen)
    rest = f"whose {natural_name(column.name)} is one of {spoken}"
    return list_where(ctx, table, rest, f"{column.sql} IN ({listed})", (column.name,))


def where_two_conditions(ctx: QuestionContext, connective: str) -> Made:
    table = ctx.pick_table(FILTER_ROLES)
    first = ctx.random_condition(table, roles=PROPERTY_ROLES)
    if first is None:
        return None
    second = ctx.random_condition(table, exclude=(first.column,), roles=PROPERTY_ROLES)
    if second is None:
        return None
    rest = f"whose {first.phrase} {connective.lower()} {second.phrase}"
    return list_where(ctx, table, rest, f"{first.sql} {connective} {second.sql}", ())


def where_and(ctx: QuestionContext) -> Made:
    return where_two_conditions(ctx, "AND")


def where_or(ctx: QuestionContext) -> Made:
    return where_two_conditions(ctx, "OR")


def order_superlative(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(ORDER_ROLES)
    column = ctx.must_pick_column(table, ORDER_ROLES)
    shown = ctx.pick_shown(table, exclude=(column.name,))
    if shown is None:
        return None
    direction, word = ctx.direction(column)
    question = ctx.ask("order_superlative", table, s=shown, w=word, n=column)
    return question, f"SELECT {shown.sql} FROM {quoted(table)} ORDER BY {column.sql} {direction} LIMIT 1"


def top_k(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(ORDER_ROLES)
    column = ctx.must_pick_column(table, ORDER_ROLES)
    shown = ctx.pick_shown(table, exclude=(column.name,))
    if shown is None:
        return None
    direction, word = ctx.direction(column)
    k = ctx.rng.choice((3, 5))
    question = ctx.ask("top_k", table, s=shown, w=word, n=column, k=k)
    order = f"ORDER BY {column.sql} {direction} LIMIT {k}"
    return question, f"SELECT {shown.sql}, {column.sql} FROM {quoted(table)} {order}"


def sorted_list(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(ORDER_ROLES)
    column = ctx.must_pick_column(table, ORDER_ROLES)
    shown = ctx.pick_shown(table, exclude=(column.name,))
    if shown is None:
        return None
    direction = ctx.rng.choice(("DESC", "ASC"))
    word, route = SORT_WORDS[direction]
    question = ctx.ask("sorted_list", table, s=shown, n=column, w=word, r=route)
    return question, f"SELECT {shown.sql} FROM {quoted(table)} ORDER BY {column.sql} {direction}"


def where_superlative(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(ORDER_ROLES)
    column = ctx.must_pick_column(table, ORDER_ROLES)
    shown = ctx.pick_shown(table, exclude=(column.name,))
    if shown is None:
        return None
    cond = ctx.random_condition(table, exclude=(shown.name, column.name), roles=PROPERTY_ROLES)
    if cond is None:
        return None
    direction, word = ctx.direction(column)
    question = ctx.ask("where_superlative", table, s=shown, w=word, n=column, c=cond.phrase)
    order = f"ORDER BY {column.sql} {direction} LIMIT 1"
    return question, f"SELECT {shown.sql} FROM {quoted(table)} WHERE {cond.sql} {order}"


def group_count(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",))
    group = ctx.must_pick_column(table, ("category",))
    question = ctx.ask("group_count", table, g=group)
    return question, f"SELECT {group.sql}, count(*) FROM {quoted(table)} GROUP BY {group.sql}"


def group_aggregate(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",), ("number",))
    group = ctx.must_pick_column(table, ("category",))
    column = ctx.must_pick_column(table, ("number",))
    function, word = ctx.aggregate(column)
    question = ctx.ask("group_aggregate", table, w=word, n=column, g=group)
    select = f"SELECT {group.sql}, {function}({column.sql})"
    return question, f"{select} FROM {quoted(table)} GROUP BY {group.sql}"


def group_where_count(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",))
    group = ctx.must_pick_column(table, ("category",))
    cond = ctx.random_condition(table, exclude=(group.name,), roles=PROPERTY_ROLES)
    if cond is None:
        return None
    question = ctx.ask("group_where_count", table, g=group, c=cond.phrase)
    select = f"SELECT {group.sql}, count(*) FROM {quoted(table)}"
    return question, f"{select} WHERE {cond.sql} GROUP BY {group.sql}"


def having_count(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",))
    group = ctx.must_pick_column(table, ("category",))
    op, k = ctx.count_threshold(ctx.group_sizes(table, group.name))
    question = ctx.ask("having_count", table, g=group, w=COUNT_WORDS[op], k=k)
    grouped = f"SELECT {group.sql} FROM {quoted(table)} GROUP BY {group.sql}"
    return question, f"{grouped} HAVING count(*) {op} {k}"


def having_average(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",), ("number",))
    group = ctx.must_pick_column(table, ("category",))
    column = ctx.must_pick_column(table, ("number",))
    op = ctx.rng.choice((">", "<"))
    value = ctx.pick_middle(table, column.name)
    word = ctx.rng.choice(COMPARE_WORDS[("number", op)])
    question = ctx.ask("having_average", table, g=group, n=column, w=word, v=value)
    grouped = f"SELECT {group.sql} FROM {quoted(table)} GROUP BY {group.sql}"
    return question, f"{grouped} HAVING avg({column.sql}) {op} {value}"


def most_common(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",))
    group = ctx.must_pick_column(table, ("category",))
    direction = ctx.rng.choice(("DESC", "ASC"))
    most, largest = MOST_WORDS[direction]
    question = ctx.ask("most_common", table, g=group, m=most, l=largest)
    grouped = f"SELECT {group.sql} FROM {quoted(table)} GROUP BY {group.sql}"
    return question, f"{grouped} ORDER BY count(*) {direction} LIMIT 1"


def above_average(ctx: QuestionContext, extra_condition: bool = False) -> Made:
    table = ctx.pick_table(("number",))
    column = ctx.must_pick_column(table, ("number",))
    op = ctx.rng.choice((">", "<"))
    word = ctx.rng.choice(COMPARE_WORDS[("number", op)])
    clause = f"{natural_name(column.name)} is {word} the average {natural_name(column.name)}"
    where = f"{column.sql} {op} (SELECT avg({column.sql}) FROM {quoted(table)})"
    if extra_condition:
        cond = ctx.random_condition(table, exclude=(column.name,), roles=PROPERTY_ROLES)
        if cond is None:
            return None
        clause, where = f"{cond.phrase} and {clause}", f"{cond.sql} AND {where}"
    return list_where(ctx, table, f"whose {clause}", where, (column.name,))


def above_average_filtered(ctx: QuestionContext) -> Made:
    return above_average(ctx, extra_condition=True)


def intersect_values(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",))
    group = ctx.must_pick_column(table, ("category",))
    conds = ctx.two_conditions(table, exclude=(group.name,))
    if conds is None:
        return None
    question = ctx.ask("intersect_values", table, g=group, a=conds[0].phrase, b=conds[1].phrase)
    select = f"SELECT {group.sql} FROM {quoted(table)} WHERE"
    return question, f"{select} {conds[0].sql} INTERSECT {select} {conds[1].sql}"


def union_rows(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(FILTER_ROLES)
    conds = ctx.two_conditions(table)
    if conds is None:
        return None
    rest = f"whose {conds[0].phrase}, together with those whose {conds[1].phrase}"
    shown = ctx.must_pick_shown(table)
    select = f"SELECT {shown.sql} FROM {quoted(table)} WHERE"
    question = ctx.ask("list", table, s=shown, rest=rest)
    return question, f"{select} {conds[0].sql} UNION {select} {conds[1].sql}"


def except_values(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",))
    group = ctx.must_pick_column(table, ("category",))
    cond = ctx.random_condition(table, exclude=(group.name,), roles=PROPERTY_ROLES)
    if cond is None:
        return None
    question = ctx.ask("except_values", table, g=group, c=cond.phrase)
    select = f"SELECT {group.sql} FROM {quoted(table)}"
    return question, f"{select} EXCEPT {select} WHERE {cond.sql}"


# --- joins along foreign keys --------------------------------------------------------------------


def join_filter_parent(ctx: QuestionContext) -> Made:
    """Children filtered by their parent: "employees whose department name is Sales"."""
    edge = ctx.pick_edge(child_roles=FILTER_ROLES, parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    shown = ctx.must_pick_shown(child)
    cond = ctx.must_random_condition(parent, alias="T2.", about=f"{natural_name(parent)} ")
    question = ctx.ask("list", child, s=shown, rest=f"whose {cond.phrase}")
    return question, f"SELECT T1.{shown.sql} FROM {child_first(edge)} WHERE {cond.sql}"


def join_filter_child(ctx: QuestionContext) -> Made:
    """Parents with a matching child: "departments that have an employee whose ..."."""
    edge = ctx.pick_edge(child_roles=FILTER_ROLES, parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    shown = ctx.must_pick_shown(parent)
    cond = ctx.must_random_condition(child, alias="T2.")
    rest = f"that have {article(child)} {natural_name(child)} whose {cond.phrase}"
    question = ctx.ask("list", parent, s=shown, rest=rest)
    return question, f"SELECT DISTINCT T1.{shown.sql} FROM {parent_first(edge)} WHERE {cond.sql}"


def join_show_both(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(child_roles=FILTER_ROLES, parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    first, second = ctx.must_pick_shown(child), ctx.must_pick_shown(parent)
    question = ctx.ask("join_show_both", s=first, n=second, k=natural_name(child), p=natural_name(parent))
    return question, f"SELECT T1.{first.sql}, T2.{second.sql} FROM {child_first(edge)}"


def join_group_count(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    shown = ctx.pick_label(parent)
    question = ctx.ask("join_group_count", p=natural_name(parent), s=shown, ks=plural(child))
    return (
        question,
        f"SELECT T1.{shown.sql}, count(*) FROM {parent_first(edge)} GROUP BY T1.{quote_identifier(edge.parent_key)}",
    )


def join_group_aggregate(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(child_roles=("number",), parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    shown = ctx.pick_label(parent)
    column = ctx.must_pick_column(child, ("number",))
    function, word = ctx.aggregate(column)
    question = ctx.ask("join_group_aggregate", p=natural_name(parent), s=shown, w=word, n=column, ks=plural(child))
    select = f"SELECT T1.{shown.sql}, {function}(T2.{column.sql})"
    return question, f"{select} FROM {parent_first(edge)} GROUP BY T1.{quote_identifier(edge.parent_key)}"


def join_most(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    shown = ctx.pick_label(parent)
    direction = ctx.rng.choice(("DESC", "ASC"))
    most, largest = MOST_WORDS[direction]
    question = ctx.ask("join_most", s=shown, p=natural_name(parent), m=most, l=largest, ks=plural(child))
    grouped = f"SELECT T1.{shown.sql} FROM {parent_first(edge)} GROUP BY T1.{quote_identifier(edge.parent_key)}"
    return question, f"{grouped} ORDER BY count(*) {direction} LIMIT 1"


def join_having(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    shown = ctx.pick_label(parent)
    op, k = ctx.count_threshold(ctx.group_sizes(child, edge.fk_column))
    question = ctx.ask("list", parent, s=shown, rest=f"that have {COUNT_WORDS[op]} {k} {plural(child)}")
    grouped = f"SELECT T1.{shown.sql} FROM {parent_first(edge)} GROUP BY T1.{quote_identifier(edge.parent_key)}"
    return question, f"{grouped} HAVING count(*) {op} {k}"


def join_aggregate_filter(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(child_roles=("number",), parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    column = ctx.must_pick_column(child, ("number",))
    cond = ctx.must_random_condition(parent, alias="T2.", about=f"{natural_name(parent)} ")
    function, word = ctx.aggregate(column)
    question = ctx.ask("join_aggregate_filter", w=word, n=column, ks=plural(child), c=cond.phrase)
    select = f"SELECT {function}(T1.{column.sql})"
    return question, f"{select} FROM {child_first(edge)} WHERE {cond.sql}"


def join_count_filter(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    cond = ctx.must_random_condition(parent, alias="T2.", about=f"{natural_name(parent)} ")
    question = ctx.ask("join_count_filter", ks=plural(child), c=cond.phrase)
    return question, f"SELECT count(*) FROM {child_first(edge)} WHERE {cond.sql}"


def join_superlative_filter(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(child_roles=ORDER_ROLES, parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    column = ctx.must_pick_column(child, ORDER_ROLES)
    shown = ctx.pick_shown(child, exclude=(column.name,))
    if shown is None:
        return None
    cond = ctx.must_random_condition(parent, alias="T2.", about=f"{natural_name(parent)} ")
    direction, word = ctx.direction(column)
    question = ctx.ask(
        "join_superlative_filter",
        s=shown,
        k=natural_name(child),
        ks=plural(child),
        w=word,
        n=column,
        c=cond.phrase,
    )
    order = f"ORDER BY T1.{column.sql} {direction} LIMIT 1"
    return question, f"SELECT T1.{shown.sql} FROM {child_first(edge)} WHERE {cond.sql} {order}"


def parents_without_children(ctx: QuestionContext, two_columns: bool = False) -> Made:
    edge = ctx.pick_edge(parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    shown = ctx.must_pick_shown(parent)
    names, columns = natural_name(shown.name), shown.sql
    if two_columns:
        other = ctx.pick_column(parent, FILTER_ROLES, exclude=(shown.name,))
        if other is None:
            return None
        names, columns = f"{names} and {natural_name(other.name)}", f"{columns}, {other.sql}"
    question = ctx.ask("list", parent, s=names, rest=f"that have no {plural(child)}")
    key, fk = quote_identifier(edge.parent_key), quote_identifier(edge.fk_column)
    return (
        question,
        f"SELECT {columns} FROM {quoted(parent)} WHERE {key} NOT IN (SELECT {fk} FROM {quoted(child)})",
    )


def parents_without_children_two_columns(ctx: QuestionContext) -> Made:
    return parents_without_children(ctx, two_columns=True)


def three_table_paths(ctx: QuestionContext) -> list[tuple[str, Edge, str, Edge, str]]:
    """Every path start -(first)- middle -(second)- end over two different foreign keys."""
    paths = []
    for first in ctx.edges:
        for second in ctx.edges:
            if first == second:
                continue
            for start, middle in ((first.child, first.parent), (first.parent, first.child)):
                if middle in (second.child, second.parent):
                    end = second.parent if middle == second.child else second.child
                    if end not in (start, middle):
                        paths.append((start, first, middle, second, end))
    return sorted(paths)


def join_three_tables(ctx: QuestionContext) -> Made:
    paths = [
        path
        for path in three_table_paths(ctx)
        if ctx.columns(path[0], FILTER_ROLES) and ctx.columns(path[4], FILTER_ROLES)
    ]
    if not paths:
        raise NoFit("no two foreign keys make a path of three tables")
    start, first, middle, second, end = ctx.rng.choice(paths)
    hops = ("up" if start == first.child else "down", "up" if middle == second.child else "down")
    shown = ctx.must_pick_shown(start)
    cond = ctx.must_random_condition(end, alias="T3.")
    rest = THREE_TABLE_CLAUSES[hops].format(
        b=natural_name(middle), c=natural_name(end), ab=article(middle), ac=article(end), cond=cond.phrase
    )
    question = ctx.ask("list", start, s=shown, rest=rest)
    distinct = "" if hops == ("up", "up") else "DISTINCT "
    joins = (
        f"{quoted(start)} AS T1 JOIN {quoted(middle)} AS T2 ON {join_on('T1', start, 'T2', first)} "
        f"JOIN {quoted(end)} AS T3 ON {join_on('T2', middle, 'T3', second)}"
    )
    return question, f"SELECT {distinct}T1.{shown.sql} FROM {joins} WHERE {cond.sql}"


def intersect_join(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(child_roles=FILTER_ROLES, parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    shown = ctx.pick_label(parent)
    conds = ctx.two_conditions(child, alias="T2.")
    if conds is None:
        return None
    one = f"{article(child)} {natural_name(child)}"
    rest = f"that have both {one} whose {conds[0].phrase} and {one} whose {conds[1].phrase}"
    question = ctx.ask("list", parent, s=shown, rest=rest)
    select = f"SELECT T1.{shown.sql} FROM {parent_first(edge)} WHERE"
    return question, f"{select} {conds[0].sql} INTERSECT {select} {conds[1].sql}"


def except_join(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(child_roles=FILTER_ROLES, parent_roles=FILTER_ROLES)
    child, parent = edge.child, edge.parent
    shown = ctx.pick_label(parent)
    cond = ctx.must_random_condition(child, alias="T2.")
    question = ctx.ask("list", parent, s=shown, rest=f"that have no {natural_name(child)} whose {cond.phrase}")
    matching = f"SELECT T1.{shown.sql} FROM {parent_first(edge)} WHERE {cond.sql}"
    return question, f"SELECT {shown.sql} FROM {quoted(parent)} EXCEPT {matching}"


PATTERNS: tuple[Pattern, ...] = (
    # mostly easy
    Pattern("select_column", 3, select_column),
    Pattern("select_star", 1.5, select_star),
    Pattern("select_distinct", 1.5, select_distinct),
    Pattern("count_all", 1.5, count_all),
    Pattern("count_where", 3, count_where),
    Pattern("count_distinct", 1, count_distinct),
    Pattern("aggregate", 3, aggregate),
    Pattern("aggregate_where", 2, aggregate_where),
    Pattern("where_filter", 5, where_filter),
    Pattern("where_not_equal", 1.5, where_not_equal),
    Pattern("where_between", 2, where_between),
    Pattern("where_in", 2, where_in),
    Pattern("sorted_list", 2, sorted_list),
    Pattern("having_count", 2, having_count),
    Pattern("having_average", 1, having_average),
    # mostly medium
    Pattern("select_two_columns", 2, select_two_columns),
    Pattern("max_and_min", 1.5, max_and_min),
    Pattern("where_like", 2, where_like),
    Pattern("where_not_like", 1, where_not_like),
    Pattern("where_and", 3, where_and),
    Pattern("where_or", 2, where_or),
    Pattern("order_superlative", 3, order_superlative),
    Pattern("top_k", 2, top_k),
    Pattern("group_count", 1.5, group_count),
    Pattern("group_aggregate", 2, group_aggregate),
    Pattern("group_where_count", 1.5, group_where_count),
    Pattern("join_filter_parent", 4, join_filter_parent),
    Pattern("join_filter_child", 3, join_filter_child),
    Pattern("join_show_both", 2, join_show_both),
    Pattern("join_group_count", 1.2, join_group_count),
    Pattern("join_group_aggregate", 1.5, join_group_aggregate),
    Pattern("join_having", 2, join_having),
    Pattern("join_aggregate_filter", 2, join_aggregate_filter),
    Pattern("join_count_filter", 1.5, join_count_filter),
    # mostly hard
    Pattern("where_superlative", 2, where_superlative),
    Pattern("most_common", 2, most_common),
    Pattern("above_average", 3, above_average),
    Pattern("parents_without_children", 3, parents_without_children),
    Pattern("join_three_tables", 3, join_three_tables),
    Pattern("intersect_values", 1.5, intersect_values),
    Pattern("union_rows", 1.5, union_rows),
    Pattern("except_values", 1.5, except_values),
    Pattern("except_join", 1.5, except_join),
    # mostly extra
    Pattern("join_most", 2.5, join_most),
    Pattern("join_superlative_filter", 2, join_superlative_filter),
    Pattern("intersect_join", 2, intersect_join),
    Pattern("above_average_filtered", 2, above_average_filtered),
    Pattern("parents_without_children_two_columns", 1.5, parents_without_children_two_columns),
)
