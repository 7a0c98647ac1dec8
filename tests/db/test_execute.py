import sqlite3
import time
from pathlib import Path

import pytest

from routesql.db import execute
from routesql.db.execute import QueryRunner, classify_sqlite_error
from routesql.errors import InputError


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


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("no such table: singers", "unknown_schema"),
        ("no such column: T1.nme", "unknown_schema"),
        ('near "FROM": syntax error', "syntax"),
        ("incomplete input", "syntax"),
        ("interrupted", "timeout"),
        ("misuse of aggregate: count()", "runtime"),
    ],
)
def test_sqlite_errors_are_classified(message: str, kind: str) -> None:
    assert classify_sqlite_error(message) == kind


def test_cached_results_are_reused(pets_db: Path) -> None:
    runner = QueryRunner()
    first = runner.run(pets_db, "SELECT name FROM owner ORDER BY id", cache=True)
    assert runner.run(pets_db, "SELECT name FROM owner ORDER BY id", cache=True) is first
    assert first.rows == (("Ann",), ("Bob",), ("Cid",))


# Results that would take gigabytes, or run forever: each is that query's error, with its reason.
GIANT_QUERIES = [
    ("SELECT zeroblob(300000000), * FROM n", "too_large"),
    ("SELECT zeroblob(60000000) FROM n LIMIT 8", "too_large"),
    ("SELECT randomblob(2000) FROM n", "too_large"),
    (
        "SELECT group_concat(v) FROM (WITH RECURSIVE c(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM c) SELECT v FROM c)",
        "timeout",
    ),
    ("WITH RECURSIVE c(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM c) SELECT v FROM c", "too_many_rows"),
    ("SELECT a.v FROM n AS a, n AS b", "too_many_rows"),
    ("SELECT count(*) FROM n AS a, n AS b, n AS c WHERE a.v + b.v = c.v + 1", "timeout"),
]


@pytest.mark.parametrize(("sql", "kind"), GIANT_QUERIES)
def test_giant_results_are_errors_with_their_reason(numbers_db: Path, sql: str, kind: str) -> None:
    runner = QueryRunner(timeout_s=1, row_cap=5000, result_cap_mb=4)
    result = runner.run(numbers_db, sql)
    assert result.rows is None and result.error_kind == kind, (result.error_kind, result.error)
    assert runner.run(numbers_db, "SELECT count(*) FROM n").rows == ((3000,),)


def test_a_result_just_under_the_caps_is_returned(numbers_db: Path) -> None:
    result = QueryRunner(row_cap=3000, result_cap_mb=4).run(numbers_db, "SELECT v, randomblob(100) FROM n")
    assert result.ok and len(result.rows or ()) == 3000 and result.nbytes > 300_000


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ["empty (0 bytes)"]),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n", ["Git LFS pointer", "git lfs pull"]),
        (b"PK\x03\x04 a zip file, not a database" * 10, ["not a SQLite database"]),
    ],
)
def test_a_broken_database_file_is_named_as_such(tmp_path: Path, content: bytes, words: list[str]) -> None:
    path = tmp_path / "broken.sqlite"
    path.write_bytes(content)
    result = QueryRunner().run(path, "SELECT 1")
    assert result.error_kind == "bad_database"
    assert "broken.sqlite" in (result.error or "") and all(w in (result.error or "") for w in words)


@pytest.mark.parametrize(
    ("limits", "key"),
    [
        ({"timeout_s": float("inf")}, "timeout_s"),
        ({"timeout_s": float("nan")}, "timeout_s"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"row_cap": 0}, "row_cap"),
        ({"result_cap_mb": float("inf")}, "result_cap_mb"),
        ({"result_cap_mb": -1}, "result_cap_mb"),
    ],
)
def test_limits_must_be_finite_and_positive(limits: dict, key: str) -> None:
    with pytest.raises(InputError, match=key):
        QueryRunner(**limits)


def test_the_result_cache_is_bounded_in_bytes(numbers_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(execute, "CACHE_CAP_BYTES", 1_000_000)
    runner = QueryRunner()
    for size in range(10):
        runner.run(numbers_db, f"SELECT randomblob({1000 + size}) FROM n LIMIT 300", cache=True)
    assert 0 < runner._cache_bytes <= 1_000_000 and len(runner._cache) < 10
