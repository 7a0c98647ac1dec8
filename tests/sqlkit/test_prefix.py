"""Clause-boundary prefixes of the canonical SQL, for continuation writing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routesql.sqlkit.prefix import canonical_sql, clause_prefixes

SCHEMA = {
    "singer": {"singer_id": "INTEGER", "name": "TEXT", "country": "TEXT", "age": "INTEGER"},
    "concert": {"concert_id": "INTEGER", "singer_id": "INTEGER", "year": "TEXT"},
}

FULL = (
    "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id "
    "WHERE T2.year > 2014 GROUP BY T1.name HAVING COUNT(*) > 1 ORDER BY COUNT(*) DESC LIMIT 1"
)
UNION = "SELECT name FROM singer WHERE age > 30 UNION SELECT name FROM singer"


def _cut_before(text: str, *markers: str) -> list[str]:
    """The prefixes of `text` that end just before each marker (first occurrence)."""
    return [text[: text.index(marker)] for marker in markers]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT name FROM singer", ["SELECT ", "SELECT name "]),
        ("select count(*) from singer", ["SELECT ", "SELECT COUNT(*) "]),
        ("SELECT DISTINCT country FROM singer", ["SELECT ", "SELECT DISTINCT country "]),
        # every clause of one query; JOINs stay inside the FROM clause
        (FULL, ["SELECT ", *_cut_before(FULL, "FROM", "WHERE", "GROUP BY", "HAVING", "ORDER BY", "LIMIT")]),
        # nothing is cut inside parentheses: subqueries are continued whole
        (
            "SELECT name FROM singer WHERE age > (SELECT avg(age) FROM singer WHERE country = 'x')",
            ["SELECT ", "SELECT name ", "SELECT name FROM singer "],
        ),
        ("SELECT count(*) FROM (SELECT country FROM singer GROUP BY country)", ["SELECT ", "SELECT COUNT(*) "]),
        # a set operator closes the query on its left; the right one gets its own prefixes
        (
            UNION,
            [
                "SELECT ",
                "SELECT name ",
                "SELECT name FROM singer ",
                "SELECT name FROM singer WHERE age > 30 ",
                "SELECT name FROM singer WHERE age > 30 UNION SELECT ",
                "SELECT name FROM singer WHERE age > 30 UNION SELECT name ",
            ],
        ),
        # keywords inside string literals are not boundaries
        (
            "SELECT name FROM singer WHERE name = 'a FROM b WHERE c'",
            ["SELECT ", "SELECT name ", "SELECT name FROM singer "],
        ),
        # a WITH query starts at its main SELECT
        (
            "WITH old AS (SELECT name FROM singer) SELECT name FROM old",
            ["WITH old AS (SELECT name FROM singer) SELECT ", "WITH old AS (SELECT name FROM singer) SELECT name "],
        ),
    ],
)
def test_clause_prefixes(sql: str, expected: list[str]) -> None:
    prefixes = clause_prefixes(sql, SCHEMA)
    assert prefixes == expected
    full = canonical_sql(sql, SCHEMA)
    assert all(full.startswith(p) and p != full for p in prefixes)


def test_spider_quirks_are_fixed_before_cutting() -> None:
    sql = 'SELECT name FROM singer WHERE country = "France" AND age > = 3 ;'
    full = canonical_sql(sql, SCHEMA)
    assert full == "SELECT name FROM singer WHERE country = 'France' AND age >= 3"
    assert clause_prefixes(sql, SCHEMA) == ["SELECT ", "SELECT name ", "SELECT name FROM singer "]


def test_without_schema_the_text_keeps_double_quotes() -> None:
    sql = 'SELECT name FROM singer WHERE country = "France"'
    assert canonical_sql(sql) == sql
    assert clause_prefixes(sql) == ["SELECT ", "SELECT name ", "SELECT name FROM singer "]


@pytest.mark.benchmarks
def test_spider_dev_prefixes_are_prefixes_of_the_canonical_text(spider_dir: Path) -> None:
    examples = json.loads((spider_dir / "dev.json").read_text())
    for example in examples:
        full = canonical_sql(example["query"])
        prefixes = clause_prefixes(example["query"])
        assert prefixes[0] == "SELECT ", example["query"]
        assert prefixes == sorted(set(prefixes), key=len)
        assert all(full.startswith(p) and len(p) < len(full) for p in prefixes), example["query"]
