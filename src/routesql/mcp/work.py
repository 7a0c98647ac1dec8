"""Per-question state while the MCP steps run, and what the pipeline returns."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from routesql.db.compiles import SchemaCompiler
from routesql.db.execute import classify_sqlite_error
from routesql.db.schema import DatabaseSchema
from routesql.sqlkit.links import schema_links
from routesql.sqlkit.names import NameConstraint, QuestionValues, SchemaNames


@dataclass(frozen=True)
class MCPQuestion:
    id: str
    question: str
    db_path: Path
    evidence: str = ""


@dataclass
class MCPTrace:
    id: str
    final: str = ""
    error: str | None = None  # why this question produced no prediction
    steps: dict[str, str] = field(default_factory=dict)  # step → SQL after that step
    notes: dict[str, str] = field(default_factory=dict)  # raw answers: links, verdicts, ...


@dataclass
class QuestionWork:
    """Per-question state while the steps run."""

    question: MCPQuestion
    schema: DatabaseSchema
    full_text: str
    reduced_text: str  # the schema the steps after the draft show: the full one until schema_linking reduces it
    reduced: DatabaseSchema | None = None  # the schema the reduced prompt shows
    sql: str = ""
    values: QuestionValues | None = None  # the values its SQL may hold; None: any
    compile_check: bool = False  # its SQL may end only where it compiles on the prompt's schema
    _names: dict[bool, SchemaNames] = field(default_factory=dict)
    _compilers: dict[bool, SchemaCompiler] = field(default_factory=dict)  # in-memory; freed with the work

    def compiling(self, sql: str, reduced: bool, notes: dict[str, str] | None = None) -> str:
        """With compile_check, SQL cut off mid-statement (SQLite: incomplete input or a syntax
        error, as at max_new_tokens) becomes its longest prefix that compiles: where the model
        could have stopped. SQL that is whole but wrong (an unknown name) is left for NC to see."""
        if not self.compile_check or not sql:
            return sql
        compiler = self._compiler(reduced)
        problem = compiler.error(sql)
        if problem is None or classify_sqlite_error(problem) != "syntax":
            return sql
        trimmed = longest_compiling_prefix(sql, compiler.compiles)
        if notes is not None and trimmed:
            notes["trimmed"] = f"cut to its longest compiling prefix ({len(sql) - len(trimmed)} characters dropped)"
        return trimmed or sql

    def constraint(self, reduced: bool, lead: str = "", after_first_line: bool = False) -> NameConstraint:
        """What this question's SQL may name, on the full or the reduced schema (made once each)."""
        reduced = reduced and self.reduced is not None
        if reduced not in self._names:
            self._names[reduced] = SchemaNames.of(self._schema(reduced))
        compiles = self._compiler(reduced).compiles if self.compile_check else None
        return NameConstraint(self._names[reduced], lead, after_first_line, self.values, compiles)

    def _schema(self, reduced: bool) -> DatabaseSchema:
        return self.reduced if reduced and self.reduced is not None else self.schema

    def _compiler(self, reduced: bool) -> SchemaCompiler:
        """The in-memory copy of the full or the reduced schema that SQL is compiled on (made once each)."""
        reduced = reduced and self.reduced is not None
        if reduced not in self._compilers:
            self._compilers[reduced] = SchemaCompiler(self._schema(reduced))
        return self._compilers[reduced]


def longest_compiling_prefix(sql: str, compiles: Callable[[str], bool]) -> str:
    """The longest prefix of `sql` ending at a word boundary that compiles, or "" when none does."""
    ends = [m.start() for m in re.finditer(r"\s+", sql)]
    for end in reversed(ends):
        candidate = sql[:end].rstrip().rstrip(",")
        if candidate and compiles(candidate):
            return candidate
    return ""


def links_of(sql: str, schema: DatabaseSchema) -> dict[str, list[str]]:
    if not sql:
        return {}
    try:
        return schema_links(sql, schema.to_mapping())
    except ValueError:
        return {}


def union_links(a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, list[str]]:
    merged = {t: list(c) for t, c in a.items()}
    for table, columns in b.items():
        merged.setdefault(table, [])
        merged[table] = sorted(set(merged[table]) | set(columns), key=str.lower)
    return merged


def reduce_schema(schema: DatabaseSchema, links: dict[str, list[str]]) -> DatabaseSchema | None:
    """The linked tables with their linked columns plus their key columns; None when nothing is linked.

    A table linked with no column keeps all its columns (slice linking names tables only).
    """
    if not links:
        return None
    wanted: dict[str, list[str] | None] = {}
    for table, columns in links.items():
        if not schema.has_table(table):
            continue
        if not columns:
            wanted[table] = None
            continue
        t = schema.table(table)
        keys = set(t.primary_key) | {fk.column for fk in t.foreign_keys}
        wanted[t.name] = [c for c in t.column_names if c in keys or c.lower() in {x.lower() for x in columns}]
    return schema.restricted(wanted) if wanted else None
