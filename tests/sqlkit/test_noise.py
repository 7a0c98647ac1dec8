"""Noise corruptions: each kind on concrete queries, and how many change the result on Spider."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from routesql.db.connect import open_readonly
from routesql.errors import InputError
from routesql.sqlkit.links import analyze, schema_links
from routesql.sqlkit.noise import CORRUPTIONS, corrupt
from support import make_sqlite

SCRIPT = """
CREATE TABLE Singer (Singer_ID INTEGER PRIMARY KEY, Name TEXT, Country TEXT, Age INTEGER,
                     "Song Name" TEXT);
CREATE TABLE concert (concert_ID INTEGER PRIMARY KEY, concert_Name TEXT, Stadium_ID INTEGER,
                      Year TEXT);
CREATE TABLE singer_in_concert (concert_ID INTEGER, Singer_ID INTEGER);
CREATE TABLE stadium (Stadium_ID INTEGER PRIMARY KEY, Name TEXT, Capacity INTEGER);
INSERT INTO Singer VALUES (1, 'Joe', 'France', 52, 'Hey'), (2, 'Ann', 'USA', 29, 'Me'),
                          (3, 'Tom', 'France', 41, 'Yo'), (4, 'Eve', 'Spain', 35, 'La');
INSERT INTO concert VALUES (1, 'Rock', 1, '2014'), (2, 'Pop', 2, '2015'), (3, 'Jazz', 1, '2015');
INSERT INTO singer_in_concert VALUES (1, 1), (1, 2), (2, 3), (3, 1);
INSERT INTO stadium VALUES (1, 'Big', 5000), (2, 'Small', 100);
"""
SEEDS = range(30)


def read_schema(conn: sqlite3.Connection) -> dict[str, dict[str, str]]:
    """table → {column → declared type}, from the SQLite file itself."""
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {table: {row[1]: row[2] for row in conn.execute(f'PRAGMA table_info("{table}")')} for table in tables}


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sqlite(tmp_path_factory.mktemp("noise") / "concert.sqlite", SCRIPT)


@pytest.fixture(scope="module")
def schema(db_path: Path) -> dict[str, dict[str, str]]:
    with open_readonly(db_path) as conn:
        return read_schema(conn)


JOIN = "FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.singer_id = T2.singer_id"

# (kind, gold SQL, every corrupted SQL the kind may produce on it)
CASES = [
    # a column of the same table, never one of a join condition
    (
        "wrong_column",
        "SELECT name FROM stadium WHERE capacity > 100",
        {
            "SELECT Stadium_ID FROM stadium WHERE capacity > 100",
            "SELECT Capacity FROM stadium WHERE capacity > 100",
            "SELECT name FROM stadium WHERE Stadium_ID > 100",
            "SELECT name FROM stadium WHERE Name > 100",
        },
    ),
    (
        "wrong_column",
        f"SELECT T1.name {JOIN}",
        {
            f"SELECT T1.Singer_ID {JOIN}",
            f"SELECT T1.Country {JOIN}",
            f"SELECT T1.Age {JOIN}",
            f'SELECT T1."Song Name" {JOIN}',
        },
    ),
    # another table of the schema, the ones holding the columns used first
    ("wrong_table", "SELECT name FROM singer", {"SELECT name FROM stadium"}),
    (
        "wrong_table",
        "SELECT count(*) FROM singer_in_concert",
        {
            "SELECT COUNT(*) FROM Singer",
            "SELECT COUNT(*) FROM concert",
            "SELECT COUNT(*) FROM stadium",
        },
    ),
    # one side of the join moved to another column of its table, of the same type
    (
        "wrong_join_key",
        f"SELECT T1.name {JOIN}",
        {
            "SELECT T1.name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.Age = T2.singer_id",
            "SELECT T1.name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.singer_id = T2.concert_ID",
        },
    ),
    ("wrong_aggregate", "SELECT max(age) FROM singer", {"SELECT MIN(age) FROM singer"}),
    (
        "wrong_aggregate",
        "SELECT avg(age) FROM singer",
        {
            "SELECT SUM(age) FROM singer",
            "SELECT MAX(age) FROM singer",
            "SELECT MIN(age) FROM singer",
        },
    ),
    ("wrong_aggregate", "SELECT count(DISTINCT country) FROM singer", {"SELECT COUNT(country) FROM singer"}),
    (
        "wrong_aggregate",
        "SELECT count(*) FROM singer WHERE country = 'France'",
        {"SELECT COUNT(DISTINCT country) FROM singer WHERE country = 'France'"},
    ),
    (
        "wrong_comparison",
        "SELECT name FROM singer WHERE age > 30",
        {
            "SELECT name FROM singer WHERE age < 30",
            "SELECT name FROM singer WHERE age <= 30",
        },
    ),
    (
        "wrong_comparison",
        "SELECT name FROM singer WHERE country = 'France'",
        {"SELECT name FROM singer WHERE country <> 'France'"},
    ),
    (
        "wrong_comparison",
        "SELECT name FROM singer WHERE name LIKE '%o%'",
        {"SELECT name FROM singer WHERE name = '%o%'"},
    ),
    (
        "wrong_literal",
        "SELECT name FROM singer WHERE age > 30",
        {
            "SELECT name FROM singer WHERE age > 300",
            "SELECT name FROM singer WHERE age > 3",
        },
    ),
    (
        "wrong_literal",
        'SELECT name FROM singer WHERE country = "France"',
        {
            "SELECT name FROM singer WHERE country = 'france'",
            "SELECT name FROM singer WHERE country = 'FRANCE'",
            "SELECT name FROM singer WHERE country = 'Franc'",
        },
    ),
    ("wrong_literal", "SELECT name FROM singer WHERE name LIKE '%o%'", {"SELECT name FROM singer WHERE name LIKE 'o'"}),
    (
        "wrong_literal",
        "SELECT name FROM singer ORDER BY age LIMIT 1",
        {
            "SELECT name FROM singer ORDER BY age LIMIT 3",
            "SELECT name FROM singer ORDER BY age LIMIT 10",
        },
    ),
    ("dropped_condition", "SELECT name FROM singer WHERE age > 30", {"SELECT name FROM singer"}),
    (
        "dropped_condition",
        "SELECT name FROM singer WHERE (age > 30 OR country = 'USA') AND name <> 'Joe'",
        {
            "SELECT name FROM singer WHERE (age > 30 OR country = 'USA')",
            "SELECT name FROM singer WHERE (age > 30) AND name <> 'Joe'",
            "SELECT name FROM singer WHERE (country = 'USA') AND name <> 'Joe'",
        },
    ),
    (
        "dropped_condition",
        "SELECT country FROM singer GROUP BY country HAVING count(*) > 1",
        {"SELECT country FROM singer GROUP BY country"},
    ),
    # a join written in WHERE stays: dropping it would only make a cross product
    (
        "dropped_condition",
        "SELECT T1.name FROM singer AS T1, singer_in_concert AS T2 WHERE T1.singer_id = T2.singer_id AND T2.concert_id = 1",
        # sqlglot writes the comma join as CROSS JOIN, which SQLite reads the same way
        {"SELECT T1.name FROM singer AS T1 CROSS JOIN singer_in_concert AS T2 WHERE T1.singer_id = T2.singer_id"},
    ),
    (
        "dropped_group_by",
        "SELECT country, count(*) FROM singer GROUP BY country",
        {"SELECT country, COUNT(*) FROM singer"},
    ),
    (
        "dropped_group_by",
        "SELECT country, age, count(*) FROM singer GROUP BY country, age",
        {
            "SELECT country, age, COUNT(*) FROM singer",
            "SELECT country, age, COUNT(*) FROM singer GROUP BY country",
            "SELECT country, age, COUNT(*) FROM singer GROUP BY age",
        },
    ),
]


@pytest.mark.parametrize(("kind", "sql", "allowed"), CASES)
def test_corruption_is_one_of_the_expected_mistakes(kind: str, sql: str, allowed: set[str], schema: dict) -> None:
    produced = {corrupt(sql, schema, kind, random.Random(seed)) for seed in SEEDS}
    assert produced <= allowed
    assert len(produced) >= min(2, len(allowed))  # the rng does choose among the options


NOT_APPLICABLE = [
    ("wrong_column", "SELECT count(*) FROM singer"),
    (
        "wrong_table",
        f"SELECT T1.name {JOIN} JOIN concert AS T3 ON T2.concert_id = T3.concert_id"
        " JOIN stadium AS T4 ON T3.stadium_id = T4.stadium_id",
    ),
    ("wrong_join_key", "SELECT name FROM singer WHERE age = 3"),
    ("wrong_aggregate", "SELECT name FROM singer"),
    ("wrong_comparison", "SELECT name FROM singer ORDER BY age"),
    ("wrong_comparison", f"SELECT T1.name {JOIN}"),
    ("wrong_literal", "SELECT name FROM singer WHERE age > (SELECT avg(age) FROM singer)"),
    ("dropped_condition", "SELECT name FROM singer"),
    (
        "dropped_condition",
        "SELECT T1.name FROM singer AS T1, singer_in_concert AS T2 WHERE T1.singer_id = T2.singer_id",
    ),
    ("dropped_group_by", "SELECT count(*) FROM singer"),
]


@pytest.mark.parametrize(("kind", "sql"), NOT_APPLICABLE)
def test_not_applicable_gives_none(kind: str, sql: str, schema: dict) -> None:
    assert all(corrupt(sql, schema, kind, random.Random(seed)) is None for seed in SEEDS)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT name FROM singer",
        f"SELECT T1.name {JOIN} WHERE T1.country = 'France'",
        "SELECT count(*) FROM singer WHERE age IN (SELECT max(age) FROM singer)",
    ],
)
def test_broken_syntax_is_rejected_by_sqlite_parser(sql: str, db_path: Path, schema: dict) -> None:
    outputs = {corrupt(sql, schema, "broken_syntax", random.Random(seed)) for seed in SEEDS}
    assert None not in outputs and len(outputs) >= 2
    with open_readonly(db_path) as conn:
        for broken in outputs:
            with pytest.raises(sqlite3.OperationalError, match=r"syntax error|incomplete input|unrecognized"):
                conn.execute(broken)


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_same_seed_same_corruption_and_gold_untouched(kind: str, schema: dict) -> None:
    sql = (
        f"SELECT T1.name, count(*) {JOIN} WHERE T1.age > 30 AND T1.country = 'France'"
        " GROUP BY T1.name HAVING max(T1.age) < 60 ORDER BY count(*) DESC LIMIT 2"
    )
    canonical, links = analyze(sql, schema).sql, schema_links(sql, schema)
    first = [corrupt(sql, schema, kind, random.Random(seed)) for seed in range(5)]
    again = [corrupt(sql, schema, kind, random.Random(seed)) for seed in range(5)]
    assert first == again and None not in first
    assert canonical not in first
    assert analyze(sql, schema).sql == canonical and schema_links(sql, schema) == links


def test_unknown_kind_is_an_input_error(schema: dict) -> None:
    with pytest.raises(InputError, match="unknown"):
        corrupt("SELECT name FROM singer", schema, "wrong_everything", random.Random(0))


# --- Spider train: how many corruptions each kind makes, and how many change the result ---------


def _run(conn: sqlite3.Connection, sql: str) -> list[tuple] | str:
    """Rows, or the error text; queries past ~2M SQLite steps are cut (a bad join can explode)."""
    conn.set_progress_handler(lambda: 1, 2_000_000)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.Error as error:
        return f"error: {error}"
    finally:
        conn.set_progress_handler(None, 0)


def _same_result(gold_sql: str, gold: list[tuple], other: list[tuple] | str) -> bool:
    if isinstance(other, str):
        return False
    if "order by" in gold_sql.lower():
        return gold == other
    return Counter(map(repr, gold)) == Counter(map(repr, other))


@pytest.mark.benchmarks
def test_spider_train_corruptions_change_results(spider_dir: Path) -> None:
    """On 500 Spider train queries, per kind: how many corruptions are made and which share gives
    a result other than gold's (or an error). Only those are kept by the synthesis stage."""
    examples = json.loads((spider_dir / "train_spider_min.json").read_text())
    usable = [e for e in examples if (spider_dir / "database" / e["db_id"]).is_dir()]
    made, changed, seconds, calls = Counter(), Counter(), 0.0, 0
    connections: dict[str, sqlite3.Connection] = {}
    schemas: dict[str, dict] = {}
    for number, example in enumerate(usable[::14][:500]):
        db_id, sql = example["db_id"], example["query"]
        if db_id not in connections:
            connections[db_id] = open_readonly(spider_dir / "database" / db_id / f"{db_id}.sqlite")
            schemas[db_id] = read_schema(connections[db_id])
        gold = _run(connections[db_id], sql)
        if isinstance(gold, str):
            continue
        for kind in CORRUPTIONS:
            started = time.perf_counter()
            corrupted = corrupt(sql, schemas[db_id], kind, random.Random(f"{number}-{kind}"))
            seconds, calls = seconds + time.perf_counter() - started, calls + 1
            if corrupted is not None:
                made[kind] += 1
                changed[kind] += not _same_result(sql, gold, _run(connections[db_id], corrupted))
    print(f"\n{1000 * seconds / calls:.2f} ms per corruption call")
    for kind in CORRUPTIONS:
        print(f"{kind:18s} made {made[kind]:4d}  changed {changed[kind]:4d} ({changed[kind] / max(made[kind], 1):.1%})")
    for kind in CORRUPTIONS:
        assert made[kind] >= 100, kind
        assert changed[kind] / made[kind] >= 0.75, kind
