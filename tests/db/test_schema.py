"""Schemas read from real SQLite files (Spider's, and ones built in tmp_path) and rendered as
CREATE TABLE text that must itself be valid SQLite."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import pytest
from sqlglot.schema import MappingSchema

from routesql.db.schema import (
    Column,
    DatabaseSchema,
    ForeignKey,
    approx_token_count,
    quote_identifier,
    read_schema,
    render_schema,
    render_table,
)


@pytest.fixture
def spider_db(spider_dir: Path) -> Path:
    return spider_dir / "database"  # conftest: skips with the reason when the benchmarks are absent


def spider_schema(database_dir: Path, db_id: str, sample_rows: int = 3) -> DatabaseSchema:
    return read_schema(database_dir / db_id / f"{db_id}.sqlite", sample_rows)


def make_db(path: Path, *statements: str) -> Path:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path


def created_tables(ddl: str) -> dict[str, list[str]]:
    """Run `ddl` in a fresh in-memory database: table → column names it created."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(ddl)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {name: [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')] for name in names}


# --- reading real Spider databases -----------------------------------------------------------


@pytest.mark.benchmarks
def test_concert_singer(spider_db: Path) -> None:
    schema = spider_schema(spider_db, "concert_singer")
    assert schema.db_id == "concert_singer"
    assert schema.table_names == ["stadium", "singer", "concert", "singer_in_concert"]
    link = schema.table("SINGER_IN_CONCERT")  # case-insensitive, as SQLite is
    assert link.columns == (
        Column("concert_ID", "INT", True),
        Column("Singer_ID", "TEXT", True),
    )
    assert link.foreign_keys == (  # declaration order
        ForeignKey("concert_ID", "concert", "concert_ID"),
        ForeignKey("Singer_ID", "singer", "Singer_ID"),
    )
    assert schema.table("singer").primary_key == ["Singer_ID"]
    assert schema.table("singer").sample_rows[0][:3] == (1, "Joe Sharp", "Netherlands")
    assert all(len(t.sample_rows) == 3 for t in schema.tables)
    with pytest.raises(KeyError):
        schema.table("band")


@pytest.mark.benchmarks
@pytest.mark.parametrize(
    ("db_id", "table", "expected_text"),
    [
        ("concert_singer", "concert", "FOREIGN KEY (Stadium_ID) REFERENCES stadium(Stadium_ID)"),
        ("aircraft", "airport", '"%_Change_2007"'),  # not a plain identifier
        ("perpetrator", "people", '"Home Town"'),  # a space in the name
        ("orchestra", "performance", '"Official_ratings_(millions)"'),
        ("tvshow", "TV_series", '"18_49_Rating_Share"'),  # starts with a digit
        ("college_2", "section", "PRIMARY KEY (course_id, sec_id, semester, year)"),
        ("loan_1", "loan", "REFERENCES customer(Cust_ID)"),  # declared with another case
        ("imdb", "tags", "REFERENCES keyword(kid)"),  # keyword has no kid column
        ("sakila_1", "film", "  rating,\n"),  # no declared type
    ],
)
def test_spider_quirks_render_as_declared(spider_db: Path, db_id: str, table: str, expected_text: str) -> None:
    schema = spider_schema(spider_db, db_id)
    assert expected_text in render_table(schema.table(table), 0)
    created = created_tables(render_schema(schema))
    assert created == {t.name: t.column_names for t in schema.tables}


@pytest.mark.benchmarks
def test_every_spider_database_renders_to_valid_sql(spider_db: Path) -> None:
    for path in sorted(spider_db.glob("*/*.sqlite")):
        schema = read_schema(path, sample_rows=1)
        assert created_tables(render_schema(schema)) == {t.name: t.column_names for t in schema.tables}, path.name
        assert not any(name.startswith("sqlite_") for name in schema.table_names), path.name


@pytest.mark.benchmarks
def test_to_mapping_feeds_sqlglot(spider_db: Path) -> None:
    mapping = spider_schema(spider_db, "concert_singer").to_mapping()
    assert mapping["singer"]["Age"] == "INT"
    sqlglot_schema = MappingSchema(mapping, dialect="sqlite")
    assert sqlglot_schema.column_names("stadium")[:2] == ["stadium_id", "location"]


