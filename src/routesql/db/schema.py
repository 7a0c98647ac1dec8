"""Database schemas read from the SQLite file itself, and rendered as prompt text.

The SQLite file is the source of truth (not tables.json): it is what the SQL runs against, and
it carries declared types, keys and real values. Rendering produces `CREATE TABLE` statements
that are valid SQLite (tests execute them), each followed by a comment with sample rows.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from routesql.db.connect import open_readonly
from routesql.errors import InputError

SAMPLE_TEXT_CHARS = 40  # longer text values in sample rows are cut to this many characters

Value = str | int | float | bytes | None


@dataclass(frozen=True)
class Column:
    name: str
    # The declared type as PRAGMA table_info reports it ("" when none was declared); SQLite
    # upper-cases the five basic names (int → INT, text → TEXT) and keeps others as written.
    type: str
    is_primary_key: bool = False


@dataclass(frozen=True)
class ForeignKey:
    """One column pair of a declared foreign key (a composite key gives one per column).

    Rendered exactly as declared, even where the referenced column differs in case or does not
    exist (both occur in Spider). `ref_column` is "" when the declaration names no column, i.e.
    it means the referenced table's primary key and SQLite could not tell which column that is.
    """

    column: str
    ref_table: str
    ref_column: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    sample_rows: tuple[tuple[Value, ...], ...] = ()  # values in `columns` order

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def primary_key(self) -> list[str]:
        return [column.name for column in self.columns if column.is_primary_key]

    def column(self, name: str) -> Column:
        """The column called `name`, compared case-insensitively (as SQLite does)."""
        for column in self.columns:
            if column.name.lower() == name.lower():
                return column
        raise KeyError(f"table {self.name} has no column {name!r}")


@dataclass(frozen=True)
class DatabaseSchema:
    db_id: str
    tables: tuple[Table, ...]

    @property
    def table_names(self) -> list[str]:
        return [table.name for table in self.tables]

    def has_table(self, name: str) -> bool:
        return any(table.name.lower() == name.lower() for table in self.tables)

    def table(self, name: str) -> Table:
        """The table called `name`, compared case-insensitively (as SQLite does)."""
        for table in self.tables:
            if table.name.lower() == name.lower():
                return table
        raise KeyError(f"database {self.db_id} has no table {name!r}")

    def to_mapping(self) -> dict[str, dict[str, str]]:
        """table → column → declared type: the shape sqlglot's MappingSchema takes."""
        return {t.name: {c.name: c.type for c in t.columns} for t in self.tables}

    def restricted(self, tables_and_columns: Mapping[str, Collection[str] | None]) -> DatabaseSchema:
        """Only the named tables and, per table, the named columns (None keeps all columns).

        Names match case-insensitively; names the schema lacks are ignored, since the caller's
        list often comes from a model. Order follows the schema. A foreign key stays only when
        its column, its referenced table and its referenced column all stay.
        """
        wanted = {name.lower(): columns for name, columns in tables_and_columns.items()}
        kept = [
            _restrict_table(table, wanted[table.name.lower()]) for table in self.tables if table.name.lower() in wanted
        ]
        return DatabaseSchema(self.db_id, tuple(_drop_dangling_keys(kept)))


def _restrict_table(table: Table, columns: Collection[str] | None) -> Table:
    if columns is None:
        return table
    names = {name.lower() for name in columns}
    keep = [i for i, column in enumerate(table.columns) if column.name.lower() in names]
    return Table(
        name=table.name,
        columns=tuple(table.columns[i] for i in keep),
        foreign_keys=table.foreign_keys,
        sample_rows=tuple(tuple(row[i] for i in keep) for row in table.sample_rows),
    )


def _drop_dangling_keys(tables: list[Table]) -> list[Table]:
    columns_by_table = {t.name.lower(): {c.name.lower() for c in t.columns} for t in tables}

    def stays(table: Table, key: ForeignKey) -> bool:
        ref_columns = columns_by_table.get(key.ref_table.lower())
        return (
            key.column.lower() in columns_by_table[table.name.lower()]
            and ref_columns is not None
            and (key.ref_column == "" or key.ref_column.lower() in ref_columns)
        )

    return [Table(t.name, t.columns, tuple(k for k in t.foreign_keys if stays(t, k)), t.sample_rows) for t in tables]


# --- reading ---------------------------------------------------------------------------------


