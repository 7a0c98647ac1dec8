"""Schema links: edge cases on a small real database, the SL text format, and all of Spider train."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from routesql.db.connect import open_readonly
from routesql.sqlkit.links import (
    format_links,
    parse_links,
    schema_links,
)
from support import make_sqlite

SCRIPT = """
CREATE TABLE Singer (Singer_ID INTEGER PRIMARY KEY, Name TEXT, Country TEXT, Age INTEGER,
                     "Song Name" TEXT);
CREATE TABLE concert (concert_ID INTEGER PRIMARY KEY, concert_Name TEXT, Stadium_ID INTEGER,
                      Year TEXT);
CREATE TABLE singer_in_concert (concert_ID INTEGER, Singer_ID INTEGER);
CREATE TABLE stadium (Stadium_ID INTEGER PRIMARY KEY, Name TEXT, Capacity INTEGER);
"""


def restrict_schema(schema: dict[str, dict[str, str]], links: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """The part of ``schema`` that ``links`` names: linked tables with exactly the linked columns.

    Keeps the schema's order and spelling; names are matched case-insensitively; names that the
    schema lacks are ignored.
    """
    wanted = {t.lower(): {c.lower() for c in columns} for t, columns in links.items()}
    restricted: dict[str, dict[str, str]] = {}
    for table, columns in schema.items():
        if table.lower() in wanted:
            keep = wanted[table.lower()]
            restricted[table] = {c: kind for c, kind in columns.items() if c.lower() in keep}
    return restricted


def read_schema(conn: sqlite3.Connection) -> dict[str, dict[str, str]]:
    """table → {column → declared type}, from the SQLite file itself."""
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {table: {row[1]: row[2] for row in conn.execute(f'PRAGMA table_info("{table}")')} for table in tables}


def restricted_database(schema: dict[str, dict[str, str]]) -> sqlite3.Connection:
    """Empty tables with only the given columns (one placeholder when none: SQLite needs one)."""
    conn = sqlite3.connect(":memory:")
    for table, columns in schema.items():
        names = list(columns) or ["routesql_placeholder"]
        quoted = ", ".join('"' + name.replace('"', '""') + '"' for name in names)
        conn.execute(f'CREATE TABLE "{table}" ({quoted})')
    return conn


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    path = make_sqlite(tmp_path_factory.mktemp("links") / "concert.sqlite", SCRIPT)
    with open_readonly(path) as conn:
        return read_schema(conn)


LINK_CASES = [
    ("SELECT name FROM singer WHERE age > 20", {"Singer": ["Age", "Name"]}),
    # count(*) and * link the table only
    ("SELECT count(*) FROM singer", {"Singer": []}),
    ("SELECT * FROM singer WHERE country = 'France'", {"Singer": ["Country"]}),
    ("SELECT count(DISTINCT country) FROM singer", {"Singer": ["Country"]}),
    # aliases; unqualified columns resolved to their table
    (
        "SELECT T1.name, concert_name FROM singer AS T1 JOIN singer_in_concert AS T2"
        " ON T1.singer_id = T2.singer_id JOIN concert AS T3 ON T2.concert_id = T3.concert_id",
        {
            "concert": ["concert_ID", "concert_Name"],
            "Singer": ["Name", "Singer_ID"],
            "singer_in_concert": ["concert_ID", "Singer_ID"],
        },
    ),
    (
        "SELECT T1.* FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.singer_id = T2.singer_id",
        {"Singer": ["Singer_ID"], "singer_in_concert": ["Singer_ID"]},
    ),
    # self-join: one table, the columns of both sides
    (
        "SELECT T1.name FROM singer AS T1 JOIN singer AS T2 ON T1.age = T2.age WHERE T2.country = 'USA'",
        {"Singer": ["Age", "Country", "Name"]},
    ),
    # nested queries, correlated ones too
    (
        "SELECT name FROM stadium WHERE stadium_id NOT IN (SELECT stadium_id FROM concert)",
        {"concert": ["Stadium_ID"], "stadium": ["Name", "Stadium_ID"]},
    ),
    (
        "SELECT name FROM singer AS S WHERE age > (SELECT avg(age) FROM singer WHERE country = S.country)",
        {"Singer": ["Age", "Country", "Name"]},
    ),
    # set operations
    (
        "SELECT name FROM singer UNION SELECT name FROM stadium",
        {"Singer": ["Name"], "stadium": ["Name"]},
    ),
    (
        "SELECT name FROM singer WHERE age > 40 EXCEPT SELECT name FROM singer WHERE country = 'USA'",
        {"Singer": ["Age", "Country", "Name"]},
    ),
    # subqueries in FROM, CTEs, and a * passed through a derived table
    (
        "SELECT count(*) FROM (SELECT country FROM singer GROUP BY country)",
        {"Singer": ["Country"]},
    ),
    (
        "WITH old AS (SELECT name, age FROM singer WHERE age > 40) SELECT name FROM old ORDER BY age",
        {"Singer": ["Age", "Name"]},
    ),
    ("SELECT name FROM (SELECT * FROM singer) WHERE age > 30", {"Singer": ["Age", "Name"]}),
    (
        "SELECT name FROM (SELECT * FROM stadium UNION SELECT * FROM stadium) WHERE capacity > 9",
        {"stadium": ["Capacity", "Name"]},
    ),
    # Spider's double-quoted strings are values, double-quoted names are names
    ('SELECT name FROM singer WHERE country = "France"', {"Singer": ["Country", "Name"]}),
    ('SELECT "Song Name" FROM singer WHERE "name" = "Joe"', {"Singer": ["Name", "Song Name"]}),
    # mixed case in the query: names come back spelled as in the schema
    ("SELECT NAME FROM SINGER WHERE aGe > 1", {"Singer": ["Age", "Name"]}),
    # columns that appear only in ORDER BY, GROUP BY or HAVING
    ("SELECT name FROM singer ORDER BY age DESC", {"Singer": ["Age", "Name"]}),
    ("SELECT count(*) FROM singer GROUP BY country", {"Singer": ["Country"]}),
    (
        "SELECT country FROM singer GROUP BY country HAVING avg(age) > 30",
        {"Singer": ["Age", "Country"]},
    ),
    # an ORDER BY alias is not a column
    (
        "SELECT country, count(*) AS n FROM singer GROUP BY country ORDER BY n DESC",
        {"Singer": ["Country"]},
    ),
    # a name the schema lacks is left out, never invented
    ("SELECT name FROM singer JOIN nowhere", {"Singer": ["Name"]}),
]


@pytest.mark.parametrize(("sql", "expected"), LINK_CASES)
def test_schema_links(sql: str, expected: dict[str, list[str]], schema: dict) -> None:
    links = schema_links(sql, schema)
    assert links == expected
    assert list(links) == sorted(links, key=str.lower)  # deterministic order


@pytest.mark.parametrize(("sql", "expected"), [row for row in LINK_CASES if "nowhere" not in row[0]])
def test_query_runs_on_only_the_linked_columns(sql: str, expected: dict, schema: dict) -> None:
    restricted = restrict_schema(schema, schema_links(sql, schema))
    restricted_database(restricted).execute(sql).fetchall()


@pytest.mark.parametrize(
    ("links", "text"),
    [
        ({"Singer": ["Age", "Name"]}, "Singer: Age, Name"),
        ({"Singer": [], "concert": ["Year"]}, "concert: Year\nSinger:"),
        ({"stadium": ["Name"], "Singer": ["Song Name"]}, "Singer: Song Name\nstadium: Name"),
        ({}, ""),
    ],
)
def test_format_links_and_back(links: dict, text: str) -> None:
    assert format_links(links) == text
    assert parse_links(text) == {t: sorted(c, key=str.lower) for t, c in links.items()}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  SINGER :  name ,AGE \n\n concert:", {"concert": [], "Singer": ["Age", "Name"]}),
        ("singer: song name, age, age", {"Singer": ["Age", "Song Name"]}),
        ("singer: name\nsinger: age", {"Singer": ["Age", "Name"]}),
        # names the schema lacks are dropped: a model may invent them
        ("singer: name, height\nteam: name", {"Singer": ["Name"]}),
        ("", {}),
    ],
)
def test_parse_links_with_schema_is_tolerant(text: str, expected: dict, schema: dict) -> None:
    assert parse_links(text, schema) == expected


@pytest.mark.parametrize("text", ["hello world", "singer age name", "Singer: Name\nthe end"])
def test_parse_links_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="expected 'table: columns'"):
        parse_links(text)


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        ({"singer": ["NAME"]}, {"Singer": {"Name": "TEXT"}}),
        ({"Singer": [], "STADIUM": ["capacity", "nope"]}, {"Singer": {}, "stadium": {"Capacity": "INTEGER"}}),
        ({"nowhere": ["x"]}, {}),
    ],
)
def test_restrict_schema_keeps_exactly_the_linked_names(links: dict, expected: dict, schema: dict) -> None:
    assert restrict_schema(schema, links) == expected


@pytest.mark.benchmarks
def test_spider_train_gold_runs_on_its_linked_schema(spider_dir: Path) -> None:
    """Every executable gold query of Spider train prepares on empty tables holding only its
    linked columns, and no link names anything outside the database."""
    examples = json.loads((spider_dir / "train_spider_min.json").read_text())
    schemas: dict[str, dict] = {}
    connections: dict[str, sqlite3.Connection] = {}
    checked, failures, not_in_schema, link_seconds = 0, [], [], 0.0
    for example in examples:
        db_id, sql = example["db_id"], example["query"]
        path = spider_dir / "database" / db_id / f"{db_id}.sqlite"
        if not path.is_file():
            continue  # baseball_1 and soccer_1 are not in the release we have
        if db_id not in connections:
            connections[db_id] = open_readonly(path)
            schemas[db_id] = read_schema(connections[db_id])
        try:
            connections[db_id].execute("EXPLAIN " + sql)
        except sqlite3.Error:
            continue  # a known Spider annotation error: the gold fails on its own database
        schema = schemas[db_id]
        started = time.perf_counter()
        links = schema_links(sql, schema)
        link_seconds += time.perf_counter() - started
        checked += 1
        not_in_schema += [(db_id, t, links[t]) for t in links if not set(links[t]) <= set(schema.get(t, {}))]
        try:
            restricted_database(restrict_schema(schema, links)).execute("EXPLAIN " + sql)
        except sqlite3.Error as error:
            failures.append((db_id, sql, str(error), links))
    print(f"\nchecked {checked}, failing {len(failures)}, links {1000 * link_seconds / checked:.2f} ms/query")
    assert checked >= 6900
    assert not_in_schema == []
    assert failures == []
