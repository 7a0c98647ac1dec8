"""The demo benchmark: deterministic, Spider-format, executable gold SQL, unseen dev databases."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from pathlib import Path

import pytest

from routesql.bench.demo import FEATURE_PATTERNS, allocate, sql_features, write_demo_benchmark
from routesql.bench.demo_domains import DEV_DOMAINS, TRAIN_DOMAINS
from routesql.bench.demo_questions import natural, plural
from routesql.bench.loaders import load_benchmark
from routesql.db.connect import open_readonly

ALL_DB_IDS = [d.db_id for d in (*TRAIN_DOMAINS, *DEV_DOMAINS)]
SPLITS = [("train", "train_spider.json", "train_gold.sql"), ("dev", "dev.json", "dev_gold.sql")]
OUTPUT_FILES = [
    "tables.json",
    "train_spider.json",
    "dev.json",
    "train_gold.sql",
    "dev_gold.sql",
    *(f"database/{db}/{db}.sqlite" for db in ALL_DB_IDS),
    *(f"database/{db}/schema.sql" for db in ALL_DB_IDS),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, float]:
    out = tmp_path_factory.mktemp("demo")
    start = time.perf_counter()
    summary = write_demo_benchmark(out, seed=0)
    return out, summary, time.perf_counter() - start


@pytest.fixture(scope="module")
def records(demo: tuple[Path, dict, float]) -> dict[str, list[dict]]:
    out = demo[0]
    return {split: json.loads((out / name).read_text()) for split, name, _gold in SPLITS}


def db_path(out: Path, db_id: str) -> Path:
    return out / "database" / db_id / f"{db_id}.sqlite"


# --- determinism and layout ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def second_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo_again")
    write_demo_benchmark(out, seed=0)
    return out


@pytest.mark.parametrize("relative", OUTPUT_FILES)
def test_same_seed_gives_identical_bytes(demo, second_run: Path, relative: str) -> None:
    assert (second_run / relative).read_bytes() == (demo[0] / relative).read_bytes()


def test_nothing_but_the_listed_files_is_written(demo) -> None:
    written = {p.relative_to(demo[0]).as_posix() for p in demo[0].rglob("*") if p.is_file()}
    assert written == set(OUTPUT_FILES)


def test_rewriting_into_the_same_folder_keeps_the_bytes(tmp_path: Path) -> None:
    write_demo_benchmark(tmp_path, seed=3)
    first = {name: (tmp_path / name).read_bytes() for name in OUTPUT_FILES}
    write_demo_benchmark(tmp_path, seed=3)
    assert {name: (tmp_path / name).read_bytes() for name in OUTPUT_FILES} == first
    assert not list(tmp_path.rglob("*.tmp"))


def test_another_seed_gives_other_questions(demo, tmp_path: Path) -> None:
    write_demo_benchmark(tmp_path, seed=1)
    assert (tmp_path / "dev.json").read_bytes() != (demo[0] / "dev.json").read_bytes()


def test_summary_counts_match_files_and_sizes(demo, records) -> None:
    _out, summary, _seconds = demo
    assert summary["train"] == len(records["train"]) and summary["dev"] == len(records["dev"])
    assert (summary["train_databases"], summary["dev_databases"]) == (8, 3)
    assert 1500 <= summary["train"] <= 2500
    assert 250 <= summary["dev"] <= 400


def test_generation_is_fast(demo) -> None:
    assert demo[2] < 10.0  # about 1 s on one core; the margin absorbs a busy shared machine


@pytest.mark.parametrize(("split", "json_name", "gold_name"), SPLITS)
def test_gold_file_is_aligned_with_json(demo, split: str, json_name: str, gold_name: str) -> None:
    out = demo[0]
    examples = json.loads((out / json_name).read_text())
    lines = (out / gold_name).read_text().splitlines()
    assert [line.split("\t") for line in lines] == [[e["query"], e["db_id"]] for e in examples]
    assert all(set(e) == {"db_id", "question", "query"} for e in examples)


@pytest.mark.parametrize("split", ["train", "dev"])
def test_the_benchmark_loader_reads_the_demo(demo, records, split: str) -> None:
    bench = load_benchmark(demo[0], split, fmt="demo")
    assert [(e.db_id, e.question, e.sql) for e in bench.examples] == [
        (r["db_id"], r["question"], r["query"]) for r in records[split]
    ]
    assert all(bench.db_path(db_id).is_file() for db_id in {e.db_id for e in bench.examples})


def test_dev_databases_are_not_in_training(records) -> None:
    train_dbs = {e["db_id"] for e in records["train"]}
    dev_dbs = {e["db_id"] for e in records["dev"]}
    assert train_dbs == {d.db_id for d in TRAIN_DOMAINS}
    assert dev_dbs == {d.db_id for d in DEV_DOMAINS}
    assert not train_dbs & dev_dbs


# --- gold SQL ------------------------------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "dev"])
def test_every_gold_query_returns_an_answer(demo, records, split: str) -> None:
    out = demo[0]
    by_db: dict[str, list[str]] = defaultdict(list)
    for example in records[split]:
        by_db[example["db_id"]].append(example["query"])
    for db_id, queries in by_db.items():
        conn = open_readonly(db_path(out, db_id))
        try:
            for sql in queries:
                rows = conn.execute(sql).fetchall()
                assert rows and any(v is not None for v in rows[0]), (db_id, sql)
        finally:
            conn.close()


@pytest.mark.parametrize("split", ["train", "dev"])
def test_no_duplicate_query_and_one_sql_per_question(records, split: str) -> None:
    pairs = [(e["db_id"], e["query"]) for e in records[split]]
    assert len(pairs) == len(set(pairs))
    sql_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in records[split]:
        sql_of[(e["db_id"], e["question"])].add(e["query"])
    assert all(len(queries) == 1 for queries in sql_of.values())


@pytest.mark.parametrize("split", ["train", "dev"])
def test_questions_name_their_tables_and_values_verbatim(records, split: str) -> None:
    for e in records[split]:
        question, sql = e["question"], e["query"]
        for table in re.findall(r"(?:FROM|JOIN) (\w+)", sql):
            assert natural(table) in question.lower(), (question, sql)
        for literal in re.findall(r"'((?:[^']|'')*)'", sql):
            assert literal.strip("%").replace("''", "'") in question, (question, sql)
        for number in re.findall(r"[<>=] (\d+(?:\.\d+)?)\b", sql):
            assert number in question, (question, sql)


@pytest.mark.parametrize("split", ["train", "dev"])
@pytest.mark.parametrize("feature", sorted(FEATURE_PATTERNS))
def test_each_sql_feature_appears_in_both_splits(records, split: str, feature: str) -> None:
    assert any(feature in sql_features(e["query"]) for e in records[split])


def test_all_hardness_levels_appear_in_both_splits(records) -> None:
    hardness = pytest.importorskip("routesql.sqlkit.hardness")
    for split in ("train", "dev"):
        levels = {hardness.spider_hardness(e["query"]) for e in records[split]}
        assert levels == {"easy", "medium", "hard", "extra"}, split


# --- schema: tables.json against the SQLite files ------------------------------------------------


@pytest.fixture(scope="module")
def tables_json(demo) -> dict[str, dict]:
    return {entry["db_id"]: entry for entry in json.loads((demo[0] / "tables.json").read_text())}


@pytest.mark.parametrize("db_id", ALL_DB_IDS)
def test_tables_json_matches_the_sqlite_file(demo, tables_json, db_id: str) -> None:
    entry = tables_json[db_id]
    conn = open_readonly(db_path(demo[0], db_id))
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid"
            )
        ]
        assert entry["table_names_original"] == tables
        assert 3 <= len(tables) <= 5
        columns, primary, foreign = [[-1, "*"]], [], []
        for t_index, table in enumerate(tables):
            for _cid, name, _type, _notnull, _default, pk in conn.execute(
                f"PRAGMA table_info({table})"
            ):
                if pk:
                    primary.append(len(columns))
                columns.append([t_index, name])
        position = {(tables[t], name): i for i, (t, name) in enumerate(columns) if t >= 0}
        for table in tables:
            for row in conn.execute(f"PRAGMA foreign_key_list({table})"):
                foreign.append([position[(table, row[3])], position[(row[2], row[4])]])
        assert entry["column_names_original"] == columns
        assert entry["primary_keys"] == primary
        assert sorted(entry["foreign_keys"]) == sorted(foreign) and foreign
        assert len(entry["column_types"]) == len(columns)
        assert entry["column_names"] == [
            [t, n if t < 0 else n.replace("_", " ")] for t, n in columns
        ]
    finally:
        conn.close()


@pytest.mark.parametrize("db_id", ALL_DB_IDS)
def test_foreign_keys_hold_and_tables_have_rows(demo, db_id: str) -> None:
    conn = open_readonly(db_path(demo[0], db_id))
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        for (table,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        ).fetchall():
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= 10
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("db_id", "column", "spider_type"),
    [
        ("company_hr", "hire_date", "time"),
        ("company_hr", "salary", "number"),
        ("library", "price", "number"),
        ("museum", "title", "text"),
        ("car_rental", "id", "number"),
    ],
)
def test_column_types_follow_declared_types(
    tables_json, db_id: str, column: str, spider_type: str
) -> None:
    entry = tables_json[db_id]
    index = next(i for i, (_t, name) in enumerate(entry["column_names_original"]) if name == column)
    assert entry["column_types"][index] == spider_type


# --- helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "present", "absent"),
    [
        ("SELECT name FROM t WHERE age BETWEEN 3 AND 9", {"between"}, {"and", "greater"}),
        ("SELECT name FROM t WHERE a = 'x' AND b > 3", {"and", "equals", "greater"}, {"or"}),
        (
            "SELECT T1.a FROM p AS T1 JOIN c AS T2 ON T1.id = T2.p_id WHERE T2.x = 'y' INTERSECT "
            "SELECT T1.a FROM p AS T1 JOIN c AS T2 ON T1.id = T2.p_id WHERE T2.x = 'z'",
            {"join_2", "intersect"},
            {"join_3"},
        ),
        (
            "SELECT a FROM x AS T1 JOIN y AS T2 ON T1.y_id = T2.id JOIN z AS T3 ON T2.z_id = T3.id",
            {"join_2", "join_3"},
            set(),
        ),
        ("SELECT name FROM t WHERE name NOT LIKE '%ab%'", {"not"}, {"like"}),
        (
            "SELECT name FROM p WHERE id NOT IN (SELECT p_id FROM c)",
            {"not", "not_in_subquery"},
            {"in_list"},
        ),
        ("SELECT name FROM t WHERE x > (SELECT avg(x) FROM t)", {"nested_scalar", "avg"}, {"not"}),
        ("SELECT city FROM t WHERE city != 'Lyon'", {"not_equals"}, {"equals"}),
    ],
)
def test_sql_features(sql: str, present: set[str], absent: set[str]) -> None:
    found = sql_features(sql)
    assert present <= found and not (absent & found)


@pytest.mark.parametrize(
    ("weights", "total", "expected"),
    [
        ({"a": 1, "b": 1}, 4, {"a": 2, "b": 2}),
        ({"a": 1, "b": 2}, 10, {"a": 3, "b": 7}),
        ({"a": 1, "b": 1, "c": 1}, 2, {"a": 1, "b": 1, "c": 0}),
    ],
)
def test_allocate_splits_by_weight(weights: dict, total: int, expected: dict) -> None:
    assert allocate(weights, total) == expected


@pytest.mark.parametrize(
    ("identifier", "natural_name", "plural_name"),
    [
        ("employee", "employee", "employees"),
        ("hire_date", "hire date", "hire dates"),
        ("coach", "coach", "coaches"),
        ("branch", "branch", "branches"),
        ("dish", "dish", "dishes"),
        ("category", "category", "categories"),
        ("day", "day", "days"),
    ],
)
def test_natural_and_plural_names(identifier: str, natural_name: str, plural_name: str) -> None:
    assert natural(identifier) == natural_name
    assert plural(identifier) == plural_name