def read_schema(db_path: Path, sample_rows: int = 3) -> DatabaseSchema:
    """Tables, columns, keys and the first `sample_rows` rows of every table in a SQLite file.

    Cached in-process by (path, modification time, sample_rows); the result is immutable.
    """
    path = Path(db_path).resolve()
    if not path.is_file():
        raise InputError(path, "database file not found")
    return _read_schema_cached(str(path), path.stat().st_mtime_ns, sample_rows)


@functools.lru_cache(maxsize=512)
def _read_schema_cached(path: str, mtime_ns: int, sample_rows: int) -> DatabaseSchema:
    conn = open_readonly(path)
    try:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
            )
        ]
        tables = [_read_table(conn, name, sample_rows) for name in names]
    except sqlite3.DatabaseError as err:
        raise InputError(path, f"cannot read schema: {err}") from None
    finally:
        conn.close()
    return DatabaseSchema(Path(path).stem, tuple(_resolve_implicit_references(tables)))


def _read_table(conn: sqlite3.Connection, name: str, sample_rows: int) -> Table:
    quoted = quote_identifier(name, always=True)
    columns = tuple(
        Column(name=row[1], type=row[2] or "", is_primary_key=row[5] > 0)
        for row in conn.execute(f"PRAGMA table_info({quoted})")
    )
    # Rows are (id, seq, table, from, to, ...); SQLite numbers keys last-declared first, so
    # sorting by descending id restores declaration order; seq orders a composite key's columns.
    key_rows = sorted(conn.execute(f"PRAGMA foreign_key_list({quoted})"), key=lambda row: (-row[0], row[1]))
    foreign_keys = tuple(ForeignKey(column=row[3], ref_table=row[2], ref_column=row[4] or "") for row in key_rows)
    rows = _read_sample_rows(conn, quoted, columns, sample_rows) if sample_rows > 0 else ()
    return Table(name, columns, foreign_keys, rows)


def _read_sample_rows(
    conn: sqlite3.Connection, quoted_table: str, columns: tuple[Column, ...], limit: int
) -> tuple[tuple[Value, ...], ...]:
    # Naming the columns keeps values aligned with `columns`; no ORDER BY, so the rows are the
    # first stored ones, which is deterministic for a file that does not change.
    select_list = ", ".join(quote_identifier(c.name, always=True) for c in columns)
    try:
        rows = conn.execute(f"SELECT {select_list} FROM {quoted_table} LIMIT ?", (limit,))
        return tuple(tuple(_shorten(value) for value in row) for row in rows)
    except sqlite3.OperationalError:
        return ()  # e.g. a virtual table whose module this SQLite lacks: schema without rows


def _shorten(value: Value) -> Value:
    if isinstance(value, str) and len(value) > SAMPLE_TEXT_CHARS:
        return value[: SAMPLE_TEXT_CHARS - 3] + "..."
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _resolve_implicit_references(tables: list[Table]) -> list[Table]:
    """`REFERENCES t` without a column means t's primary key: name that column where we can."""
    by_name = {table.name.lower(): table for table in tables}

    def resolved(keys: tuple[ForeignKey, ...]) -> tuple[ForeignKey, ...]:
        out = []
        for key in keys:
            target = by_name.get(key.ref_table.lower())
            if key.ref_column == "" and target is not None and len(target.primary_key) == 1:
                key = ForeignKey(key.column, key.ref_table, target.primary_key[0])
            out.append(key)
        return tuple(out)

    return [Table(t.name, t.columns, resolved(t.foreign_keys), t.sample_rows) for t in tables]


# --- rendering -------------------------------------------------------------------------------

