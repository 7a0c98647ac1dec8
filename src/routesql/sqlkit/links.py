"""Schema links: which tables and columns a SQL query uses, as labels for the SL task.

The links come from sqlglot's qualification (every column gets its table), then a walk over the
query's scopes that maps each column to the *base* table it reads, through aliases, derived tables,
CTEs and set operations. ``*`` links its table but no column; ``count(*)`` adds no column.

``analyze`` parses and resolves a query once and caches the result, because the synthesis stage
asks for the links, several corruptions and the prefixes of the same query.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from routesql.db.schema import quote_identifier
from routesql.sqlkit.parse import DIALECT, Schema, SQLParseError, parse_sqlite, to_sql

Links = dict[str, list[str]]

# Key into exp.Expression.meta: survives .copy() and qualification, so a node of the qualified copy
# can be traced back to the node it came from in the parsed query.
NODE_ID = "routesql_node"


@dataclass(frozen=True)
class SchemaIndex:
    """A schema with case-insensitive look-ups back to the spelling in the database."""

    tables: dict[str, str]  # lower-cased table → table as spelled in the schema
    columns: dict[str, dict[str, str]]  # lower-cased table → lower-cased column → spelling
    mapping: MappingSchema  # for sqlglot's qualifier

    def table(self, name: str) -> str | None:
        return self.tables.get(name.lower())

    def column(self, table: str, name: str) -> str | None:
        return self.columns.get(table.lower(), {}).get(name.lower())


@dataclass(frozen=True)
class QueryAnalysis:
    """A parsed query and, for its nodes, the base tables and columns they refer to.

    ``expression`` is shared by every caller of ``analyze``: copy it before changing it.
    """

    expression: exp.Expression
    sql: str  # the expression rendered by to_sql, the canonical text of the query
    column_of: dict[int, tuple[str, str]]  # node id of an exp.Column → (table, column), as spelled
    table_of: dict[int, str]  # node id of an exp.Table that reads a base table → table
    links: Links


def schema_links(sql: str, schema: Schema) -> Links:
    """Tables and columns ``sql`` uses: table → sorted columns, names spelled as in ``schema``.

    Raises SQLParseError (a ValueError) when the SQL cannot be parsed or resolved on the schema.
    """
    return {table: list(columns) for table, columns in analyze(sql, schema).links.items()}


def analyze(sql: str, schema: Schema) -> QueryAnalysis:
    """Parse and resolve ``sql`` on ``schema`` (cached on both)."""
    return _analyze_cached(sql, _schema_key(schema))


def schema_index(schema: Schema) -> SchemaIndex:
    return _schema_index_cached(_schema_key(schema))


def _schema_key(schema: Schema) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    return tuple((table, tuple(columns.items())) for table, columns in schema.items())


@functools.lru_cache(maxsize=256)
def _schema_index_cached(key: tuple) -> SchemaIndex:
    tables = {table.lower(): table for table, _ in key}
    columns = {table.lower(): {name.lower(): name for name, _ in cols} for table, cols in key}
    # Types do not matter for qualification, and some declared types sqlglot cannot parse.
    # (annotated as MappingSchema takes it: a dict is invariant in its value type)
    mapping: dict[str, object] = {
        quote_identifier(table.lower(), always=True): {
            quote_identifier(name.lower(), always=True): "text" for name, _ in cols
        }
        for table, cols in key
    }
    return SchemaIndex(tables, columns, MappingSchema(mapping, dialect=DIALECT))


@functools.lru_cache(maxsize=4096)
def _analyze_cached(sql: str, key: tuple) -> QueryAnalysis:
    schema = {table: dict(columns) for table, columns in key}
    index = _schema_index_cached(key)
    expression = parse_sqlite(sql, schema)
    for number, node in enumerate(expression.find_all(exp.Column, exp.Table)):
        node.meta[NODE_ID] = number
    try:
        qualified = qualify(
            expression.copy(),
            dialect=DIALECT,
            schema=index.mapping,
            expand_stars=False,
            quote_identifiers=False,
            identify=False,
            validate_qualify_columns=False,
        )
    except SqlglotError as error:
        raise SQLParseError(sql, f"cannot resolve on the schema: {error}") from None
    column_of, table_of = _resolve(qualified, index)
    _resolve_repeated_columns(expression, column_of)
    links = _links_from(column_of, table_of)
    return QueryAnalysis(expression, to_sql(expression), column_of, table_of, links)


def _resolve(qualified: exp.Expression, index: SchemaIndex) -> tuple[dict[int, tuple[str, str]], dict[int, str]]:
    column_of: dict[int, tuple[str, str]] = {}
    table_of: dict[int, str] = {}
    for scope in traverse_scope(qualified):
        for source in scope.sources.values():
            if isinstance(source, exp.Table) and NODE_ID in source.meta:
                table = index.table(source.name)
                if table is not None:
                    table_of[source.meta[NODE_ID]] = table
        for column in scope.columns:
            found = _resolve_column(scope, column, index)
            if found is not None and NODE_ID in column.meta:
                column_of[column.meta[NODE_ID]] = found
    return column_of, table_of


def _resolve_repeated_columns(expression: exp.Expression, column_of: dict[int, tuple[str, str]]) -> None:
    """Give an unresolved column the resolution of the same name in the same SELECT.

    qualify turns ``ORDER BY age`` into a reference to the projection ``age``, so that node
    reads no table of its own; noise still wants to know which column it names.
    """
    resolved: dict[tuple[int, str, str], tuple[str, str]] = {}
    unresolved: list[tuple[exp.Column, tuple[int, str, str]]] = []
    for column in expression.find_all(exp.Column):
        key = (id(column.parent_select), column.table.lower(), column.name.lower())
        found = column_of.get(column.meta[NODE_ID])
        if found is not None:
            resolved.setdefault(key, found)
        elif not isinstance(column.this, exp.Star):
            unresolved.append((column, key))
    for column, key in unresolved:
        if key in resolved:
            column_of[column.meta[NODE_ID]] = resolved[key]


def _resolve_column(scope: Scope, column: exp.Column, index: SchemaIndex) -> tuple[str, str] | None:
    """The base (table, column) a column reads, looking outwards for correlated references."""
    current: Scope | None = scope
    while current is not None:
        if column.table:
            source = current.sources.get(column.table)
            if source is not None:
                return _resolve_in_source(source, column.name, index)
        else:
            # Unqualified after qualification: a name that only a `*` in a derived table
            # provides (qualify cannot see through an unexpanded star), or a projection alias,
            # which resolves to nothing unless a source happens to have a column of that name.
            for source in current.sources.values():
                found = _resolve_in_source(source, column.name, index)
                if found is not None:
                    return found
        current = current.parent
    return None


def _resolve_in_source(source: exp.Table | Scope, name: str, index: SchemaIndex) -> tuple[str, str] | None:
    if isinstance(source, exp.Table):
        table = index.table(source.name)
        column = index.column(table, name) if table else None
        return (table, column) if table and column else None
    # A derived table or CTE: its named outputs are resolved inside it (their own scope), so only
    # a name passed through by an unexpanded `*` needs to be followed further down.
    for branch in _set_operation_branches(source):
        if name in _projection_names(branch) or not _has_star(branch):
            continue
        for inner in branch.sources.values():
            found = _resolve_in_source(inner, name, index)
            if found is not None:
                return found
    return None


def _set_operation_branches(scope: Scope) -> list[Scope]:
    """The SELECT scopes of a (possibly nested) set operation; [scope] for a plain SELECT."""
    # sqlglot renamed union_scopes to set_operation_scopes; accept both.
    parts = getattr(scope, "set_operation_scopes", None) or getattr(scope, "union_scopes", None)
    if not parts:
        return [scope]
    return [branch for part in parts for branch in _set_operation_branches(part)]


def _projection_names(scope: Scope) -> set[str]:
    select = scope.expression
    if not isinstance(select, exp.Select):
        return set()
    return {projection.alias_or_name for projection in select.expressions}


def _has_star(scope: Scope) -> bool:
    select = scope.expression
    return isinstance(select, exp.Select) and any(
        isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
        for p in select.expressions
    )


def _links_from(column_of: dict[int, tuple[str, str]], table_of: dict[int, str]) -> Links:
    used: dict[str, set[str]] = {table: set() for table in table_of.values()}
    for table, column in column_of.values():
        used.setdefault(table, set()).add(column)
    return {table: sorted(used[table], key=str.lower) for table in sorted(used, key=str.lower)}


# --- the text format of the SL task -------------------------------------------------------------

_LINE = re.compile(r"^\s*([^:]+?)\s*:\s*(.*?)\s*$")


def format_links(links: Links) -> str:
    """One line per table, ``table: column, column`` (``table:`` when no column is linked)."""
    lines = []
    for table in sorted(links, key=str.lower):
        columns = ", ".join(sorted(links[table], key=str.lower))
        lines.append(f"{table}: {columns}" if columns else f"{table}:")
    return "\n".join(lines)


def parse_links(text: str, schema: Schema | None = None) -> Links:
    """Invert ``format_links``; tolerant of blank lines, spacing and letter case.

    With ``schema`` names are matched case-insensitively and returned spelled as in the schema;
    names that are not in it are dropped (a model's output may invent some). Raises ValueError on
    text that is not in the format at all (a non-blank line without ``:``) — never returns None.
    """
    index = schema_index(schema) if schema is not None else None
    links: dict[str, set[str]] = {}
    for number, line in enumerate(text.strip().splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"schema links line {number}: expected 'table: columns', got {line!r}")
        table = match.group(1).strip()
        columns = [c.strip() for c in match.group(2).split(",") if c.strip()]
        if index is not None:
            table = index.table(table) or ""
            columns = [index.column(table, c) or "" for c in columns] if table else []
            if not table:
                continue
        links.setdefault(table, set()).update(c for c in columns if c)
    return {t: sorted(links[t], key=str.lower) for t in sorted(links, key=str.lower)}
