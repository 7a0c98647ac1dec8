"""What the SQL sampler knows about one database: tables, column kinds, real values, join edges.

Everything comes from the SQLite file: the schema (`read_schema`), the first rows of every table
(read through `QueryRunner`, so read-only and time-limited), and the declared foreign keys. Values
used as literals are always values that exist in the database, so filters select real rows.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

from routesql.db.execute import QueryRunner
from routesql.db.schema import DatabaseSchema, Value, quote_identifier, read_schema
from routesql.synth.verbalize import natural_name

NUMBER = "number"
TEXT = "text"
OTHER = "other"
ROWS_READ = 300  # rows read per table: enough variety for literals, cheap on large tables
MAX_VALUE_CHARS = 40  # longer text makes an unnatural question literal


@dataclass(frozen=True)
class Edge:
    """A declared foreign key between two non-empty tables, with the names as the schema has them."""

    child: str
    child_column: str
    parent: str
    parent_column: str

    def column_on(self, table: str) -> str:
        return self.child_column if table == self.child else self.parent_column

    def other(self, table: str) -> str:
        return self.parent if table == self.child else self.child


@dataclass(frozen=True)
class TableData:
    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]
    kinds: dict[str, str]  # column → NUMBER / TEXT / OTHER, judged from the values read
    keys: frozenset[str]  # columns that are keys or look like ids: joined on, never summed

    def index(self, column: str) -> int:
        return self.columns.index(column)


def sql_literal(value: Value) -> str:
    """A value as SQLite source text: strings single-quoted with quotes doubled."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def usable_value(value: Value) -> bool:
    """Whether a value can appear verbatim both in SQL and in a one-line question."""
    if isinstance(value, bool) or value is None or isinstance(value, bytes):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):
        return True
    text = str(value)
    return 0 < len(text) <= MAX_VALUE_CHARS and text == text.strip() and text.isprintable()


class DbContext:
    """One database as the sampler sees it; built once per database by `load`."""

    def __init__(self, db_path: Path, runner: QueryRunner, tables: dict[str, TableData], edges: list[Edge]) -> None:
        self.db_path = db_path
        self.runner = runner
        self.tables = tables  # only tables with at least one row read
        self.edges = edges
        self._query_cache: dict[str, list[Value]] = {}

    @classmethod
    def load(cls, db_path: Path, runner: QueryRunner) -> DbContext:
        schema = read_schema(db_path, sample_rows=0)
        tables: dict[str, TableData] = {}
        for table in schema.tables:
            data = _read_table(db_path, runner, schema, table.name)
            if data is not None and data.rows:
                tables[table.name] = data
        return cls(db_path, runner, tables, _edges(schema, tables))

    def table_names(self) -> list[str]:
        return list(self.tables)

    def columns(self, table: str, kind: str | None = None, keys: bool = False) -> list[str]:
        """Columns of `table` with usable values, of `kind` if given; key columns only if `keys`."""
        data = self.tables[table]
        return [
            column
            for column in data.columns
            if data.kinds[column] != OTHER
            and (kind is None or data.kinds[column] == kind)
            and (keys or column not in data.keys)
            and self.values(table, column)
        ]

    def values(self, table: str, column: str) -> list[Value]:
        """Distinct usable values of a column among the rows read, in first-seen order."""
        data = self.tables[table]
        position = data.index(column)
        seen: dict[Value, None] = {}
        for row in data.rows:
            if usable_value(row[position]):
                seen.setdefault(row[position], None)
        return list(seen)

    def has_repeats(self, table: str, column: str) -> bool:
        """Whether some value occurs twice among the rows read (so grouping is meaningful)."""
        position = self.tables[table].index(column)
        present = [row[position] for row in self.tables[table].rows if row[position] is not None]
        return len(set(present)) < len(present)

    def pick_value(self, rng: random.Random, table: str, column: str) -> Value:
        """A random usable value; only call it for columns that `columns` returned."""
        return rng.choice(self.values(table, column))

    def pick_row(self, rng: random.Random, table: str, columns: list[str]) -> dict[str, Value] | None:
        """A row (as column → value) in which every named column has a usable value."""
        data = self.tables[table]
        positions = [data.index(column) for column in columns]
        rows = [row for row in data.rows if all(usable_value(row[p]) for p in positions)]
        if not rows:
            return None
        row = rng.choice(rows)
        return {column: row[p] for column, p in zip(columns, positions)}

    def query_values(self, sql: str) -> list[Value]:
        """Usable first-column values of a query (e.g. values reachable through a join)."""
        if sql not in self._query_cache:
            result = self.runner.run(self.db_path, sql)
            rows = result.rows if result.ok and result.rows is not None else ()
            seen: dict[Value, None] = {}
            for row in rows:
                if row and usable_value(row[0]):
                    seen.setdefault(row[0], None)
            self._query_cache[sql] = list(seen)
        return self._query_cache[sql]


def _read_table(db_path: Path, runner: QueryRunner, schema: DatabaseSchema, name: str) -> TableData | None:
    table = schema.table(name)
    select_list = ", ".join(quote_identifier(c, always=True) for c in table.column_names)
    result = runner.run(db_path, f"SELECT {select_list} FROM {quote_identifier(name, always=True)} LIMIT {ROWS_READ}")
    if not result.ok or result.rows is None:
        return None  # e.g. a virtual table this SQLite cannot read: the sampler ignores it
    columns = tuple(table.column_names)
    kinds = {column: _kind([row[i] for row in result.rows]) for i, column in enumerate(columns)}
    return TableData(name, columns, result.rows, kinds, _key_columns(schema, name))


def _kind(values: list[Value]) -> str:
    present = [value for value in values if value is not None]
    if not present:
        return OTHER
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return NUMBER
    if all(isinstance(v, str) for v in present):
        return TEXT
    return OTHER  # mixed storage classes: comparisons would behave surprisingly


def _key_columns(schema: DatabaseSchema, name: str) -> frozenset[str]:
    table = schema.table(name)
    keys = {column.name for column in table.columns if column.is_primary_key}
    keys |= {key.column for key in table.foreign_keys}
    for other in schema.tables:
        keys |= {key.ref_column for key in other.foreign_keys if key.ref_table.lower() == name.lower()}
    # Columns named like identifiers ("StuID", "customer_id") are keys even when undeclared.
    keys |= {c.name for c in table.columns if natural_name(c.name).split(" ")[-1] == "id"}
    canonical = {c.name.lower(): c.name for c in table.columns}
    return frozenset(canonical[key.lower()] for key in keys if key.lower() in canonical)


def _edges(schema: DatabaseSchema, tables: dict[str, TableData]) -> list[Edge]:
    """Declared foreign keys whose tables and columns exist and hold rows (Spider has dangling ones)."""
    by_lower = {name.lower(): data for name, data in tables.items()}
    edges: list[Edge] = []
    for table in schema.tables:
        child = by_lower.get(table.name.lower())
        for key in table.foreign_keys:
            parent = by_lower.get(key.ref_table.lower())
            if child is None or parent is None or child is parent or not key.ref_column:
                continue
            child_column = _canonical(child, key.column)
            parent_column = _canonical(parent, key.ref_column)
            if child_column is None or parent_column is None:
                continue
            edge = Edge(child.name, child_column, parent.name, parent_column)
            if edge not in edges:
                edges.append(edge)
    return edges


def _canonical(table: TableData, column: str) -> str | None:
    for name in table.columns:
        if name.lower() == column.lower():
            return name
    return None