_PLAIN_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# SQLite's keywords (sqlite.org/lang_keywords.html); any of them as a name needs quoting.
SQLITE_KEYWORDS = frozenset(
    [
        "ABORT",
        "ACTION",
        "ADD",
        "AFTER",
        "ALL",
        "ALTER",
        "ALWAYS",
        "ANALYZE",
        "AND",
        "AS",
        "ASC",
        "ATTACH",
        "AUTOINCREMENT",
        "BEFORE",
        "BEGIN",
        "BETWEEN",
        "BY",
        "CASCADE",
        "CASE",
        "CAST",
        "CHECK",
        "COLLATE",
        "COLUMN",
        "COMMIT",
        "CONFLICT",
        "CONSTRAINT",
        "CREATE",
        "CROSS",
        "CURRENT",
        "CURRENT_DATE",
        "CURRENT_TIME",
        "CURRENT_TIMESTAMP",
        "DATABASE",
        "DEFAULT",
        "DEFERRABLE",
        "DEFERRED",
        "DELETE",
        "DESC",
        "DETACH",
        "DISTINCT",
        "DO",
        "DROP",
        "EACH",
        "ELSE",
        "END",
        "ESCAPE",
        "EXCEPT",
        "EXCLUDE",
        "EXCLUSIVE",
        "EXISTS",
        "EXPLAIN",
        "FAIL",
        "FILTER",
        "FIRST",
        "FOLLOWING",
        "FOR",
        "FOREIGN",
        "FROM",
        "FULL",
        "GENERATED",
        "GLOB",
        "GROUP",
        "GROUPS",
        "HAVING",
        "IF",
        "IGNORE",
        "IMMEDIATE",
        "IN",
        "INDEX",
        "INDEXED",
        "INITIALLY",
        "INNER",
        "INSERT",
        "INSTEAD",
        "INTERSECT",
        "INTO",
        "IS",
        "ISNULL",
        "JOIN",
        "KEY",
        "LAST",
        "LEFT",
        "LIKE",
        "LIMIT",
        "MATCH",
        "MATERIALIZED",
        "NATURAL",
        "NO",
        "NOT",
        "NOTHING",
        "NOTNULL",
        "NULL",
        "NULLS",
        "OF",
        "OFFSET",
        "ON",
        "OR",
        "ORDER",
        "OTHERS",
        "OUTER",
        "OVER",
        "PARTITION",
        "PLAN",
        "PRAGMA",
        "PRECEDING",
        "PRIMARY",
        "QUERY",
        "RAISE",
        "RANGE",
        "RECURSIVE",
        "REFERENCES",
        "REGEXP",
        "REINDEX",
        "RELEASE",
        "RENAME",
        "REPLACE",
        "RESTRICT",
        "RETURNING",
        "RIGHT",
        "ROLLBACK",
        "ROW",
        "ROWS",
        "SAVEPOINT",
        "SELECT",
        "SET",
        "TABLE",
        "TEMP",
        "TEMPORARY",
        "THEN",
        "TIES",
        "TO",
        "TRANSACTION",
        "TRIGGER",
        "UNBOUNDED",
        "UNION",
        "UNIQUE",
        "UPDATE",
        "USING",
        "VACUUM",
        "VALUES",
        "VIEW",
        "VIRTUAL",
        "WHEN",
        "WHERE",
        "WINDOW",
        "WITH",
        "WITHOUT",
    ]
)


def quote_identifier(name: str, always: bool = False) -> str:
    """`name` as SQLite reads it: bare when that is unambiguous, else in double quotes."""
    if not always and _PLAIN_IDENTIFIER.fullmatch(name) and name.upper() not in SQLITE_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


# One match per estimated token: up to 5 letters, up to 3 digits, or one punctuation character.
_TOKEN_PIECES = re.compile(r"[^\W\d_]{1,5}|\d{1,3}|[^\w\s]|_")


def approx_token_count(text: str) -> int:
    """A cheap, deterministic stand-in for a subword tokenizer's count.

    Letters runs cost one token per 5 characters (rounded up), digit runs one per 3, and every
    punctuation character one; whitespace is free. Callers with a real tokenizer pass its count.
    """
    return len(_TOKEN_PIECES.findall(text))


SchemaStyle = Literal["ddl", "compact"]
SCHEMA_STYLES: tuple[SchemaStyle, ...] = get_args(SchemaStyle)
_TABLE_SEPARATOR = {"ddl": "\n\n", "compact": "\n"}


def join_tables(blocks: Iterable[str], style: str = "ddl") -> str:
    """Rendered tables as one schema text: blank lines between DDL statements, newlines between compact lines."""
    return _TABLE_SEPARATOR[style].join(blocks)


def render_table(table: Table, sample_rows: int = 3, style: str = "ddl") -> str:
    """One table as a `CREATE TABLE` statement ("ddl") or one line `name: col, col -> t.col`
    ("compact", about half the tokens: what a small model trained from scratch affords), then a
    comment with up to `sample_rows` of its rows."""
    if style not in SCHEMA_STYLES:
        raise ValueError(f"unknown schema style {style!r}; known: {', '.join(SCHEMA_STYLES)}")
    ddl = _create_table(table) if style == "ddl" else _compact_table(table)
    rows = table.sample_rows[: max(sample_rows, 0)]
    return ddl if not rows else ddl + "\n" + _sample_comment(table, rows)


