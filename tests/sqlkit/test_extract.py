import pytest

from routesql.sqlkit.extract import extract_sql

CASES = [
    ("SELECT name FROM singer", "SELECT name FROM singer"),
    (" SELECT name\n FROM singer;\n", "SELECT name FROM singer"),
    ("```sql\nSELECT 1;\n```\nThis returns one.", "SELECT 1"),
    ("The answer is: SELECT count(*) FROM t", "SELECT count(*) FROM t"),
    ("SELECT a FROM t\n-- Question: next", "SELECT a FROM t"),
    ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH x AS (SELECT 1) SELECT * FROM x"),
    ("SELECT 1; DROP TABLE t;", "SELECT 1; DROP TABLE t;"),  # left for the guard to refuse
    ("SELECT ';' FROM t;", "SELECT ';' FROM t"),
    ("I don't know.", ""),
    ("", ""),
]


@pytest.mark.parametrize(("completion", "expected"), CASES)
def test_extract_sql(completion: str, expected: str) -> None:
    assert extract_sql(completion) == expected
