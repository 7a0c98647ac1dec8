"""The demo benchmark: deterministic, Spider-format, executable gold SQL, unseen dev databases."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import time
from collections import defaultdict
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite

from routesql.bench.demo import allocate, write_demo_benchmark
from routesql.bench.demo_domains import DEV_DOMAINS, TRAIN_DOMAINS, DomainSpec
from routesql.bench.demo_variants import (
    COINED_PAIRS_PER_DB,
    DEFAULT_COINED_VARIANTS,
    DEFAULT_TRAIN_VARIANTS,
    coined_variants,
    coined_word,
    column_key,
    dev_vocabulary,
    draw_names,
    is_allowed,
    variant_domains,
)
from routesql.bench.demo_words import COLUMN_WORDS, TABLE_WORDS
from routesql.bench.loaders import load_benchmark
from routesql.db.connect import open_readonly
from routesql.errors import InputError
from routesql.questions.words import natural_name, plural

FEATURE_PATTERNS = {
    "select_star": r"SELECT \*",
    "distinct": r"\bDISTINCT\b",
    "equals": r"[^!<>]= ",
    "not_equals": r"!=",
    "greater": r" > ",
    "less": r" < ",
    "like": r"(?<!NOT) LIKE '%",
    "between": r"\bBETWEEN\b",
    "in_list": r"\bIN \('",
    "and": r"\bAND\b",
    "or": r"\bOR\b",
    "not": r"\bNOT (IN|LIKE)\b",
    "count": r"\bcount\(",
    "sum": r"\bsum\(",
    "avg": r"\bavg\(",
    "min": r"\bmin\(",
    "max": r"\bmax\(",
    "group_by": r"\bGROUP BY\b",
    "having": r"\bHAVING\b",
    "order_by": r"\bORDER BY\b",
    "limit": r"\bLIMIT\b",
    "join_2": r"\bJOIN\b",
    "join_3": r"\bJOIN\b[^()]*\bJOIN\b",
    "nested_scalar": r"[<>] \(SELECT",
    "not_in_subquery": r"NOT IN \(SELECT",
    "intersect": r"\bINTERSECT\b",
    "union": r"\bUNION\b",
    "except": r"\bEXCEPT\b",
}


def sql_features(sql: str) -> set[str]:
    """The names of FEATURE_PATTERNS that occur in one gold query of the demo's canonical style."""
    # BETWEEN's AND is no connective, and a JOIN in each half of an INTERSECT is no 3-table join.
    parts = re.split(r" (?:INTERSECT|UNION|EXCEPT) ", re.sub(r"BETWEEN (\S+) AND", r"BETWEEN \1", sql))
    return {name for name, pattern in FEATURE_PATTERNS.items() if any(re.search(pattern, p) for p in parts)} | {
        name for name in ("intersect", "union", "except") if re.search(FEATURE_PATTERNS[name], sql)
    }


VARIANTS = variant_domains(DEFAULT_TRAIN_VARIANTS, seed=0)
VARIANT_DB_IDS = [d.db_id for d in VARIANTS]
COINED = coined_variants(DEFAULT_COINED_VARIANTS, seed=0)
COINED_DB_IDS = [d.db_id for d in COINED]
ALL_DB_IDS = [d.db_id for d in (*TRAIN_DOMAINS, *VARIANTS, *COINED, *DEV_DOMAINS)]
DEV_FILES = [
    "dev.json",
    "dev_gold.sql",
    *(f"database/{d.db_id}/{d.db_id}.sqlite" for d in DEV_DOMAINS),
    *(f"database/{d.db_id}/schema.sql" for d in DEV_DOMAINS),
]
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
    assert (summary["train_databases"], summary["dev_databases"]) == (248, 3)
    assert summary["train_variants"] == DEFAULT_TRAIN_VARIANTS == 40
    assert summary["coined_variants"] == DEFAULT_COINED_VARIANTS == 200
    assert 9000 <= summary["train"] <= 11000
    assert 250 <= summary["dev"] <= 400


