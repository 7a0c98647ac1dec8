"""Parsing gold SQL with Spider's quirks, and rendering it back for SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from routesql.errors import InputError
from routesql.sqlkit.parse import fix_spaced_operators, parse_sqlite, to_sql
from support import make_sqlite

SCRIPT = """
CREATE TABLE Singer (Singer_ID INTEGER PRIMARY KEY, Name TEXT, Country TEXT, Age INTEGER,
                     "Song Name" TEXT);
INSERT INTO Singer VALUES (1, 'Joe', 'France', 52, 'Hey'), (2, 'Ann', 'USA', 29, 'it''s me'),
                          (3, 'Tom', 'France', 41, 'Yo');
"""
SCHEMA = {
    "Singer": {
        "Singer_ID": "INTEGER",
        "Name": "TEXT",
        "Country": "TEXT",
        "Age": "INTEGER",
        "Song Name": "TEXT",
    }
}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("a > = 1", "a >= 1"),
        ("a <  = 1", "a <= 1"),
        ("a ! = 1", "a != 1"),
        ("a < > 1", "a <> 1"),
        ("a >= 1", "a >= 1"),
        ("a > 1", "a > 1"),
        ("x = '> ='", "x = '> ='"),  # inside a string literal: untouched
        ('x = "< ="', 'x = "< ="'),
        ("x = 'it''s > = 2' AND y > = 3", "x = 'it''s > = 2' AND y >= 3"),
    ],
)
def test_spaced_operators_are_joined_outside_quotes(sql: str, expected: str) -> None:
    assert fix_spaced_operators(sql) == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # double-quoted token that names nothing: a string literal, as SQLite reads it
        ('SELECT name FROM singer WHERE country = "France"', "SELECT name FROM singer WHERE country = 'France'"),
        ('SELECT name FROM singer WHERE name = "it\'s me"', "SELECT name FROM singer WHERE name = 'it''s me'"),
        ('SELECT count(*) FROM singer WHERE name LIKE "%o%"', "SELECT COUNT(*) FROM singer WHERE name LIKE '%o%'"),
        # double-quoted column names (any case) and aliases stay identifiers
        ('SELECT "NAME" FROM singer', 'SELECT "NAME" FROM singer'),
        ('SELECT "Song Name" FROM singer', 'SELECT "Song Name" FROM singer'),
        (
            'SELECT country, count(*) AS cnt FROM singer GROUP BY country ORDER BY "cnt"',
            'SELECT country, COUNT(*) AS cnt FROM singer GROUP BY country ORDER BY "cnt"',
        ),
        # backticks quote names, never strings
        ("SELECT `Song Name` FROM singer", 'SELECT "Song Name" FROM singer'),
        # spacing quirks and the trailing semicolon
        ("SELECT name FROM singer WHERE age > = 41 ;", "SELECT name FROM singer WHERE age >= 41"),
        ("SELECT name FROM singer WHERE age ! = 41", "SELECT name FROM singer WHERE age <> 41"),
    ],
)
def test_parse_with_schema_then_render(sql: str, expected: str, tmp_path: Path) -> None:
    rendered = to_sql(parse_sqlite(sql, SCHEMA))
    assert rendered == expected
    # The rendering means what SQLite made of the original (spacing fixed for SQLite's sake).
    db = make_sqlite(tmp_path / "s.sqlite", SCRIPT)
    with sqlite3.connect(db) as conn:
        original = fix_spaced_operators(sql)
        assert conn.execute(rendered).fetchall() == conn.execute(original).fetchall()


def test_without_schema_double_quotes_stay_identifiers() -> None:
    rendered = to_sql(parse_sqlite('SELECT name FROM singer WHERE country = "France"'))
    assert rendered == 'SELECT name FROM singer WHERE country = "France"'


def test_backtick_name_unknown_to_the_schema_is_not_made_a_string() -> None:
    rendered = to_sql(parse_sqlite("SELECT `nope` FROM singer", SCHEMA))
    assert rendered == 'SELECT "nope" FROM singer'


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("", "exactly one statement, found 0"),
        (" ; ", "exactly one statement, found 0"),
        ("SELECT 1; SELECT 2", "exactly one statement, found 2"),
        ("SELECT name FROM singer WHERE (age > 3", "not valid SQLite"),
        ("SELECT name FROM singer WHERE country = 'France", "not valid SQLite"),
    ],
)
def test_bad_sql_raises_value_error_and_input_error(sql: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        parse_sqlite(sql, SCHEMA)
    assert isinstance(caught.value, InputError)
    assert "\n" not in str(caught.value)


def test_to_sql_without_copy_renders_the_same() -> None:
    expression = parse_sqlite("SELECT name FROM singer WHERE age > 3 ORDER BY age LIMIT 1")
    assert to_sql(expression, copy=False) == to_sql(expression)
