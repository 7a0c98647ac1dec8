"""Spider hardness from SQL text: each rule and quirk on small queries, then all of Spider dev."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from routesql.sqlkit.hardness import HardnessCounts, hardness_counts, spider_hardness

# (sql, (component1, component2, others)): one row per rule or quirk.
COUNT_CASES = [
    ("SELECT count(*) FROM singer", (0, 0, 0)),
    # component 1: clauses of the top-level query
    ("SELECT name FROM singer WHERE age > 20", (1, 0, 0)),
    ("SELECT name FROM singer GROUP BY country", (1, 0, 0)),
    ("SELECT name FROM singer ORDER BY age DESC LIMIT 1", (2, 0, 0)),
    ("SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.id = T2.sid", (1, 0, 0)),
    ("SELECT a.name FROM singer AS a JOIN b JOIN c", (2, 0, 0)),
    ("SELECT a.name FROM singer AS a , concert AS b WHERE a.id = b.sid", (2, 0, 0)),
    ("SELECT name FROM t WHERE a = 1 OR b = 2", (2, 0, 1)),
    ("SELECT name FROM t WHERE name LIKE '%a%'", (2, 0, 0)),
    # NOT LIKE is a LIKE for component 1 and a negated condition for the aggregation count
    ("SELECT count(*) FROM t WHERE name NOT LIKE '%a%'", (2, 0, 1)),
    ("SELECT name FROM t WHERE age BETWEEN 20 AND 30", (1, 0, 0)),
    ("SELECT name FROM t WHERE age > 20 AND age < 30", (1, 0, 1)),
    # JOIN ON conditions are FROM conditions: they never make WHERE longer
    ("SELECT T1.a FROM t1 AS T1 JOIN t2 AS T2 ON T1.x = T2.x AND T1.y = T2.y", (1, 0, 0)),
    ("SELECT T1.a FROM t1 AS T1 JOIN t2 AS T2 ON T1.x = 1 OR T1.y = 2", (2, 0, 0)),
    # official parser quirk: after a column value, OR and the condition it joins are skipped
    ("SELECT T1.a FROM t1 AS T1 JOIN t2 AS T2 ON T1.x = T2.x OR T1.x = T2.y", (1, 0, 0)),
    ("SELECT a FROM t WHERE b = c OR d = 1 OR e LIKE 'x'", (1, 0, 0)),
    ("SELECT a FROM t WHERE b = c OR d = 1 AND e = 2", (1, 0, 1)),
    ("SELECT a FROM t WHERE d = 1 OR b = c", (2, 0, 1)),
    # component 2: nested queries as condition values and set operations
    ("SELECT name FROM t WHERE age > (SELECT avg(age) FROM t)", (1, 1, 0)),
    ("SELECT a FROM t WHERE b IN (SELECT b FROM u) AND c IN (SELECT c FROM v)", (1, 2, 1)),
    ("SELECT a FROM t WHERE b BETWEEN (SELECT min(b) FROM u) AND (SELECT 1 FROM u)", (1, 2, 0)),
    ("SELECT count(*) FROM (SELECT name FROM t WHERE a = 1)", (0, 0, 0)),
    ("SELECT name FROM a INTERSECT SELECT name FROM b WHERE x = 1 ORDER BY y", (0, 1, 0)),
    ("SELECT n FROM a WHERE x LIKE 'a' UNION SELECT n FROM b EXCEPT SELECT n FROM d", (2, 1, 0)),
    # others: aggregation count, select items, where length, group by columns
    ("SELECT count(*) FROM t WHERE id NOT IN (SELECT id FROM u)", (1, 1, 1)),
    ("SELECT count(DISTINCT a) , count(DISTINCT b) FROM t", (0, 0, 2)),
    ("SELECT max(a) , b FROM t", (0, 0, 1)),
    ("SELECT a , b FROM t GROUP BY a , b", (1, 0, 2)),
    ("SELECT a FROM t GROUP BY a ORDER BY count(*) DESC LIMIT 1", (3, 0, 0)),
    ("SELECT a , count(*) FROM t GROUP BY a ORDER BY count(*) DESC LIMIT 1", (3, 0, 2)),
    ("SELECT a FROM t ORDER BY max(b) - min(b)", (1, 0, 1)),
    ("SELECT a FROM t ORDER BY max(b) , min(b)", (1, 0, 1)),
    # HAVING quirk: each AND/OR connective adds to the aggregation count, an aggregate does not
    ("SELECT a FROM t GROUP BY a HAVING count(*) > 1", (1, 0, 0)),
    ("SELECT a FROM t GROUP BY a HAVING count(*) > 1 AND sum(b) > 2", (1, 0, 0)),
    ("SELECT a FROM t GROUP BY a HAVING count(*) > 1 AND sum(b) > 2 AND max(c) > 3", (1, 0, 1)),
    ("SELECT a FROM t GROUP BY a HAVING count(*) > 1 OR sum(b) > 2", (2, 0, 0)),
    # Spider spelling quirks
    ('select Name from T where Title = "a OR b (select) LIMIT"', (1, 0, 0)),
    ("SELECT a FROM t WHERE b > = 3", (1, 0, 0)),
    ("SELECT a FROM t WHERE b ! = 'x' AND c < = 2", (1, 0, 1)),
    ("SELECT count(*) AS total FROM t;", (0, 0, 0)),
    ("(SELECT a FROM t WHERE b = 'it''s')", (1, 0, 0)),
    ("SELECT a FROM t LEFT JOIN u ON t.id = u.id", (1, 0, 0)),
]


@pytest.mark.parametrize(("sql", "expected"), COUNT_CASES)
def test_hardness_counts_follow_each_rule(sql: str, expected: tuple[int, int, int]) -> None:
    assert hardness_counts(sql) == HardnessCounts(*expected)


BUCKET_CASES = [
    ("SELECT count(*) FROM singer", "easy"),
    ("SELECT name FROM singer WHERE age > 20", "easy"),
    ("SELECT name , age FROM singer", "medium"),  # others 1
    ("SELECT name FROM singer ORDER BY age DESC LIMIT 1", "medium"),  # component1 2
    ("SELECT a , b , count(*) FROM t WHERE x = 1 AND y = 2 GROUP BY a , b", "hard"),  # others 3
    ("SELECT a FROM t GROUP BY a ORDER BY count(*) LIMIT 1", "hard"),  # component1 3
    ("SELECT name FROM t WHERE age > (SELECT avg(age) FROM t)", "hard"),  # one nesting, simple
    ("SELECT name FROM a INTERSECT SELECT name FROM b", "hard"),
    ("SELECT count(*) FROM t WHERE id NOT IN (SELECT id FROM u)", "extra"),  # negation quirk
    ("SELECT a FROM t WHERE b IN (SELECT b FROM u) AND c IN (SELECT c FROM v)", "extra"),
    ("SELECT a FROM t WHERE x = 1 GROUP BY a ORDER BY a LIMIT 1", "extra"),  # component1 4
]


@pytest.mark.parametrize(("sql", "expected"), BUCKET_CASES)
def test_spider_hardness_buckets(sql: str, expected: str) -> None:
    assert spider_hardness(sql) == expected


@pytest.mark.parametrize(
    "sql",
    [
        "",
        "  ;  ",
        "DELETE FROM t",
        "SELECT a FROM t WHERE (b = 1",
        "SELECT a FROM t WHERE b = 1)",
        "SELECT a FROM t WHERE b",
        "SELECT a FROM t WHERE b BETWEEN 1",
        "SELECT a FROM t LIMIT",
        "SELECT a FROM t WHERE b = 'unterminated",
        "SELECT a FROM t WHERE b IN (SELECT FROM u)",
        "SELECT a FROM (SELECT b FROM u WHERE) AS x",
        "SELECT a FROM t WHERE b = 1 AND",
        "SELECT a , FROM t",
        "SELECT a FROM t ORDER a",
        "SELECT a FROM t UNION",
        "SELECT a FROM t WHERE b = 1 SELECT c",
    ],
)
def test_unparsable_sql_raises_value_error(sql: str) -> None:
    with pytest.raises(ValueError, match="cannot parse SQL"):
        spider_hardness(sql)


# Published by the official evaluator for the 1034 Spider dev examples.
OFFICIAL_DEV_COUNTS = {"easy": 248, "medium": 446, "hard": 174, "extra": 166}


def _benchmarks_dir() -> Path:
    root = os.environ.get("ROUTESQL_BENCHMARKS")
    if not root:
        pytest.skip("ROUTESQL_BENCHMARKS is unset: Spider dev is needed for the official buckets")
    dev = Path(root) / "spider" / "dev.json"
    if not dev.is_file():
        pytest.skip(f"{dev} is missing")
    return Path(root)


def _hardness_from_official_parse(sql: dict[str, Any]) -> str:
    """The hardness rules applied to the official parse stored in dev.json's `sql` field.

    An independent check on the text parser: the same facts, read from the evaluator's own dict.
    """
    like_op = 9
    units = sql["from"]["conds"][::2] + sql["where"][::2] + sql["having"][::2]
    c1 = sum(bool(sql[key]) for key in ("where", "groupBy", "orderBy"))
    c1 += (sql["limit"] is not None) + max(len(sql["from"]["table_units"]) - 1, 0)
    condition_lists = (sql["from"]["conds"], sql["where"], sql["having"])
    c1 += sum(part[1::2].count("or") for part in condition_lists)
    c1 += sum(unit[1] == like_op for unit in units)
    c2 = sum(isinstance(value, dict) for unit in units for value in unit[3:5])
    c2 += sum(sql[key] is not None for key in ("intersect", "union", "except"))
    order_val_units = (sql["orderBy"] or [None, []])[1]
    order_units = [col_unit for unit in order_val_units for col_unit in unit[1:3] if col_unit]
    aggs = sum(item[0] != 0 for item in sql["select"][1] + sql["where"][::2] + sql["groupBy"])
    aggs += sum(unit[0] != 0 for unit in order_units + sql["having"])
    others = (aggs > 1) + (len(sql["select"][1]) > 1) + (len(sql["where"]) > 1)
    others += len(sql["groupBy"]) > 1
    if c1 <= 1 and others == 0 and c2 == 0:
        return "easy"
    if (others <= 2 and c1 <= 1 and c2 == 0) or (c1 <= 2 and others < 2 and c2 == 0):
        return "medium"
    if (others > 2 and c1 <= 2 and c2 == 0) or (2 < c1 <= 3 and others <= 2 and c2 == 0):
        return "hard"
    return "hard" if c1 <= 1 and others == 0 and c2 <= 1 else "extra"


@pytest.mark.benchmarks
def test_all_spider_dev_examples_match_the_official_buckets() -> None:
    dev = json.loads((_benchmarks_dir() / "spider" / "dev.json").read_text())
    ours = [spider_hardness(example["query"]) for example in dev]
    official = [_hardness_from_official_parse(example["sql"]) for example in dev]
    mismatches = [(i, dev[i]["query"], ours[i], official[i]) for i in range(len(dev))]
    mismatches = [row for row in mismatches if row[2] != row[3]]
    assert len(dev) == 1034
    assert mismatches == []
    assert dict(Counter(ours)) == OFFICIAL_DEV_COUNTS


@pytest.mark.benchmarks
def test_spider_dev_matches_recorded_official_verdicts() -> None:
    root = _benchmarks_dir()
    verdicts_path = root.parent / "peers" / "route_qwen2.5_14b_sft" / "official_verdicts.json"
    if not verdicts_path.is_file():
        pytest.skip(f"{verdicts_path} is missing: no recorded run of the official evaluator")
    dev = json.loads((root / "spider" / "dev.json").read_text())
    verdicts = json.loads(verdicts_path.read_text())
    recorded = [v for v in verdicts if v["hardness"] is not None]  # the run skipped one database
    assert len(recorded) > 900
    wrong = [v["index"] for v in recorded if spider_hardness(dev[v["index"]]["query"]) != v["hardness"]]
    assert wrong == []