def test_generation_is_fast(demo) -> None:
    assert demo[2] < 20.0  # about 4.5 s on one core; the margin absorbs a busy shared machine


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
    assert train_dbs == {d.db_id for d in (*TRAIN_DOMAINS, *VARIANTS, *COINED)}
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
            mentions = (natural_name(table), plural(table))  # "duty" is not in "duties"
            assert any(m in question.lower() for m in mentions), (question, sql)
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
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]
        assert entry["table_names_original"] == tables
        assert 3 <= len(tables) <= 5
        columns, primary, foreign = [[-1, "*"]], [], []
        for t_index, table in enumerate(tables):
            for _cid, name, _type, _notnull, _default, pk in conn.execute(f"PRAGMA table_info({table})"):
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
        assert entry["column_names"] == [[t, n if t < 0 else n.replace("_", " ")] for t, n in columns]
    finally:
        conn.close()


@pytest.mark.parametrize("db_id", ALL_DB_IDS)
def test_foreign_keys_hold_and_tables_have_rows(demo, db_id: str) -> None:
    conn = open_readonly(db_path(demo[0], db_id))
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
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
def test_column_types_follow_declared_types(tables_json, db_id: str, column: str, spider_type: str) -> None:
    entry = tables_json[db_id]
    index = next(i for i, (_t, name) in enumerate(entry["column_names_original"]) if name == column)
    assert entry["column_types"][index] == spider_type


# --- renamed training variants ------------------------------------------------------------------


def dev_identifier_words() -> set[str]:
    """Words of the dev identifiers, worked out here independently of `dev_vocabulary`."""
    words = set()
    for domain in DEV_DOMAINS:
        names = [domain.db_id, *(t.name for t in domain.tables)]
        names += [c.name for t in domain.tables for c in t.columns]
        words |= {w for name in names for w in name.split("_")}
    return words - {"id"}


def test_variant_identifiers_share_no_word_with_dev(tables_json) -> None:
    dev_words = dev_identifier_words()
    assert {"restaurant", "chef", "dish", "museum", "artwork", "car", "rental", "name"} <= dev_words
    for db_id in VARIANT_DB_IDS:
        entry = tables_json[db_id]
        names = entry["table_names_original"] + [n for _t, n in entry["column_names_original"]]
        for name in names:
            for word in name.split("_"):
                forms = {word, word + "s", word + "es", word.removesuffix("s")}
                assert word == "id" or not forms & dev_words, (db_id, name)


@pytest.mark.parametrize(
    ("word", "excluded"),
    [
        ("restaurant", True),
        ("dishes", True),  # the plural of a dev table
        ("day", True),  # the singular of the dev column "days"
        ("visitor", True),
        ("name", True),
        ("id", False),  # the key convention is shared on purpose
        ("teacher", False),
        ("tome", False),
    ],
)
def test_dev_vocabulary(word: str, excluded: bool) -> None:
    assert (word in dev_vocabulary()) is excluded


@pytest.mark.parametrize(("candidate", "allowed"), [("pay", True), ("seat_count", False)])
def test_is_allowed_checks_every_word(candidate: str, allowed: bool) -> None:
    assert is_allowed(candidate, dev_vocabulary()) is allowed


@pytest.mark.parametrize("seed", range(5))
def test_drawing_skips_excluded_words(seed: int) -> None:
    school, pool = TRAIN_DOMAINS[0], TABLE_WORDS["teacher"]
    tables, _columns = draw_names(school, "x", random.Random(seed), frozenset(pool[1:]))
    assert tables["teacher"] == pool[0]


def test_drawing_with_every_word_excluded_is_an_input_error() -> None:
    with pytest.raises(InputError, match="teacher"):
        draw_names(TRAIN_DOMAINS[0], "x", random.Random(0), frozenset(TABLE_WORDS["teacher"]))


