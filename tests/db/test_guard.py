import hashlib
import sqlite3
from pathlib import Path

import pytest

from routesql.db.execute import QueryRunner
from routesql.db.guard import RefusedStatement, check_read_only

ACCEPTED = [
    "SELECT name FROM owner",
    "select count(*) from pet;",
    "WITH old AS (SELECT * FROM pet WHERE age > 2) SELECT kind FROM old",
    "SELECT kind FROM pet UNION SELECT city FROM owner",
    "SELECT kind FROM pet EXCEPT SELECT 'dog'",
    "(SELECT name FROM owner)",
    'SELECT name FROM owner WHERE city = "Lyon"',
]

REFUSED = [
    ("INSERT INTO owner VALUES (9, 'Eve', 'Rome')", "INSERT"),
    ("UPDATE owner SET name = 'x'", "UPDATE"),
    ("DELETE FROM pet", "DELETE"),
    ("DROP TABLE pet", "DROP"),
    ("CREATE TABLE t (a INT)", "CREATE"),
    ("PRAGMA journal_mode = WAL", "PRAGMA"),
    ("ATTACH DATABASE 'other.db' AS other", "ATTACH"),
    ("SELECT 1; SELECT 2", "exactly one statement"),
    ("SELECT 1; DROP TABLE pet", "exactly one statement"),
    ("SELECT load_extension('evil.so')", "load_extension"),
    ("WITH gone AS (DELETE FROM pet RETURNING *) SELECT * FROM gone", "DELETE"),
    ("REPLACE INTO owner VALUES (1, 'x', 'y')", "only SELECT"),
    ("VACUUM", "only SELECT"),
    ("", "empty SQL"),
    ("SELECT FROM WHERE (", "does not parse"),
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_read_only_queries_are_accepted(sql: str) -> None:
    assert check_read_only(sql) is not None


@pytest.mark.parametrize(("sql", "reason"), REFUSED)
def test_writes_and_tricks_are_refused(sql: str, reason: str) -> None:
    with pytest.raises(RefusedStatement, match=reason):
        check_read_only(sql)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_refused_statements_leave_the_database_byte_identical(pets_db: Path) -> None:
    before = _digest(pets_db)
    runner = QueryRunner(timeout_s=5)
    for sql, _ in REFUSED:
        result = runner.run(pets_db, sql)
        assert not result.ok and result.error_kind == "refused", sql
    runner.close()
    assert _digest(pets_db) == before
    assert not list(pets_db.parent.glob("*-journal")) and not list(pets_db.parent.glob("*-wal"))


def test_sqlite_refuses_writes_even_past_the_parser(pets_db: Path) -> None:
    """The connection itself is read-only: a write sent around the AST gate still fails."""
    runner = QueryRunner()
    conn = runner._connection(pets_db)  # the exact connection queries run on
    for sql in ("DELETE FROM pet", "CREATE TABLE t (a)", "PRAGMA query_only = OFF"):
        with pytest.raises(sqlite3.DatabaseError):
            conn.execute(sql)
    runner.close()
