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


# Hostile input by category: none may change a byte of the database or create a file beside it.
HOSTILE = [
    "INSERT INTO owner VALUES (9, 'Eve', 'Rome')",
    "UPDATE owner SET name = 'x' WHERE 1",
    "DELETE FROM pet",
    "DROP TABLE pet",
    "CREATE TABLE side (a)",
    "CREATE INDEX i ON pet(kind)",
    "ALTER TABLE pet ADD COLUMN x",
    "SELECT 1; DROP TABLE pet",
    "SELECT 1; INSERT INTO owner VALUES (10, 'a', 'b')",
    "ATTACH DATABASE 'evil.sqlite' AS evil",
    "ATTACH 'file:evil.sqlite?mode=rwc' AS evil",
    "VACUUM",
    "VACUUM INTO 'copy.sqlite'",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA journal_mode = WAL",
    "PRAGMA user_version = 7",
    "PRAGMA writable_schema = ON",
    "SELECT load_extension('./evil.so')",
    "SELECT writefile('dropped.txt', 'x')",
    "SELECT readfile('/etc/passwd')",
    "SELECT edit('x')",
    "WITH gone AS (DELETE FROM pet RETURNING *) SELECT * FROM gone",
    "WITH x AS (SELECT 1) INSERT INTO owner SELECT 11, 'c', 'd' FROM x",
    "SELECT 1 /* ; DROP TABLE pet */; DROP TABLE pet",
    "SELECT 1 -- comment\n; DELETE FROM pet",
    "SELECT 1;\u00a0DELETE FROM pet",
    "ＳＥＬＥＣＴ 1; DELETE FROM pet",
    "SELECT 1\x00; DELETE FROM pet",
    "BEGIN; DELETE FROM pet; COMMIT",
    "REINDEX",
    "ANALYZE",
    "SAVEPOINT a",
    "REPLACE INTO owner VALUES (1, 'x', 'y')",
    "SELECT " + " + ".join(["1"] * 20_000),
    "SELECT * FROM pet WHERE " + " OR ".join(f"age = {i}" for i in range(20_000)),
]


def _folder_state(folder: Path) -> dict[str, str]:
    return {p.name: _digest(p) for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_hostile_statements_change_nothing_on_disk(tmp_path: Path, journal_mode: str) -> None:
    folder = tmp_path / journal_mode
    folder.mkdir()
    path = folder / "pets.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    conn.execute("CREATE TABLE owner (id INTEGER PRIMARY KEY, name TEXT, city TEXT)")
    conn.execute("CREATE TABLE pet (id INTEGER PRIMARY KEY, kind TEXT, age INTEGER)")
    conn.executemany("INSERT INTO owner VALUES (?, ?, ?)", [(1, "Ann", "Lyon"), (2, "Bob", "Oslo")])
    conn.executemany("INSERT INTO pet VALUES (?, ?, ?)", [(1, "dog", 3), (2, "cat", 1)])
    conn.commit()
    conn.close()
    before = _folder_state(folder)
    assert list(before) == ["pets.sqlite"]  # a cleanly closed WAL database has no side files
    runner = QueryRunner(timeout_s=5)
    for sql in HOSTILE:
        result = runner.run(path, sql)
        assert not (result.ok and result.rows is None), sql
    # reads still work, and found the data untouched
    assert runner.run(path, "SELECT count(*) FROM pet").rows == ((2,),)
    runner.close()
    assert _folder_state(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [journal_mode]
