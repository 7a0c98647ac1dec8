"""A real SQLite database as a `QuestionContext`: roles inferred from its schema and its rows.

Everything comes from the file: the schema (`read_schema`), the first rows of every table (read
through `QueryRunner`, so read-only and time-limited) and the declared foreign keys. A column's
role is judged from the values read:

- keys (primary, foreign, referenced, or named like an id: ``StuID``, ``customer_id``) are never
  drawn, only joined on;
- numbers are ``number`` (not summable when named like a year);
- ISO ``YYYY-MM-DD`` text is ``date``;
- text with a few repeated values is ``category``, mostly distinct text is ``label``;
- anything else (mixed storage classes, blobs, one value only) is never drawn.

Cells a question cannot quote verbatim (blobs, long or multi-line text, NaN) are read as NULL, so
every literal a pattern draws exists in the database and reads naturally in a question.
"""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

from routesql.db.execute import QueryRunner
from routesql.db.schema import DatabaseSchema, quote_identifier, read_schema
from routesql.questions.context import Column, Edge, QuestionContext, Row
from routesql.questions.words import natural_name

ROWS_READ = 300  # rows read per table: enough variety for literals, cheap on large tables
MAX_VALUE_CHARS = 40  # longer text makes an unnatural question literal
MAX_CATEGORIES = 20  # distinct values up to which a repeated text column is a category
NOT_SUMMABLE_WORDS = frozenset({"year", "age", "rank", "ranking", "number", "no", "code", "zip"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def usable_value(value: object) -> bool:
    """Whether a value can appear verbatim both in SQL and in a one-line question."""
    if isinstance(value, bool) or value is None or isinstance(value, bytes):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):
        return True
    text = str(value)
    return 0 < len(text) <= MAX_VALUE_CHARS and text == text.strip() and text.isprintable()


def column_role(values: list[object]) -> str:
    """The role of a non-key column, judged from its usable values among the rows read."""
    if len(values) < 2:
        return "other"
    if all(isinstance(v, int | float) for v in values):
        return "number"
    if not all(isinstance(v, str) for v in values):
        return "other"  # mixed storage classes: comparisons would behave surprisingly
    if all(_ISO_DATE.match(str(v)) for v in values):
        return "date"
    distinct = len(set(values))
    if 2 <= distinct <= min(MAX_CATEGORIES, len(values) // 2):
        return "category"
    if distinct >= max(2, len(values) // 2):
        return "label"
    return "other"


def is_summable(name: str) -> bool:
    return natural_name(name).split(" ")[-1] not in NOT_SUMMABLE_WORDS


def database_context(db_path: Path, runner: QueryRunner, rng: random.Random) -> QuestionContext:
    """The database at `db_path` as the patterns see it; tables that hold no rows are left out."""
    schema = read_schema(db_path, sample_rows=0)
    tables: dict[str, tuple[Column, ...]] = {}
    rows: dict[str, list[Row]] = {}
    for table in schema.tables:
        read = _read_rows(db_path, runner, table.column_names, table.name)
        if not read:
            continue
        keys = _key_columns(schema, table.name)
        columns = []
        for index, name in enumerate(table.column_names):
            values = [row[index] for row in read if row[index] is not None]
            role = "key" if name in keys else column_role(values)
            columns.append(Column(name, role, summable=is_summable(name)))
        tables[table.name] = tuple(columns)
        rows[table.name] = read
    return QuestionContext(tables, rows, _edges(schema, tables), rng)


def _read_rows(db_path: Path, runner: QueryRunner, column_names: list[str], table: str) -> list[Row]:
    select_list = ", ".join(quote_identifier(c, always=True) for c in column_names)
    result = runner.run(db_path, f"SELECT {select_list} FROM {quote_identifier(table, always=True)} LIMIT {ROWS_READ}")
    if not result.ok or result.rows is None:
        return []  # e.g. a virtual table this SQLite cannot read: the patterns ignore it
    return [tuple(value if usable_value(value) else None for value in row) for row in result.rows]


def _key_columns(schema: DatabaseSchema, name: str) -> frozenset[str]:
    table = schema.table(name)
    keys = {column.name for column in table.columns if column.is_primary_key}
    keys |= {key.column for key in table.foreign_keys}
    for other in schema.tables:
        keys |= {key.ref_column for key in other.foreign_keys if key.ref_table.lower() == name.lower()}
    # Columns named like identifiers ("StuID", "customer_id") are keys even when undeclared.
    keys |= {c.name for c in table.columns if natural_name(c.name).split(" ")[-1] == "id"}
    canonical = {c.name.lower(): c.name for c in table.columns}
    return frozenset(canonical[key.lower()] for key in keys if key and key.lower() in canonical)


def _edges(schema: DatabaseSchema, tables: dict[str, tuple[Column, ...]]) -> list[Edge]:
    """Declared foreign keys whose tables and columns exist and hold rows (Spider has dangling ones)."""
    by_lower = {name.lower(): name for name in tables}
    edges: list[Edge] = []
    for table in schema.tables:
        child = by_lower.get(table.name.lower())
        for key in table.foreign_keys:
            parent = by_lower.get(key.ref_table.lower())
            if child is None or parent is None or child == parent or not key.ref_column:
                continue
            child_column = _canonical(tables[child], key.column)
            parent_column = _canonical(tables[parent], key.ref_column)
            if child_column is None or parent_column is None:
                continue
            edge = Edge(child, child_column, parent, parent_column)
            if edge not in edges:
                edges.append(edge)
    return edges


def _canonical(columns: tuple[Column, ...], name: str) -> str | None:
    for column in columns:
        if column.name.lower() == name.lower():
            return column.name
    return None