def render_schema(
    schema: DatabaseSchema,
    sample_rows: int = 3,
    token_budget: int | None = None,
    count_tokens: Callable[[str], int] = approx_token_count,
    style: str = "ddl",
) -> str:
    """Every table of `schema` rendered by `render_table`, separated by blank lines.

    With a `token_budget`, sample rows are dropped one at a time, always from the table whose
    rows cost the most tokens, until the text fits. If it still does not fit with no rows left,
    the bare DDL is returned over budget: cutting tables is a choice for the caller (LR-SQL
    slicing, `DatabaseSchema.restricted`), not something to do silently here.
    """
    rows_left = [min(max(sample_rows, 0), len(t.sample_rows)) for t in schema.tables]
    blocks = [render_table(t, n, style) for t, n in zip(schema.tables, rows_left)]
    if token_budget is None:
        return join_tables(blocks, style)
    ddl_cost = [count_tokens(render_table(t, 0, style)) for t in schema.tables]
    block_cost = [count_tokens(block) for block in blocks]
    while True:
        # The sum of the per-table counts is a cheap estimate; count the joined text only when
        # the estimate says it may fit (tokenizers are not exactly additive over joins).
        if sum(block_cost) <= token_budget or not any(rows_left):
            text = join_tables(blocks, style)
            if not any(rows_left) or count_tokens(text) <= token_budget:
                return text
        costliest = max(
            (i for i, n in enumerate(rows_left) if n > 0),
            key=lambda i: block_cost[i] - ddl_cost[i],
        )
        rows_left[costliest] -= 1
        blocks[costliest] = render_table(schema.tables[costliest], rows_left[costliest], style)
        block_cost[costliest] = count_tokens(blocks[costliest])


def _create_table(table: Table) -> str:
    single_key = len(table.primary_key) == 1
    lines = []
    for column in table.columns:
        line = quote_identifier(column.name)
        if column.type:
            line += f" {column.type}"
        if single_key and column.is_primary_key:
            line += " PRIMARY KEY"
        lines.append(line)
    if len(table.primary_key) > 1:
        lines.append(f"PRIMARY KEY ({', '.join(map(quote_identifier, table.primary_key))})")
    for key in table.foreign_keys:
        target = quote_identifier(key.ref_table)
        if key.ref_column:
            target += f"({quote_identifier(key.ref_column)})"
        lines.append(f"FOREIGN KEY ({quote_identifier(key.column)}) REFERENCES {target}")
    body = ",\n".join(f"  {line}" for line in lines)
    return f"CREATE TABLE {quote_identifier(table.name)} (\n{body}\n);"


def _compact_table(table: Table) -> str:
    """`table name: col, col, fk_col -> other.col`: names and foreign keys, no types or key clauses.

    The leading word matters: a byte-level BPE tokenizer encodes a name at the start of a line
    differently from the same name after a space, as it appears in SQL (`FROM name`); a model
    learns to copy names, and copies only what it has seen as the same tokens.
    """
    targets = {}
    for key in table.foreign_keys:
        target = quote_identifier(key.ref_table)
        targets[key.column.lower()] = f"{target}.{quote_identifier(key.ref_column)}" if key.ref_column else target
    columns = []
    for column in table.columns:
        name = quote_identifier(column.name)
        link = targets.get(column.name.lower())
        columns.append(f"{name} -> {link}" if link else name)
    return f"table {quote_identifier(table.name)}: {', '.join(columns)}"


def _sample_comment(table: Table, rows: tuple[tuple[Value, ...], ...]) -> str:
    noun = "row" if len(rows) == 1 else "rows"
    lines = [f"/* {len(rows)} example {noun} from {table.name}:", "\t".join(table.column_names)]
    lines += ["\t".join(_format_value(value) for value in row) for row in rows]
    # A value holding "*/" would end the comment early and break the SQL.
    return "\n".join(lines).replace("*/", "* /") + "\n*/"


def _format_value(value: Value) -> str:
    if value is None:
        return "NULL"
    # Tabs and newlines inside a value would break the row/column layout of the comment.
    return re.sub(r"\s+", " ", str(value)).strip()