@pytest.mark.benchmarks
@pytest.mark.parametrize(
    ("request_", "tables", "columns_of_singer", "keys_of_link"),
    [
        ({"singer": None}, ["singer"], 7, None),
        (
            {"singer_in_concert": None, "SINGER": ["singer_id", "Name"], "band": None},
            ["singer", "singer_in_concert"],
            2,
            [ForeignKey("Singer_ID", "singer", "Singer_ID")],  # concert's key is dropped
        ),
        ({"singer": ["Name"], "singer_in_concert": None}, ["singer", "singer_in_concert"], 1, []),
    ],
)
def test_restricted(
    spider_db: Path,
    request_: dict,
    tables: list[str],
    columns_of_singer: int,
    keys_of_link: list | None,
) -> None:
    part = spider_schema(spider_db, "concert_singer").restricted(request_)
    assert part.table_names == tables
    singer = part.table("singer")
    assert len(singer.columns) == columns_of_singer
    assert all(len(row) == columns_of_singer for row in singer.sample_rows)
    if keys_of_link is not None:
        assert list(part.table("singer_in_concert").foreign_keys) == keys_of_link
    assert set(created_tables(render_schema(part))) == set(tables)


# --- rendering and the token budget ----------------------------------------------------------


@pytest.fixture
def budget_schema(tmp_path: Path) -> DatabaseSchema:
    """Two tables whose sample rows differ a lot in size: `notes` rows cost the most."""
    path = make_db(
        tmp_path / "budget.sqlite",
        "CREATE TABLE ids (id INTEGER PRIMARY KEY)",
        "INSERT INTO ids VALUES (1), (2), (3)",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
        "INSERT INTO notes VALUES (1, 'alpha beta gamma delta epsilon zeta eta theta')",
        "INSERT INTO notes VALUES (2, 'iota kappa lambda mu nu xi omicron pi rho')",
        "INSERT INTO notes VALUES (3, 'sigma tau upsilon phi chi psi omega again')",
    )
    return read_schema(path)


def test_budget_drops_rows_of_the_costliest_table_first(budget_schema: DatabaseSchema) -> None:
    full = render_schema(budget_schema)
    text = render_schema(budget_schema, token_budget=approx_token_count(full) - 1)
    assert approx_token_count(text) < approx_token_count(full)
    assert "3 example rows from ids" in text  # the cheap table keeps its rows
    assert "2 example rows from notes" in text


@pytest.mark.parametrize("budget_offset", [0, -1000])
def test_budget_below_bare_ddl_returns_bare_ddl(budget_schema: DatabaseSchema, budget_offset: int) -> None:
    bare = render_schema(budget_schema, sample_rows=0)
    text = render_schema(budget_schema, token_budget=approx_token_count(bare) + budget_offset)
    assert text == bare
    assert "example row" not in text


@pytest.mark.parametrize("count_tokens", [approx_token_count, len])
def test_budget_is_met_with_any_counter(budget_schema: DatabaseSchema, count_tokens) -> None:
    full = render_schema(budget_schema)
    budget = (count_tokens(full) + count_tokens(render_schema(budget_schema, 0))) // 2
    text = render_schema(budget_schema, token_budget=budget, count_tokens=count_tokens)
    assert count_tokens(text) <= budget
    assert "example row" in text  # only as many rows were dropped as needed


def test_no_budget_keeps_all_rows(budget_schema: DatabaseSchema) -> None:
    assert render_schema(budget_schema).count("3 example rows") == 2
    assert render_schema(budget_schema, sample_rows=1).count("1 example row from") == 2


# --- awkward databases built here ------------------------------------------------------------


