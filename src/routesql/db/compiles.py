"""Would a query compile on a schema? Asked of an empty in-memory copy of the schema.

SQLite prepares a statement before running it, and preparing is where syntax errors, unknown
tables and columns, ambiguous names and misused aggregates are found. `EXPLAIN` prepares without
reading a row, and the copy holds no rows anyway: the real database is never opened here. The
constrained decoder uses it to let a query end only where it compiles.
"""

from __future__ import annotations

import sqlite3

from routesql.db.schema import DatabaseSchema, quote_identifier


class SchemaCompiler:
    """`compiles(sql)`: does one SELECT (or WITH) statement prepare on the schema's tables?"""

    def __init__(self, schema: DatabaseSchema) -> None:
        self.connection = sqlite3.connect(":memory:", check_same_thread=False)
        for table in schema.tables:
            typed = ", ".join(f"{quote_identifier(c.name, always=True)} {c.type}".rstrip() for c in table.columns)
            try:
                self.connection.execute(f"CREATE TABLE {quote_identifier(table.name, always=True)} ({typed})")
            except sqlite3.Error:  # a declared type SQLite's parser does not take: names suffice
                untyped = ", ".join(quote_identifier(c.name, always=True) for c in table.columns)
                self.connection.execute(f"CREATE TABLE {quote_identifier(table.name, always=True)} ({untyped})")
        self.connection.execute("PRAGMA query_only = ON")

    def compiles(self, sql: str) -> bool:
        return self.error(sql) is None

    def error(self, sql: str) -> str | None:
        """Why `sql` does not compile (SQLite's message), or None when it does."""
        statement = sql.strip().rstrip(";").strip()
        if not statement.lower().startswith(("select", "with")):
            return "not a SELECT or WITH statement"
        try:
            self.connection.execute("EXPLAIN " + statement)  # one statement only, or sqlite3 refuses
        except (sqlite3.Error, sqlite3.Warning, ValueError) as problem:
            return str(problem) or type(problem).__name__
        return None

    def close(self) -> None:
        self.connection.close()
