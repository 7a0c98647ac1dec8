"""Noisy versions of a gold query, for the noise-correction (NC) task.

Each corruption is a function ``(query, schema, rng) -> str | None``: it takes the analysed gold
query (``links.analyze``: the parsed expression plus which base table and column each node reads),
makes one realistic mistake on a copy of the AST, and returns the corrupted SQL text — or None when
the query has nothing that kind of mistake could touch. Returning text lets ``broken_syntax``, which
has no AST, fit the same signature. The functions draw only from ``rng``, so a seeded
``random.Random`` gives the same corruption every time.

Whether a corruption really changes the result is checked by the caller, who executes it.
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Callable

from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite

from routesql.errors import InputError
from routesql.sqlkit.links import NODE_ID, QueryAnalysis, analyze
from routesql.sqlkit.parse import Schema, to_sql

Corruption = Callable[[QueryAnalysis, Schema, random.Random], str | None]

_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYWORDS = {keyword.upper() for keyword in SQLite.Tokenizer.KEYWORDS}


def corrupt(sql: str, schema: Schema, kind: str, rng: random.Random) -> str | None:
    """``sql`` with one mistake of ``kind`` (a key of CORRUPTIONS), or None when not applicable.

    Also None when the mistake would render to the same text as the gold query.
    Raises InputError for an unknown kind and SQLParseError (a ValueError) for unparsable SQL.
    """
    if kind not in CORRUPTIONS:
        raise InputError(f"corruption {kind!r}", f"unknown; expected one of {sorted(CORRUPTIONS)}")
    query = analyze(sql, schema)
    corrupted = CORRUPTIONS[kind](query, schema, rng)
    if corrupted is None or corrupted == query.sql:
        return None
    return corrupted


# --- helpers ------------------------------------------------------------------------------------


def _identifier(name: str) -> exp.Identifier:
    """An identifier for a schema name, quoted when SQLite would not read it bare."""
    quoted = not _PLAIN_NAME.match(name) or name.upper() in _KEYWORDS
    return exp.Identifier(this=name, quoted=quoted)


def _render(tree: exp.Expression) -> str:
    """Render a corrupted copy; it is thrown away after, so sqlglot need not copy it again."""
    return to_sql(tree, copy=False)


def _copy_if_any(query: QueryAnalysis, *kinds: type[exp.Expression]) -> exp.Expression | None:
    """A copy of the query's tree to edit, or None when it has no node of these kinds (copying
    is most of the cost of a corruption, and most kinds do not apply to most queries)."""
    return query.expression.copy() if query.expression.find(*kinds) is not None else None


def _same_name(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def _join_condition_nodes(expression: exp.Expression) -> set[int]:
    """Python ids of every node inside a JOIN ... ON condition."""
    inside: set[int] = set()
    for join in expression.find_all(exp.Join):
        condition = join.args.get("on")
        if condition is not None:
            inside.update(id(node) for node in condition.walk())
    return inside


def _is_column_equality(node: exp.Expr) -> bool:
    """``a.x = b.y``: a join condition, whether written in ON or in WHERE."""
    return isinstance(node, exp.EQ) and isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Column)


def _resolved_columns(query: QueryAnalysis, tree: exp.Expression) -> list[exp.Column]:
    return [c for c in tree.find_all(exp.Column) if c.meta.get(NODE_ID) in query.column_of]


def _other_columns(schema: Schema, table: str, column: str) -> list[str]:
    return [name for name in schema.get(table, {}) if not _same_name(name, column)]


# --- the corruptions ----------------------------------------------------------------------------


def wrong_column(query: QueryAnalysis, schema: Schema, rng: random.Random) -> str | None:
    """One column (outside join conditions) replaced by another column of the same table."""
    tree = query.expression.copy()
    in_joins = _join_condition_nodes(tree)
    candidates = [
        column
        for column in _resolved_columns(query, tree)
        if id(column) not in in_joins
        and not (column.parent and _is_column_equality(column.parent))
        and _other_columns(schema, *query.column_of[column.meta[NODE_ID]])
    ]
    if not candidates:
        return None
    column = rng.choice(candidates)
    table, name = query.column_of[column.meta[NODE_ID]]
    column.set("this", _identifier(rng.choice(_other_columns(schema, table, name))))
    return _render(tree)


def wrong_table(query: QueryAnalysis, schema: Schema, rng: random.Random) -> str | None:
    """One table replaced by another of the schema that the query does not use, preferring one that
    has the columns the query reads from it (a plausible confusion that still executes)."""
    tree = query.expression.copy()
    tables = [t for t in tree.find_all(exp.Table) if t.meta.get(NODE_ID) in query.table_of]
    if not tables:
        return None
    table = rng.choice(tables)
    name = query.table_of[table.meta[NODE_ID]]
    in_query = {t.lower() for t in query.links}
    others = [t for t in schema if t.lower() not in in_query]
    if not others:
        return None
    used = {c.lower() for c in query.links.get(name, [])}
    having_all = [t for t in others if used <= {c.lower() for c in schema[t]}]
    having_some = [t for t in others if used & {c.lower() for c in schema[t]}]
    replacement = rng.choice(having_all or having_some or others)
    table.set("this", _identifier(replacement))
    return _render(tree)


def wrong_join_key(query: QueryAnalysis, schema: Schema, rng: random.Random) -> str | None:
    """One side of a ``a.x = b.y`` join condition moved to another column of its table,
    preferring columns of the same declared type (the key columns one confuses)."""
    tree = _copy_if_any(query, exp.EQ)
    if tree is None:
        return None
    sides = [
        side
        for equality in tree.find_all(exp.EQ)
        if _is_column_equality(equality)
        for side in (equality.this, equality.expression)
        if side.meta.get(NODE_ID) in query.column_of
    ]
    choices = [(s, _other_columns(schema, *query.column_of[s.meta[NODE_ID]])) for s in sides]
    choices = [(side, others) for side, others in choices if others]
    if not choices:
        return None
    side, others = rng.choice(choices)
    table, name = query.column_of[side.meta[NODE_ID]]
    kind = schema[table][name].lower()
    same_kind = [other for other in others if schema[table][other].lower() == kind]
    side.set("this", _identifier(rng.choice(same_kind or others)))
    return _render(tree)


_AGGREGATE_SWAPS: dict[type[exp.Expr], tuple[type[exp.Expression], ...]] = {
    exp.Max: (exp.Min,),
    exp.Min: (exp.Max,),
    exp.Avg: (exp.Sum, exp.Max, exp.Min),
    exp.Sum: (exp.Avg, exp.Count),
}


def wrong_aggregate(query: QueryAnalysis, schema: Schema, rng: random.Random) -> str | None:
    """One aggregate swapped: MAX↔MIN, AVG→SUM/MAX/MIN, SUM→AVG/COUNT, COUNT(x)↔COUNT(DISTINCT
    x), and COUNT(*) → COUNT(DISTINCT column) over a column the query uses."""
    tree = _copy_if_any(query, exp.Max, exp.Min, exp.Avg, exp.Sum, exp.Count)
    if tree is None:
        return None
    aggregates = list(tree.find_all(exp.Max, exp.Min, exp.Avg, exp.Sum, exp.Count))
    if not aggregates:
        return None
    aggregate = rng.choice(aggregates)
    argument = aggregate.this
    if isinstance(aggregate, exp.Count):
        replacement = _wrong_count(query, tree, argument, rng)
        if replacement is None:
            return None
        aggregate.replace(replacement)
    else:
        swapped = rng.choice(_AGGREGATE_SWAPS[type(aggregate)])
        aggregate.replace(swapped(this=argument))
    return _render(tree)


def _wrong_count(
    query: QueryAnalysis, tree: exp.Expression, argument: exp.Expression, rng: random.Random
) -> exp.Expression | None:
    if isinstance(argument, exp.Distinct):
        return exp.Count(this=argument.expressions[0])
    if not isinstance(argument, exp.Star):
        return exp.Count(this=exp.Distinct(expressions=[argument]))
    # COUNT(*) counts rows; counting the distinct values of a column the query uses is the usual
    # confusion ("how many X" vs "how many different X"). GROUP BY keys and join keys (often equal
    # to a GROUP BY key) count 1 per group, the same as COUNT(*) would: avoided when possible.
    select = argument.parent_select
    columns = [c for c in _resolved_columns(query, select or tree) if c.parent_select is select]
    if not columns:
        return None
    group = select.args.get("group") if select is not None else None
    grouped = {key.sql().lower() for key in group.expressions} if group else set()
    in_joins = _join_condition_nodes(tree)
    preferred = [
        c
        for c in columns
        if c.sql().lower() not in grouped and id(c) not in in_joins and not (c.parent and _is_column_equality(c.parent))
    ]
    column = rng.choice(preferred or columns).copy()
    return exp.Count(this=exp.Distinct(expressions=[column]))


_COMPARISON_SWAPS: dict[type[exp.Expression], tuple[type[exp.Expression], ...]] = {
    exp.GT: (exp.LT, exp.LTE),
    exp.GTE: (exp.LT, exp.LTE),
    exp.LT: (exp.GT, exp.GTE),
    exp.LTE: (exp.GT, exp.GTE),
    exp.EQ: (exp.NEQ,),
    exp.NEQ: (exp.EQ,),
    exp.Like: (exp.EQ,),
}


def wrong_comparison(query: QueryAnalysis, schema: Schema, rng: random.Random) -> str | None:
    """One comparison operator flipped (> ↔ <, = ↔ !=, LIKE → =); join equalities are left alone."""
    tree = _copy_if_any(query, *_COMPARISON_SWAPS)
    if tree is None:
        return None
    comparisons = [
        node
        for node in tree.find_all(*_COMPARISON_SWAPS)
        if not _is_column_equality(node) and type(node) in _COMPARISON_SWAPS
    ]
    if not comparisons:
        return None
    comparison = rng.choice(comparisons)
    swapped = rng.choice(_COMPARISON_SWAPS[type(comparison)])
    comparison.replace(swapped(this=comparison.this, expression=comparison.expression))
    return _render(tree)


def wrong_literal(query: QueryAnalysis, schema: Schema, rng: random.Random) -> str | None:
    """One value in a condition changed (a number scaled or shifted, a string's letter case or
    wildcards changed); the LIMIT count only when no condition has a value."""
    tree = _copy_if_any(query, exp.Literal)
    if tree is None:
        return None
    literals = list(tree.find_all(exp.Literal))
    in_conditions = [lit for lit in literals if not isinstance(lit.parent, exp.Limit)]
    candidates = in_conditions or literals
    if not candidates:
        return None
    literal = rng.choice(candidates)
    if literal.is_string:
        changed = _changed_string(literal.this, isinstance(literal.parent, exp.Like), rng)
        literal.replace(exp.Literal.string(changed))
    else:
        literal.replace(exp.Literal.number(_changed_number(literal.this, rng)))
    return _render(tree)


def _changed_number(text: str, rng: random.Random) -> str:
    try:
        value = int(text)
    except ValueError:
        number = float(text)
        return repr(rng.choice([number * 10, number / 10, number + 1]))
    # Off-by-one rarely changes a result on these small databases; a slipped digit usually does.
    if value in (0, 1):
        return str(rng.choice([value + 2, 10]))
    return str(rng.choice([value * 10, value // 10 if abs(value) >= 10 else value + 10]))


def _changed_string(text: str, in_like: bool, rng: random.Random) -> str:
    if in_like and "%" in text:
        return text.replace("%", "")  # the wildcards forgotten: LIKE becomes an exact match
    # Letter case matters to SQLite's "=", so a value in the wrong case is a different value.
    options = [case for case in (text.lower(), text.upper(), text.title()) if case != text]
    if len(text) > 3 and any(ch.isalpha() for ch in text):
        options.append(text[:-1])  # a truncated value
    if options:
        return rng.choice(options)
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    if digits:
        at = rng.choice(digits)
        return text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1 :]
    return text + "x"


def dropped_condition(query: QueryAnalysis, schema: Schema, rng: random.Random) -> str | None:
    """One predicate of a WHERE or HAVING removed (the whole clause when it is the only one).
    Column-equality joins written in WHERE are kept: dropping them only makes a cross product."""
    tree = _copy_if_any(query, exp.Where, exp.Having)
    if tree is None:
        return None
    predicates = []
    for clause in tree.find_all(exp.Where, exp.Having):
        for predicate in _connective_leaves(clause.this):
            if not _is_column_equality(predicate):
                predicates.append(predicate)
    if not predicates:
        return None
    _remove_predicate(rng.choice(predicates))
    return _render(tree)


def _connective_leaves(condition: exp.Expression) -> list[exp.Expression]:
    """The operands of an AND/OR tree (through parentheses), left to right."""
    inner = condition.unnest()
    if isinstance(inner, exp.Connector):
        return _connective_leaves(inner.this) + _connective_leaves(inner.expression)
    return [condition]


def _remove_predicate(predicate: exp.Expression) -> None:
    node = predicate
    while isinstance(node.parent, exp.Paren):
        node = node.parent
    parent = node.parent
    if isinstance(parent, exp.Connector):
        sibling = parent.expression if node is parent.this else parent.this
        parent.replace(sibling)
    elif parent is not None:  # the clause's only predicate: the clause goes
        parent.pop()


def dropped_group_by(query: QueryAnalysis, schema: Schema, rng: random.Random) -> str | None:
    """The GROUP BY removed, or one of its keys when it has several."""
    tree = _copy_if_any(query, exp.Group)
    if tree is None:
        return None
    groups = list(tree.find_all(exp.Group))
    if not groups:
        return None
    group = rng.choice(groups)
    keys = group.expressions
    if len(keys) > 1 and rng.random() < 0.5:
        rng.choice(keys).pop()
    else:
        group.pop()
    return _render(tree)


_MISSPELLINGS = {
    "SELECT": "SELET",
    "FROM": "FORM",
    "WHERE": "WHRE",
    "GROUP BY": "GROUP",
    "ORDER BY": "ORDER",
    "JOIN": "JION",
    "HAVING": "HAVNG",
}


def broken_syntax(query: QueryAnalysis, schema: Schema, rng: random.Random) -> str | None:
    """A syntax error SQLite rejects: a misspelt keyword, a lost parenthesis or quote, a doubled
    comma, or the query cut off after a keyword. Only edits SQLite fails to parse are kept."""
    edits = _syntax_edits(query.sql)
    rng.shuffle(edits)
    for edited in edits:
        if _is_syntax_error(edited):
            return edited
    return None


def _syntax_edits(sql: str) -> list[str]:
    edits = []
    for keyword, misspelt in _MISSPELLINGS.items():
        at = sql.find(keyword + " ")
        if at >= 0:
            edits.append(sql[:at] + misspelt + sql[at + len(keyword) :])
    if ")" in sql:
        at = sql.rfind(")")
        edits.append(sql[:at] + sql[at + 1 :])
    if ", " in sql:
        edits.append(sql.replace(", ", ",, ", 1))
    quote = sql.rfind("'")
    if quote > 0:
        edits.append(sql[:quote] + sql[quote + 1 :])
    for keyword in (" WHERE ", " FROM ", " GROUP BY ", " ORDER BY "):
        at = sql.find(keyword)
        if at >= 0:
            edits.append(sql[: at + len(keyword)].rstrip())
    return edits


def _is_syntax_error(sql: str) -> bool:
    """Whether SQLite's parser rejects ``sql``; an empty database suffices, because SQLite parses
    before it looks tables up ("no such table" means the syntax was fine)."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("EXPLAIN " + sql)
    except sqlite3.Error as error:
        message = str(error)
        return "syntax error" in message or "incomplete input" in message or "unrecognized" in message
    finally:
        connection.close()
    return False


CORRUPTIONS: dict[str, Corruption] = {
    "wrong_column": wrong_column,
    "wrong_table": wrong_table,
    "wrong_join_key": wrong_join_key,
    "wrong_aggregate": wrong_aggregate,
    "wrong_comparison": wrong_comparison,
    "wrong_literal": wrong_literal,
    "dropped_condition": dropped_condition,
    "dropped_group_by": dropped_group_by,
    "broken_syntax": broken_syntax,
}