def test_awkward_names_values_and_keys(tmp_path: Path) -> None:
    path = make_db(
        tmp_path / "awkward.sqlite",
        'CREATE TABLE "My Table" ("order" INTEGER PRIMARY KEY, "select", note TEXT)',
        'CREATE TABLE child (id INT, parent INT REFERENCES "My Table", '
        'other INT REFERENCES "my table"("ORDER"), ghost INT REFERENCES nowhere("nothing"))',
        "INSERT INTO \"My Table\" VALUES (1, x'00ff', 'ends a comment */ early\nand\ttabs')",
        'INSERT INTO "My Table" VALUES (2, NULL, \'' + "x" * 100 + "')",
        "INSERT INTO child VALUES (1, 1, 1, 1)",
    )
    schema = read_schema(path)
    assert schema.table("my table").column("ORDER").is_primary_key
    assert schema.table("My Table").column("select").type == ""
    assert schema.table("child").foreign_keys == (
        ForeignKey("parent", "My Table", "order"),  # implicit: the referenced primary key
        ForeignKey("other", "my table", "ORDER"),
        ForeignKey("ghost", "nowhere", "nothing"),
    )
    rows = schema.table("My Table").sample_rows
    assert rows[0][1] == "<2 bytes>"
    assert len(rows[1][2]) == 40 and rows[1][2].endswith("...")
    text = render_schema(schema)
    assert 'CREATE TABLE "My Table"' in text and '"order" INTEGER PRIMARY KEY' in text
    assert 'REFERENCES nowhere("nothing")' in text  # NOTHING is a SQLite keyword
    assert created_tables(text) == {t.name: t.column_names for t in schema.tables}


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (["CREATE TABLE singer (id INTEGER PRIMARY KEY, name TEXT, age INT)"], "table singer: id, name, age"),
        (
            [
                "CREATE TABLE band (id INTEGER PRIMARY KEY)",
                "CREATE TABLE singer (id INT, band_id INT REFERENCES band(id), note TEXT)",
            ],
            "table band: id\ntable singer: id, band_id -> band.id, note",
        ),
        (
            [
                'CREATE TABLE "My Table" ("order" INT PRIMARY KEY)',
                'CREATE TABLE child (parent INT REFERENCES "My Table")',
            ],
            'table "My Table": "order"\ntable child: parent -> "My Table"."order"',
        ),  # implicit key resolved, names quoted
    ],
)
def test_compact_style_is_one_line_per_table(tmp_path: Path, statements: list[str], expected: str) -> None:
    schema = read_schema(make_db(tmp_path / "c.sqlite", *statements), sample_rows=0)
    text = render_schema(schema, sample_rows=0, style="compact")
    assert text == expected
    # every name follows a space, as in SQL, so a byte-level tokenizer encodes it the same way
    assert not re.search(r"^[^ ]*\w:", text, re.MULTILINE)
    assert approx_token_count(text) < approx_token_count(render_schema(schema, sample_rows=0))


def test_compact_style_keeps_sample_rows_and_budget(tmp_path: Path) -> None:
    path = make_db(tmp_path / "r.sqlite", "CREATE TABLE t (a INT, b TEXT)", "INSERT INTO t VALUES (1, 'x')")
    schema = read_schema(path)
    assert render_schema(schema, 1, style="compact") == "table t: a, b\n/* 1 example row from t:\na\tb\n1\tx\n*/"
    assert render_schema(schema, 1, token_budget=6, style="compact") == "table t: a, b"


def test_unknown_style_is_refused(pets_db: Path) -> None:
    with pytest.raises(ValueError, match="unknown schema style 'yaml'"):
        render_schema(read_schema(pets_db), style="yaml")


def test_non_utf8_text_does_not_crash(tmp_path: Path) -> None:
    path = make_db(
        tmp_path / "latin1.sqlite",
        "CREATE TABLE player (name TEXT)",
        "INSERT INTO player VALUES (CAST(x'4dfc6c6c6572' AS TEXT))",  # 'Müller' in Latin-1
    )
    schema = read_schema(path)
    assert schema.table("player").sample_rows == (("Mller",),)
    assert "Mller" in render_schema(schema)


def test_cache_follows_file_changes(tmp_path: Path) -> None:
    path = make_db(tmp_path / "c.sqlite", "CREATE TABLE a (x INT)")
    first = read_schema(path)
    assert read_schema(path) is first
    assert read_schema(path, sample_rows=1) is not first  # sample_rows is part of the key
    make_db(path, "CREATE TABLE b (y INT)")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert read_schema(path).table_names == ["a", "b"]


def test_missing_database_file(tmp_path: Path) -> None:
    from routesql.errors import InputError

    with pytest.raises(InputError, match="database file not found"):
        read_schema(tmp_path / "absent.sqlite")


# --- small helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("singer", "singer"),
        ("Year", "Year"),  # not a SQLite keyword
        ("order", '"order"'),
        ("Home Town", '"Home Town"'),
        ("18_49_Rating", '"18_49_Rating"'),
        ('say "hi"', '"say ""hi"""'),
    ],
)
def test_quote_identifier(name: str, expected: str) -> None:
    assert quote_identifier(name) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("   \n\t", 0),
        ("SELECT", 2),  # 6 letters: two pieces of up to 5
        ("t.c", 3),
        ("Song_release_year", 6),  # Song _ relea se _ year
        ("12345", 2),
        ("count(*)", 4),
        ("Müller", 2),
    ],
)
def test_approx_token_count(text: str, expected: int) -> None:
    assert approx_token_count(text) == expected