@pytest.mark.parametrize("variant", [*VARIANTS, *COINED[:40]], ids=[*VARIANT_DB_IDS, *COINED_DB_IDS[:40]])
def test_variant_renames_consistently(variant: DomainSpec) -> None:
    base = next(d for d in TRAIN_DOMAINS if re.fullmatch(re.escape(d.db_id) + r"_[vc]\d+", variant.db_id))
    renamed = {old.name: new.name for old, new in zip(base.tables, variant.tables, strict=True)}
    assert len(set(renamed.values())) == len(renamed)
    for old_table, new_table in zip(base.tables, variant.tables, strict=True):
        assert new_table.name != old_table.name and 10 <= new_table.rows <= 80
        names = [c.name for c in new_table.columns]
        assert len(set(names)) == len(names) and names[0] == "id"
        for old, new in zip(old_table.columns, new_table.columns, strict=True):
            assert (new.role, new.sql_type, new.gen) == (old.role, old.sql_type, old.gen)
            if old.references is not None:
                assert new.references == renamed[old.references]
                assert new.name == f"{renamed[old.references]}_id"
            elif old.role != "id":
                assert new.name != old.name and not new.name.endswith("_id")


def test_variant_schemas_are_distinct_and_stable() -> None:
    assert len({tuple(t.name for t in v.tables) for v in VARIANTS}) == len(VARIANTS)
    assert VARIANT_DB_IDS[:9] == [*(f"{d.db_id}_v1" for d in TRAIN_DOMAINS), "school_v2"]
    assert variant_domains(10, seed=0) == VARIANTS[:10]  # variant k does not depend on the count
    assert variant_domains(10, seed=1) != VARIANTS[:10]


@pytest.mark.parametrize("count", [-1, 2.5, True, "3"])
def test_bad_variant_count_is_an_input_error(count: object) -> None:
    with pytest.raises(InputError, match="train_variants"):
        variant_domains(count)  # type: ignore[arg-type]


def test_each_variant_database_has_answering_pairs(demo, records) -> None:
    by_db: dict[str, list[str]] = defaultdict(list)
    for example in records["train"]:
        by_db[example["db_id"]].append(example["query"])
    for db_id in VARIANT_DB_IDS:
        assert 60 <= len(by_db[db_id]) <= 100, db_id
        conn = open_readonly(db_path(demo[0], db_id))
        try:
            assert all(conn.execute(sql).fetchall() for sql in by_db[db_id]), db_id
        finally:
            conn.close()


def test_variant_sql_names_only_its_own_tables_and_columns(records, tables_json) -> None:
    seen_tables: set[str] = set()
    for example in records["train"]:
        if example["db_id"] not in VARIANT_DB_IDS:
            continue
        entry = tables_json[example["db_id"]]
        tables = set(entry["table_names_original"])
        columns = {name for _t, name in entry["column_names_original"]}
        tree = sqlglot.parse_one(example["query"], read="sqlite")
        used = {t.name for t in tree.find_all(exp.Table)}
        assert used and used <= tables, example
        assert {c.name for c in tree.find_all(exp.Column)} <= columns, example
        seen_tables |= used
    originals = {t.name for d in TRAIN_DOMAINS for t in d.tables}
    assert len(seen_tables) >= 100 and not seen_tables & originals


def test_dev_and_original_train_do_not_depend_on_variants(demo, records, tmp_path: Path) -> None:
    summary = write_demo_benchmark(tmp_path, seed=0, train_variants=0, coined=0)
    assert (summary["train_databases"], summary["train_variants"], summary["coined_variants"]) == (8, 0, 0)
    for relative in DEV_FILES:
        assert (tmp_path / relative).read_bytes() == (demo[0] / relative).read_bytes(), relative
    alone = json.loads((tmp_path / "train_spider.json").read_text())
    assert alone == records["train"][: len(alone)] and 1500 <= len(alone) <= 2500


