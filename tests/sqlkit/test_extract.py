import pytest

from routesql.sqlkit.extract import extract_sql, first_statement

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


# Sampled SQL kept as training data (SENSE weak pairs): the first statement, up to a blank line.
FIRST_STATEMENT_CASES = [
    ("```sql\nSELECT 1;\n```", "SELECT 1"),
    ("```\nSELECT 2\n```\nThis query returns two.", "SELECT 2"),
    ("SELECT a FROM t; SELECT b FROM t", "SELECT a FROM t"),
    ("SELECT ';' FROM t WHERE x = 'a;b'; DROP", "SELECT ';' FROM t WHERE x = 'a;b'"),
    ('SELECT "x;y" FROM t;', 'SELECT "x;y" FROM t'),
    ("SQL: SELECT 1\n\nQuestion: next one", "SELECT 1"),
    (" SELECT name\n FROM owner\n WHERE id = 1", "SELECT name FROM owner WHERE id = 1"),
    ("```sql\nSELECT 3", "SELECT 3"),
    ("SELECT 1; DROP TABLE t;", "SELECT 1"),
    ("SELEC name FORM owner;\nmore", "SELEC name FORM owner"),  # no SQL: a failing sample all the same
    ("", ""),
]


@pytest.mark.parametrize(("completion", "expected"), FIRST_STATEMENT_CASES)
def test_extract_the_first_statement_only(completion: str, expected: str) -> None:
    assert extract_sql(completion, first_statement_only=True) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT 'it''s;' FROM t; x", "SELECT 'it''s;' FROM t"),
        ("SELECT [a;b] FROM t;", "SELECT [a;b] FROM t"),
        ("SELECT 1", "SELECT 1"),
    ],
)
def test_first_statement(text: str, expected: str) -> None:
    assert first_statement(text) == expected
