"""Strong synthesis: sampled SQL executes with rows, covers every SQL family, is deterministic,
stays clear of benchmark queries, and its questions name the values it filters on."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from routesql.bench.example import Benchmark, Example
from routesql.bench.loaders import load_benchmark
from routesql.db.execute import QueryRunner
from routesql.llm.generator import GenerationSettings
from routesql.questions.context import NoFit, worth_learning
from routesql.questions.database import database_context
from routesql.questions.patterns import PATTERNS, Pattern
from routesql.synth.openai_questions import EndpointQuestionWriter, first_line
from routesql.synth.strong import SyntheticPair, normalize_sql, sample_strong_pairs, synthesize_strong
from support import make_sqlite

# The SQL feature each pattern exercises; sampling must cover every family.
PATTERN_FAMILY: dict[str, str] = {
    **dict.fromkeys(
        (
            "select_column",
            "select_two_columns",
            "select_star",
            "select_distinct",
            "where_filter",
            "where_not_equal",
            "where_like",
            "where_not_like",
            "where_between",
            "where_in",
            "where_and",
            "where_or",
        ),
        "selection",
    ),
    **dict.fromkeys(("order_superlative", "top_k", "sorted_list", "where_superlative"), "order_limit"),
    **dict.fromkeys(
        ("count_all", "count_where", "count_distinct", "aggregate", "aggregate_where", "max_and_min"), "aggregate"
    ),
    **dict.fromkeys(
        ("group_count", "group_aggregate", "group_where_count", "having_count", "having_average", "most_common"),
        "group_by",
    ),
    **dict.fromkeys(
        (
            "join_filter_parent",
            "join_filter_child",
            "join_show_both",
            "join_group_count",
            "join_group_aggregate",
            "join_most",
            "join_having",
            "join_aggregate_filter",
            "join_count_filter",
            "join_superlative_filter",
            "join_three_tables",
        ),
        "join",
    ),
    **dict.fromkeys(
        (
            "above_average",
            "above_average_filtered",
            "parents_without_children",
            "parents_without_children_two_columns",
        ),
        "nesting",
    ),
    **dict.fromkeys(
        ("intersect_values", "union_rows", "except_values", "intersect_join", "except_join"), "set_operation"
    ),
}
FAMILIES = sorted(set(PATTERN_FAMILY.values()))
CITIES = ("Lyon", "Oslo", "Porto", "Quito")
CATEGORIES = ("tools", "toys", "books")
STATUSES = ("shipped", "open", "returned")


def _shop_script() -> str:
    """Customers, products and orders (a keyword-named table that needs quoting), plus an empty
    table the sampler must ignore."""
    lines = [
        "CREATE TABLE customer (id INTEGER PRIMARY KEY, fullName TEXT, city TEXT, age INTEGER, since TEXT);",
        "CREATE TABLE product (id INTEGER PRIMARY KEY, product_name TEXT, price REAL, category TEXT);",
        'CREATE TABLE "order" (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer(id), '
        "product_id INTEGER REFERENCES product(id), amount REAL, status TEXT);",
        "CREATE TABLE archive (id INTEGER PRIMARY KEY, note TEXT);",
    ]
    for i in range(1, 13):
        since = f"20{10 + i}-0{1 + i % 9}-1{i % 10}"
        lines.append(
            f"INSERT INTO customer VALUES ({i}, 'Person O''Neil {i}', '{CITIES[i % 4]}', {20 + 3 * i}, '{since}');"
        )
    for i in range(1, 9):
        name = f"Gadget {i} deluxe" if i % 2 else f"Widget {i} basic"
        lines.append(f"INSERT INTO product VALUES ({i}, '{name}', {i * 2.5}, '{CATEGORIES[i % 3]}');")
    for i in range(1, 31):
        # Customers 11 and 12 and product 8 never order, so NOT IN has answers.
        lines.append(f"INSERT INTO \"order\" VALUES ({i}, {1 + i % 10}, {1 + i % 7}, {i * 1.5}, '{STATUSES[i % 3]}');")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sqlite(tmp_path_factory.mktemp("shop") / "shop" / "shop.sqlite", _shop_script())


@pytest.fixture(scope="module")
def shop_pairs(shop_db: Path) -> list[SyntheticPair]:
    return sample_strong_pairs(shop_db, "shop", 66, random.Random(7), QueryRunner(timeout_s=5))


def _shop_bench(shop_db: Path) -> Benchmark:
    examples = [Example("shop/train/0", "shop", "How many customers?", "SELECT count(*) FROM customer")]
    return Benchmark("spider", "train", examples, shop_db.parent.parent)


def _has_non_null_rows(db: Path, sql: str) -> bool:
    result = QueryRunner(timeout_s=5).run(db, sql)
    assert result.ok, f"{sql}: {result.error}"
    return any(value is not None for row in result.rows or () for value in row)


def _filter_literals(sql: str) -> list[str]:
    """The literal values a question must mention: all literals except LIMIT counts."""
    tree = sqlglot.parse_one(sql, read="sqlite")
    literals = []
    for literal in tree.find_all(exp.Literal):
        if literal.find_ancestor(exp.Limit) is None:
            literals.append(literal.this.strip("%"))
    return literals


# --- names and normalisation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("SELECT name FROM t WHERE x = 'a';", 'select  name\nfrom t where x = "a"', True),
        ("SELECT count(*) FROM t", "SELECT count ( * ) FROM t ;", True),
        ("SELECT a , b FROM t", "SELECT a,b FROM t", True),
        ("SELECT a FROM t WHERE x = 'a'", "SELECT a FROM t WHERE x = 'b'", False),
        ("SELECT a FROM t", "SELECT b FROM t", False),
        ("SELECT a FROM t WHERE c = 'Lyon'", "select a from t where c = 'LYON'", False),
        ('SELECT a FROM t WHERE c = "O\'Neil"', "SELECT a FROM t WHERE c = 'O''Neil'", True),
        ("SELECT a FROM t WHERE c = 'a  b'", "SELECT a FROM t WHERE c = 'a b'", False),
    ],
)
def test_normalize_sql(a: str, b: str, same: bool) -> None:
    assert (normalize_sql(a) == normalize_sql(b)) is same


# --- sampling ------------------------------------------------------------------------------------


def test_every_kept_pair_executes_and_returns_rows(shop_db: Path, shop_pairs: list[SyntheticPair]) -> None:
    assert len(shop_pairs) == 66
    for pair in shop_pairs:
        assert _has_non_null_rows(shop_db, pair.sql), pair.sql


@pytest.mark.parametrize("family", FAMILIES)
def test_patterns_cover_every_family(shop_pairs: list[SyntheticPair], family: str) -> None:
    assert any(PATTERN_FAMILY[pair.pattern] == family for pair in shop_pairs)


def test_every_pattern_has_a_family() -> None:
    assert set(PATTERN_FAMILY) == {pattern.name for pattern in PATTERNS}


def _built(db: Path, pattern: Pattern, draws: int = 40) -> list[tuple[str, str]]:
    """What `pattern` makes of the database in `draws` seeded draws, kept when it answers."""
    runner = QueryRunner(timeout_s=5)
    made = []
    for seed in range(draws):
        try:
            pair = pattern.build(database_context(db, runner, random.Random(seed)))
        except NoFit:
            continue
        if pair is not None:
            result = runner.run(db, pair[1])
            assert result.ok, f"{pattern.name}: {pair[1]}: {result.error}"
            if worth_learning(result.rows or []):
                made.append(pair)
    return made


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda pattern: pattern.name)
def test_every_pattern_applies_to_the_shop(shop_db: Path, pattern: Pattern) -> None:
    """camelCase columns, a keyword-named table, a REAL price: every shape still runs and answers."""
    assert _built(shop_db, pattern), f"{pattern.name} made nothing that answers on the shop"


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        ("join_filter_parent", " JOIN "),
        ("join_three_tables", " AS T3 "),
        ("above_average", "(SELECT avg("),
        ("parents_without_children", "NOT IN (SELECT"),
        ("intersect_values", " INTERSECT "),
        ("union_rows", " UNION "),
        ("except_values", " EXCEPT "),
        ("having_count", "HAVING count(*) "),
        ("where_like", " LIKE '%"),
        ("where_between", " BETWEEN "),
        ("top_k", " LIMIT "),
    ],
)
def test_pattern_sql_has_its_shape(shop_db: Path, pattern: str, needle: str) -> None:
    by_name = {p.name: p for p in PATTERNS}
    sqls = [sql for _, sql in _built(shop_db, by_name[pattern], draws=10)]
    assert sqls and all(needle in sql for sql in sqls)


def test_keyword_table_is_quoted(shop_pairs: list[SyntheticPair]) -> None:
    uses_order = [pair.sql for pair in shop_pairs if "order" in pair.sql.replace("ORDER BY", "")]
    assert uses_order and all('"order"' in sql for sql in uses_order)


def test_empty_table_is_never_used(shop_pairs: list[SyntheticPair]) -> None:
    assert not any("archive" in pair.sql for pair in shop_pairs)


def test_sum_and_avg_only_on_numeric_columns(shop_pairs: list[SyntheticPair]) -> None:
    numeric = {"age", "price", "amount"}
    for pair in shop_pairs:
        for node in sqlglot.parse_one(pair.sql, read="sqlite").find_all(exp.Sum, exp.Avg):
            assert node.this.name in numeric, pair.sql


def test_questions_mention_the_values_in_the_sql(shop_pairs: list[SyntheticPair]) -> None:
    checked = 0
    for pair in shop_pairs:
        for value in _filter_literals(pair.sql):
            assert value in pair.question, (pair.sql, pair.question)
            checked += 1
    assert checked > 30


def test_questions_use_natural_names(shop_pairs: list[SyntheticPair]) -> None:
    text = " ".join(pair.question for pair in shop_pairs)
    assert "full name" in text and "fullName" not in text and "product_name" not in text


def test_same_seed_gives_the_same_pairs(shop_db: Path) -> None:
    def run(seed: int) -> list[SyntheticPair]:
        return sample_strong_pairs(shop_db, "shop", 25, random.Random(seed), QueryRunner(timeout_s=5))

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_paraphrases_vary(shop_pairs: list[SyntheticPair]) -> None:
    openings = Counter(pair.question.split(" ")[0] for pair in shop_pairs)
    assert len(openings) >= 5


# --- every database, deduplication ---------------------------------------------------------------


def test_dedup_against_benchmark_removes_an_injected_duplicate(shop_db: Path) -> None:
    bench = _shop_bench(shop_db)
    pairs, _ = synthesize_strong(bench, avoid=[], per_db=20, seed=1)
    victim = next(pair.sql for pair in pairs if "= '" in pair.sql and "''" not in pair.sql)
    # The benchmark spells it differently: keyword case, quotes, spacing and a semicolon.
    injected = re.sub(r"\b(SELECT|FROM|WHERE|AS|JOIN|ON)\b", lambda m: m.group(0).lower(), victim)
    injected = injected.replace("'", '"').replace(" ", "  ") + " ;"
    assert injected != victim
    again, stats = synthesize_strong(bench, avoid=[injected], per_db=20, seed=1)
    assert victim not in {pair.sql for pair in again}
    assert stats["dropped"]["duplicate_of_benchmark"] >= 1
    assert len({normalize_sql(pair.sql) for pair in again}) == len(again)


def test_stats_account_for_every_generated_query(shop_db: Path) -> None:
    bench = _shop_bench(shop_db)
    missing = Example("gone/train/0", "gone", "q", "SELECT 1")
    bench = Benchmark("spider", "train", [*bench.examples, missing], bench.database_dir)
    pairs, stats = synthesize_strong(bench, avoid=[], per_db=15, seed=0)
    assert (stats["databases"], stats["databases_missing"]) == (1, 1)
    assert stats["kept"] == len(pairs) == 15
    assert stats["generated"] == stats["kept"] + sum(stats["dropped"].values())


def test_workers_do_not_change_the_result(shop_db: Path, tmp_path: Path) -> None:
    make_sqlite(tmp_path / "shop2" / "shop2.sqlite", _shop_script())
    examples = [Example("a", "shop", "q", "SELECT 1"), Example("b", "shop2", "q", "SELECT 1")]
    one = Benchmark("spider", "train", examples[:1], shop_db.parent.parent)
    both = Benchmark("spider", "train", examples, tmp_path)
    (tmp_path / "shop").symlink_to(shop_db.parent)
    serial, _ = synthesize_strong(both, avoid=[], per_db=8, seed=2, workers=1)
    parallel, _ = synthesize_strong(both, avoid=[], per_db=8, seed=2, workers=2)
    alone, _ = synthesize_strong(one, avoid=[], per_db=8, seed=2)
    assert serial == parallel
    assert [p for p in serial if p.db_id == "shop"] == alone


def test_real_spider_databases(spider_dir: Path) -> None:
    train = load_benchmark(spider_dir, "train")
    dev = load_benchmark(spider_dir, "dev")
    wanted = {"college_2", "flight_4", "hr_1", "wine_1", "customers_and_invoices"}
    subset = Benchmark(train.name, "train", [e for e in train.examples if e.db_id in wanted], train.database_dir)
    avoid = [e.sql for e in train.examples + dev.examples]
    pairs, stats = synthesize_strong(subset, avoid, per_db=20, seed=0)
    assert stats["databases"] == 5 and len(pairs) >= 95
    benchmark_keys = {normalize_sql(sql) for sql in avoid}
    for pair in pairs:
        assert normalize_sql(pair.sql) not in benchmark_keys
        assert _has_non_null_rows(train.db_path(pair.db_id), pair.sql), pair.sql
    assert {PATTERN_FAMILY[pair.pattern] for pair in pairs} == set(FAMILIES)


def test_demo_benchmark(tmp_path: Path) -> None:
    demo = pytest.importorskip("routesql.bench.demo")
    demo.write_demo_benchmark(tmp_path / "demo", 0)
    train = load_benchmark(tmp_path / "demo", "train")
    pairs, stats = synthesize_strong(train, [e.sql for e in train.examples], per_db=25, seed=0)
    assert stats["kept"] >= 0.9 * 25 * stats["databases"]
    assert {PATTERN_FAMILY[pair.pattern] for pair in pairs} == set(FAMILIES)
    for pair in pairs[::7]:
        assert _has_non_null_rows(train.db_path(pair.db_id), pair.sql), pair.sql


# --- questions from an endpoint ------------------------------------------------------------------


class ScriptedQuestionGenerator:
    """A deterministic Generator: answers 'Question: ...' naming the SQL's table, or nothing for
    SQL that mentions `silent`; records every call so batching can be checked."""

    def __init__(self, silent: str) -> None:
        self.silent = silent
        self.calls: list[tuple[list[str], GenerationSettings]] = []

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        self.calls.append((prompts, settings))
        outputs = []
        for prompt in prompts:
            sql = prompt.split("SQL:\n", 1)[1].split("\n", 1)[0]
            text = "" if self.silent in sql else f"  Question: Which rows does {len(sql)} mean?\nextra"
            outputs.append([text] * settings.n)
        return outputs


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("Question: How many pets?\nmore", "How many pets?"),
        ('\n  "Which owners live in Lyon?"', "Which owners live in Lyon?"),
        ("   \n\n", ""),
        ("q: What is the age?", "What is the age?"),
    ],
)
def test_first_line(completion: str, expected: str) -> None:
    assert first_line(completion) == expected


def test_endpoint_writer_replaces_questions_in_one_batch(shop_pairs: list[SyntheticPair]) -> None:
    generator = ScriptedQuestionGenerator(silent="UNION")
    writer = EndpointQuestionWriter(generator, GenerationSettings(n=4, max_new_tokens=64))
    pairs = shop_pairs[:20]
    rewritten = writer.write_questions(pairs, {"shop": "CREATE TABLE customer (id INTEGER);"})
    assert len(generator.calls) == 1 and len(generator.calls[0][0]) == len(pairs)
    assert generator.calls[0][1].n == 1
    assert "CREATE TABLE customer" in generator.calls[0][0][0] and pairs[0].sql in generator.calls[0][0][0]
    for old, new in zip(pairs, rewritten):
        expected = old.question if "UNION" in old.sql else f"Which rows does {len(old.sql)} mean?"
        assert new == SyntheticPair(old.db_id, expected, old.sql, old.pattern)


def test_synthesize_strong_with_question_writer(shop_db: Path) -> None:
    generator = ScriptedQuestionGenerator(silent="UNION")
    pairs, stats = synthesize_strong(
        _shop_bench(shop_db), [], per_db=22, seed=0, question_writer=EndpointQuestionWriter(generator)
    )
    from_endpoint = sum(pair.question.startswith("Which rows does") for pair in pairs)
    assert stats["questions_from_endpoint"] == from_endpoint == sum("UNION" not in p.sql for p in pairs)
    assert "CREATE TABLE customer" in generator.calls[0][0][0]
