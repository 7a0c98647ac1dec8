import pytest

from routesql.metrics.exec_match import (
    bird_rows_match,
    prepare_spider,
    remove_distinct,
    spider_order_matters,
    spider_rows_match,
)

# (gold rows, predicted rows, order matters, expected verdict)
SPIDER_CASES = [
    ([], [], False, True),
    ([], [(1,)], False, False),
    ([(1,), (2,)], [(2,), (1,)], False, True),  # order ignored without ORDER BY
    ([(1,), (2,)], [(2,), (1,)], True, False),  # order significant with ORDER BY
    ([(1,), (1,), (2,)], [(1,), (2,), (2,)], False, False),  # multisets, not sets
    ([(1,), (2,)], [(1,), (2,), (2,)], False, False),
    ([("a", 1)], [(1, "a")], False, True),  # columns may be permuted
    ([("a", 1), ("b", 2)], [(1, "a"), (2, "b")], True, True),
    ([("a", 1), ("b", 2)], [(1, "b"), (2, "a")], False, False),
    ([(1, 1, 2)], [(1, 2, 1)], False, True),
    ([(1,)], [(1, 1)], False, False),  # different widths
    ([(1,)], [(1.0,)], False, True),  # 1 == 1.0 as in Python
    ([(None,)], [(None,)], False, True),  # NULLs compare equal
    ([(None,)], [(0,)], False, False),
    ([("x", "y", "z", "w")], [("w", "z", "y", "x")], False, True),  # wide rows permuted
    ([(1, 2, 3, 4), (5, 6, 7, 8)], [(1, 2, 4, 3), (5, 6, 7, 8)], False, False),
]


@pytest.mark.parametrize(("gold", "pred", "order", "expected"), SPIDER_CASES)
def test_spider_denotation_equality(gold, pred, order, expected) -> None:
    assert spider_rows_match(gold, pred, order) is expected


# (gold rows, predicted rows, expected) — BIRD compares sets of rows, column order significant
BIRD_CASES = [
    ([(1,), (2,)], [(2,), (1,)], True),
    ([(1,), (1,)], [(1,)], True),
    ([("a", 1)], [(1, "a")], False),
    ([], [], True),
    ([(1,)], [], False),
]


@pytest.mark.parametrize(("gold", "pred", "expected"), BIRD_CASES)
def test_bird_set_equality(gold, pred, expected) -> None:
    assert bird_rows_match(gold, pred) is expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT DISTINCT name FROM t", "SELECT  name FROM t"),
        ("SELECT count(distinct name) FROM t", "SELECT count( name) FROM t"),
        ("SELECT name FROM t WHERE note = 'distinct'", "SELECT name FROM t WHERE note = 'distinct'"),
        ('SELECT "distinct" FROM t', 'SELECT "distinct" FROM t'),
        ("SELECT distinctive FROM t", "SELECT distinctive FROM t"),
    ],
)
def test_distinct_is_removed_outside_quotes(sql: str, expected: str) -> None:
    assert remove_distinct(sql) == expected


@pytest.mark.parametrize(
    ("gold", "pred", "expected_gold", "expected_pred"),
    [
        (
            "SELECT a FROM t WHERE b > = 3",
            "SELECT a FROM t WHERE b < = 3",
            "SELECT a FROM t WHERE b >= 3",
            "SELECT a FROM t WHERE b <= 3",
        ),
        ("SELECT a FROM t", "SELECT value FROM t", "SELECT a FROM t", "SELECT 1 FROM t"),
        ("SELECT YEAR(CURDATE()) - 1", "SELECT 1", "SELECT 2020- 1", "SELECT 1"),
    ],
)
def test_official_text_fixes(gold, pred, expected_gold, expected_pred) -> None:
    assert prepare_spider(gold, pred) == (expected_gold, expected_pred)


@pytest.mark.parametrize(
    ("gold", "expected"),
    [
        ("SELECT a FROM t ORDER BY a", True),
        ("SELECT a FROM t WHERE b IN (SELECT b FROM s ORDER BY b LIMIT 1)", True),
        ("select a from t order  by a", False),  # the official rule is a plain substring test
        ("SELECT a FROM t", False),
    ],
)
def test_order_matters_follows_the_gold_text(gold: str, expected: bool) -> None:
    assert spider_order_matters(gold) is expected