@pytest.mark.parametrize("pool", sorted(TABLE_WORDS))
def test_table_words_have_regular_plurals_and_articles(pool: str) -> None:
    for word in TABLE_WORDS[pool]:
        assert not word.endswith(("f", "fe", "z", "man", "child", "craft")), word
        assert not re.search(r"[^aeiou]o$", word), word  # "heros"
        assert not re.match(r"u[^n]|uni|eu|one|hour|honou?r", word), word  # "an unit", "a hour"


def test_word_pools_cover_every_training_identifier_with_usable_words() -> None:
    excluded = dev_vocabulary()
    for domain in TRAIN_DOMAINS:
        for spec in domain.tables:
            assert sum(is_allowed(w, excluded) for w in TABLE_WORDS[spec.name]) >= 4, spec.name
            for column in spec.columns:
                if column.role not in ("id", "fk"):
                    pool = COLUMN_WORDS[column_key(column)]
                    assert sum(is_allowed(w, excluded) for w in pool) >= 3, column.name


def test_words_are_plain_identifiers_and_no_sql_keywords() -> None:
    keywords = {k.lower() for k in SQLite.Tokenizer.KEYWORDS}
    words = {w for pool in (*TABLE_WORDS.values(), *COLUMN_WORDS.values()) for w in pool}
    conn = sqlite3.connect(":memory:")
    try:
        for word in sorted(words):
            assert re.fullmatch(r"[a-z]+(_[a-z]+)*", word) and not word.endswith("_id"), word
            assert word not in keywords, word
            conn.execute(f"CREATE TABLE {word} (id INTEGER PRIMARY KEY, {word} TEXT)")
            conn.execute(f"SELECT T1.{word} FROM {word} AS T1 ORDER BY {word} DESC")
    finally:
        conn.close()


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


# --- coined-name variants ------------------------------------------------------------------------


def test_coined_names_are_fresh_words_that_no_dev_or_sql_word_shares() -> None:
    from routesql.db.schema import SQLITE_KEYWORDS

    excluded = dev_vocabulary()
    table_uses: dict[str, int] = defaultdict(int)
    for variant in COINED:
        for table in variant.tables:
            table_uses[table.name] += 1
            for name in [table.name, *(c.name for c in table.columns)]:
                assert re.fullmatch(r"[a-z]+(_[a-z]+)?", name), name
                assert name.upper() not in SQLITE_KEYWORDS and is_allowed(name, excluded), name
    # 200 databases x 4 tables: a name that comes back in many databases could be memorised
    assert max(table_uses.values()) <= 3 and len(table_uses) >= 700


@pytest.mark.parametrize("seed", range(20))
def test_coined_words_are_pronounceable_with_regular_plurals(seed: int) -> None:
    word = coined_word(random.Random(seed))
    assert re.fullmatch(r"(([bdfgklmnprtvz]|br|dr|gr|kl|pl|st|tr)[aeiou][nrlm]?){1,3}", word), word
    assert plural(word) == word + "s"


def test_coined_variants_are_stable_and_answerable(demo, records) -> None:
    assert coined_variants(10, seed=0) == COINED[:10]
    assert COINED_DB_IDS[:9] == [*(f"{d.db_id}_c1" for d in TRAIN_DOMAINS), "school_c2"]
    by_db: dict[str, int] = defaultdict(int)
    for example in records["train"]:
        by_db[example["db_id"]] += 1
    assert all(COINED_PAIRS_PER_DB * 0.6 <= by_db[db_id] <= COINED_PAIRS_PER_DB for db_id in COINED_DB_IDS)


@pytest.mark.parametrize("count", [-1, 2.5, True])
def test_bad_coined_count_is_an_input_error(count: object) -> None:
    with pytest.raises(InputError, match="coined_variants"):
        coined_variants(count)  # type: ignore[arg-type]
