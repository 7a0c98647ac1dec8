"""The read-only gate: only one SELECT (or WITH ... SELECT) statement may reach SQLite.

The check runs on sqlglot's AST, before SQLite sees the text. SQLite adds more locks behind it
(``mode=ro`` and ``query_only`` in `routesql.db.connect`, and `read_only_authorizer` here, which
denies every action a plain read does not need), so a statement the parser misjudges still
cannot write or load code.
"""

from __future__ import annotations

import logging
import sqlite3

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

# sqlglot warns on stderr when it falls back to a generic Command; we refuse those anyway.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

# Functions that reach outside the database or change the process; refused even inside a SELECT.
FORBIDDEN_FUNCTIONS = frozenset({"load_extension", "writefile", "readfile", "edit", "fts3_tokenizer"})

# A DML or DDL node anywhere (e.g. a data-modifying CTE) makes the statement a write.
_WRITE_NODES = (
    exp.DML,
    exp.DDL,
    exp.Command,
    exp.Pragma,
    exp.Attach,
    exp.Detach,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Alter,
    exp.Merge,
)


class RefusedStatement(ValueError):
    """The SQL is not exactly one read-only query; the message says why."""


def check_read_only(sql: str) -> exp.Expression:
    """Return the parsed statement if `sql` is exactly one SELECT/WITH query, else raise.

    Raises RefusedStatement with a message that says what was found (a write, several
    statements, a forbidden function, or text that does not parse).
    """
    if not sql or not sql.strip():
        raise RefusedStatement("empty SQL")
    try:
        statements = [s for s in sqlglot.parse(sql, read="sqlite") if s is not None]
    except (ParseError, TokenError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RefusedStatement(f"SQL does not parse: {first_line}") from None
    if len(statements) != 1:
        raise RefusedStatement(f"exactly one statement is accepted, found {len(statements)}")
    statement = statements[0]
    # sqlglot builds only concrete nodes, all Expression subclasses (Expr is the bare trait base)
    assert isinstance(statement, exp.Expression)
    query = statement.this if isinstance(statement, exp.Subquery) else statement
    if not isinstance(query, (exp.Select, exp.SetOperation)):
        kind = statement.key.upper()
        raise RefusedStatement(f"only SELECT/WITH queries are accepted, found {kind}")
    for node in statement.walk():
        if isinstance(node, _WRITE_NODES):
            raise RefusedStatement(f"only SELECT/WITH queries are accepted, found {node.key.upper()}")
        if isinstance(node, exp.Func) and _function_name(node) in FORBIDDEN_FUNCTIONS:
            raise RefusedStatement(f"function {_function_name(node)}() is not allowed")
    return statement


def _function_name(node: exp.Func) -> str:
    name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
    return name.lower()


_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
)


def read_only_authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    """SQLite authorizer: allow reads and ordinary functions, deny everything else."""
    if action not in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in FORBIDDEN_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK
