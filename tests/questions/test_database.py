"""A real SQLite file as the patterns see it: roles judged from values, keys never drawn, joins
along declared foreign keys with the key each one names."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from routesql.db.execute import QueryRunner
from routesql.questions.context import Edge, NoFit
from routesql.questions.database import column_role, database_context, is_summable, usable_value
from routesql.questions.patterns import PATTERNS
from support import make_sqlite


@pytest.mark.parametrize(
    ("values", "role"),
    [
        ([1, 2, 3.5], "number"),
        (["2020-01-03", "2021-07-30", "2019-12-31 10:00"], "date"),
        (["red", "blue", "red", "blue", "red", "green"], "category"),
        (["Ann Lee", "Bo Chen", "Cy Diaz", "Di Ek"], "label"),
        (["only", "only", "only", "only"], "other"),  # one value: nothing to filter or group on
        ([7], "other"),  # too few values to judge
        ([], "other"),
        ([1, "one"], "other"),  # mixed storage classes compare surprisingly
    ],
)
def test_column_role(values: list[object], role: str) -> None:
    assert column_role(values) == role


@pytest.mark.parametrize(
    ("value", "usable"),
    [
        (3, True),
        (2.5, True),
        (float("nan"), False),
        ("Lyon", True),
        ("x" * 41, False),
        (" padded", False),
        ("two\nlines", False),
        ("", False),
        (b"\x00", False),
        (None, False),
    ],
)
def test_usable_value(value: object, usable: bool) -> None:
    assert usable_value(value) is usable


@pytest.mark.parametrize(("name", "summable"), [("price", True), ("birth_year", False), ("Age", False), ("zip", False)])
def test_is_summable(name: str, summable: bool) -> None:
    assert is_summable(name) is summable


SCHOOL = """
CREATE TABLE Dept (DeptCode TEXT PRIMARY KEY, DeptName TEXT, Budget REAL);
CREATE TABLE Student (StuID INTEGER PRIMARY KEY, LName TEXT, Major TEXT REFERENCES Dept(DeptCode),
                      Enrolled TEXT, Photo BLOB);
CREATE TABLE Empty (id INTEGER PRIMARY KEY, note TEXT);
INSERT INTO Dept VALUES ('CS', 'Computer Science', 10.5), ('MA', 'Mathematics', 7.0), ('PH', 'Physics', 9.25);
"""


@pytest.fixture(scope="module")
def school_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [
        f"INSERT INTO Student VALUES ({i}, 'Name{i} Smith{i}', '{('CS', 'MA', 'PH')[i % 3]}', "
        f"'2020-0{1 + i % 9}-1{i % 10}', x'00');"
        for i in range(1, 25)
    ]
    return make_sqlite(tmp_path_factory.mktemp("school") / "school.sqlite", SCHOOL + "\n".join(rows))


def test_roles_keys_and_edges_of_a_real_database(school_db: Path) -> None:
    ctx = database_context(school_db, QueryRunner(timeout_s=5), random.Random(0))
    assert sorted(ctx.tables) == ["Dept", "Student"]  # the empty table is left out
    roles = {(table, c.name): c.role for table, columns in ctx.tables.items() for c in columns}
    assert roles == {
        ("Dept", "DeptCode"): "key",  # primary key, and referenced
        ("Dept", "DeptName"): "label",
        ("Dept", "Budget"): "number",
        ("Student", "StuID"): "key",
        ("Student", "LName"): "label",
        ("Student", "Major"): "key",  # a foreign key: joined on, never filtered
        ("Student", "Enrolled"): "date",
        ("Student", "Photo"): "other",  # blobs are read as NULL
    }
    assert ctx.edges == [Edge("Student", "Major", "Dept", "DeptCode")]


def test_joins_use_the_key_the_foreign_key_names(school_db: Path) -> None:
    runner = QueryRunner(timeout_s=5)
    by_name = {pattern.name: pattern for pattern in PATTERNS}
    made = by_name["join_group_count"].build(database_context(school_db, runner, random.Random(1)))
    assert made is not None
    sql = made[1]
    assert "T1.DeptCode = T2.Major" in sql and "GROUP BY T1.DeptCode" in sql
    assert runner.run(school_db, sql).ok


def test_a_pattern_the_database_cannot_serve_does_not_fit(tmp_path: Path) -> None:
    db = make_sqlite(
        tmp_path / "one.sqlite",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);INSERT INTO t VALUES (1, 'a b c'), (2, 'd e f');",
    )
    ctx = database_context(db, QueryRunner(timeout_s=5), random.Random(0))
    by_name = {pattern.name: pattern for pattern in PATTERNS}
    with pytest.raises(NoFit):
        by_name["join_filter_parent"].build(ctx)  # no foreign key
    with pytest.raises(NoFit):
        by_name["aggregate"].build(ctx)  # no number
