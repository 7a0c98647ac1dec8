"""Parsing Spider/BIRD gold SQL with sqlglot's SQLite dialect, quirks included.

Gold SQL in Spider was written by hand and executed by SQLite, which is lenient in ways sqlglot is
not. Three quirks matter:

- ``> =``, ``< =``, ``! =``, ``< >``: SQLite's tokenizer does not accept these either, but the
  official Spider tooling re-joins them, so the gold queries contain them. We join them too.
- ``name = "France"``: SQLite reads a double-quoted token as an identifier when it names something
  in scope and as a string literal otherwise. sqlglot always reads an identifier. Given the schema
  we apply SQLite's rule and turn the unresolvable ones into string literals.
- trailing semicolons and backticks: handled by sqlglot, but more than one statement is an error.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from routesql.errors import InputError

Schema = dict[str, dict[str, str]]

DIALECT = "sqlite"

# Quoted runs first, so the operator fix never touches text inside a literal or an identifier.
_QUOTED_OR_PLAIN = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\])""")
_SPACED_OPERATOR = re.compile(r"([<>!])\s+([=>])")
_DOUBLE_QUOTED = re.compile(r'"((?:[^"]|"")*)"')


class SQLParseError(InputError, ValueError):
    """SQL that cannot be parsed as exactly one SQLite statement (a ValueError, too)."""

    def __init__(self, sql: str, problem: str) -> None:
        shown = sql if len(sql) <= 120 else sql[:117] + "..."
        super().__init__(f"sql {shown!r}", problem)


def fix_spaced_operators(sql: str) -> str:
    """``a > = 1`` → ``a >= 1`` (also ``< =``, ``! =``, ``< >``), outside quoted text only."""
    parts = _QUOTED_OR_PLAIN.split(sql)
    # re.split with one capturing group alternates: plain, quoted, plain, quoted, ...
    for index in range(0, len(parts), 2):
        parts[index] = _SPACED_OPERATOR.sub(_join_operator, parts[index])
    return "".join(parts)


def _join_operator(match: re.Match[str]) -> str:
    first, second = match.group(1), match.group(2)
    if second == ">" and first != "<":
        return match.group(0)  # only "< >" is an operator among the ">"-ended pairs
    return first + second


def parse_sqlite(sql: str, schema: Schema | None = None) -> exp.Expression:
    """Parse one SQLite statement; raise SQLParseError (a ValueError) otherwise.

    With ``schema``, a double-quoted name that does not resolve to a column of a table the query
    uses, to a table, or to an alias of the query becomes a string literal, as SQLite reads it.
    Without a schema double-quoted names stay identifiers: rendering them back keeps SQLite's
    reading, but schema links and noise need the schema to tell values from names.
    """
    fixed = fix_spaced_operators(sql)
    try:
        statements = [s for s in sqlglot.parse(fixed, read=DIALECT) if s is not None]
    except SqlglotError as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SQLParseError(sql, f"not valid SQLite: {first_line}") from None
    if len(statements) != 1:
        raise SQLParseError(sql, f"expected exactly one statement, found {len(statements)}")
    expression = statements[0]
    # sqlglot builds only concrete nodes, all Expression subclasses (Expr is the bare trait base)
    assert isinstance(expression, exp.Expression)
    if schema is not None:
        _double_quoted_names_to_strings(expression, fixed, schema)
    return expression


def to_sql(expression: exp.Expression, *, copy: bool = True) -> str:
    """Render an expression as SQLite text (one line, identifiers quoted only where needed).

    ``copy=False`` skips sqlglot's defensive copy (most of the rendering time), but the generator's
    rewrites may then change the tree: only for a tree the caller owns and throws away.
    """
    return expression.sql(dialect=DIALECT, copy=copy)


def _double_quoted_names_to_strings(expression: exp.Expression, sql: str, schema: Schema) -> None:
    """Replace, in place, double-quoted column references that SQLite would read as strings."""
    written_double_quoted = {m.group(1).replace('""', '"') for m in _DOUBLE_QUOTED.finditer(sql)}
    if not written_double_quoted:
        return
    known = _names_in_scope(expression, schema)
    for column in list(expression.find_all(exp.Column)):
        identifier = column.this
        if column.table or not isinstance(identifier, exp.Identifier) or not identifier.quoted:
            continue
        # Backtick-quoted names are parsed the same way but are never strings in SQLite.
        if identifier.name not in written_double_quoted or identifier.name.lower() in known:
            continue
        column.replace(exp.Literal.string(identifier.name))


def _names_in_scope(expression: exp.Expression, schema: Schema) -> set[str]:
    """Lower-cased names a double-quoted token could resolve to: columns of the tables the query
    uses, the table names themselves, and every alias the query defines."""
    tables_by_lower = {name.lower(): columns for name, columns in schema.items()}
    names: set[str] = set()
    for table in expression.find_all(exp.Table):
        table_lower = table.name.lower()
        names.add(table_lower)
        names.update(column.lower() for column in tables_by_lower.get(table_lower, {}))
    for alias in expression.find_all(exp.TableAlias, exp.Alias):
        if alias.alias:
            names.add(alias.alias.lower())
    for cte in expression.find_all(exp.CTE):
        names.add(cte.alias_or_name.lower())
    return names
