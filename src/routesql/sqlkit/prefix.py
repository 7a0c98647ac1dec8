"""Clause-boundary prefixes of a SQL query, for the continuation-writing (CW) task.

The query is rendered once in canonical form (``parse_sqlite`` then ``to_sql``) and that text is
cut just before each top-level clause keyword, so every prefix plus its continuation is exactly the
canonical text. Keywords inside parentheses (subqueries, function calls) are not boundaries: a
prefix never ends inside a nested query.
"""

from __future__ import annotations

from sqlglot.dialects.sqlite import SQLite
from sqlglot.tokens import TokenType

from routesql.sqlkit.links import analyze
from routesql.sqlkit.parse import Schema, parse_sqlite, to_sql

# A prefix ends right before these: the SELECT list ends at FROM, FROM (with its joins) ends at
# WHERE, and so on; a set operator closes the query on its left.
_DIALECT = SQLite()

_CUT_BEFORE = {
    TokenType.FROM,
    TokenType.WHERE,
    TokenType.GROUP_BY,
    TokenType.HAVING,
    TokenType.ORDER_BY,
    TokenType.LIMIT,
    TokenType.UNION,
    TokenType.INTERSECT,
    TokenType.EXCEPT,
}


def canonical_sql(sql: str, schema: Schema | None = None) -> str:
    """The text the prefixes cut: the query parsed (Spider quirks fixed) and rendered for SQLite.

    With a schema this is ``links.analyze(sql, schema).sql``, cached with the links and noise of
    the same query.
    """
    if schema is not None:
        return analyze(sql, schema).sql
    return to_sql(parse_sqlite(sql))


def clause_prefixes(sql: str, schema: Schema | None = None) -> list[str]:
    """Prefixes of ``canonical_sql(sql, schema)`` ending at top-level clause boundaries.

    The first is always ``"SELECT "`` (for a WITH query: the text up to its main SELECT and the
    space after it); each later SELECT of a set operation gives a prefix ending after it, too.
    Shortest first; the whole query is not included. Raises SQLParseError (a ValueError).
    """
    text = canonical_sql(sql, schema)
    return [text[:cut] for cut in _cut_positions(text)]


def _cut_positions(text: str) -> list[int]:
    cuts: set[int] = set()
    depth = 0
    for token in _DIALECT.tokenize(text):
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and token.token_type in _CUT_BEFORE:
            cuts.add(token.start)
        elif depth == 0 and token.token_type == TokenType.SELECT:
            cuts.add(token.end + 2)  # after "SELECT" and the space that follows it
    return sorted(cut for cut in cuts if 0 < cut < len(text))
