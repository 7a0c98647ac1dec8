import sqlite3
import time
from pathlib import Path

import pytest

from routesql.db.execute import QueryRunner, classify_sqlite_error


@pytest.fixture()
def numbers_db(tmp_path: Path) -> Path:
    path = tmp_path / "numbers.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE n (v INTEGER)")
    conn.executemany("INSERT INTO n VALUES (?)", [(i,) for i in range(3000)])
    conn.commit()
    conn.close()
    return path


def test_a_query_that_would_run_for_minutes_is_interrupted(numbers_db: Path) -> None:
    runner = QueryRunner(timeout_s=0.5)
    started = time.monotonic()
    result = runner.run(numbers_db, "SELECT count(*) FROM n AS a, n AS b, n AS c WHERE a.v + b.v = c.v + 1")
    elapsed = time.monotonic() - started
    assert result.error_kind == "timeout" and "timed out" in (result.error or "")
    assert elapsed < 3.0
    # the connection stays usable afterwards
    assert runner.run(numbers_db, "SELECT count(*) FROM n").rows == ((3000,),)


def test_row_cap_turns_a_huge_result_into_an_error(numbers_db: Path) -> None:
    runner = QueryRunner(row_cap=100)
    assert runner.run(numbers_db, "SELECT v FROM n").error_kind == "too_many_rows"
    assert len(runner.run(numbers_db, "SELECT v FROM n LIMIT 100").rows or ()) == 100


def test_non_utf8_text_is_decoded_tolerantly(tmp_path: Path) -> None:
    path = tmp_path / "latin.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE player (name TEXT)")
    conn.execute("INSERT INTO player VALUES (CAST(X'4DFC6C6C6572' AS TEXT))")  # 'Müller' in Latin-1
    conn.commit()
    conn.close()
    result = QueryRunner().run(path, "SELECT name FROM player")
    assert result.ok and result.rows == (("Mller",),)


def test_missing_database_is_reported_not_raised(tmp_path: Path) -> None:
    result = QueryRunner().run(tmp_path / "nope.sqlite", "SELECT 1")
    assert result.error_kind == "missing_database" and "nope.sqlite" in (result.error or "")


@pytest.mark.parametrize(("message", "kind"), [
    ("no such table: singers", "unknown_schema"),
    ("no such column: T1.nme", "unknown_schema"),
    ('near "FROM": syntax error', "syntax"),
    ("incomplete input", "syntax"),
    ("interrupted", "timeout"),
    ("misuse of aggregate: count()", "runtime"),
])
def test_sqlite_errors_are_classified(message: str, kind: str) -> None:
    assert classify_sqlite_error(message) == kind


def test_cached_results_are_reused(pets_db: Path) -> None:
    runner = QueryRunner()
    first = runner.run(pets_db, "SELECT name FROM owner ORDER BY id", cache=True)
    assert runner.run(pets_db, "SELECT name FROM owner ORDER BY id", cache=True) is first
    assert first.rows == (("Ann",), ("Bob",), ("Cid",))
