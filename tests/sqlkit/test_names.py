"""The name check behind schema-constrained decoding, on the schema of a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

from routesql.db.schema import read_schema
from routesql.sqlkit.names import NameChecker, QuestionValues, SchemaNames


@pytest.fixture()
def checker(pets_db: Path) -> NameChecker:
    # owner(id, name, city); pet(id, owner_id, kind, age)
    return NameChecker(SchemaNames.of(read_schema(pets_db, 0)))


@pytest.mark.parametrize(
    ("text", "complete", "allowed"),
    [
        # whole queries of the schema's names
        ("SELECT name FROM owner", True, True),
        ("SELECT count(*) FROM pet WHERE age > 2", True, True),
        ("SELECT T1.name FROM owner AS T1 JOIN pet AS T2 ON T1.id = T2.owner_id WHERE T2.kind = 'cat'", True, True),
        ("SELECT name FROM owner WHERE city LIKE '%yo%' ORDER BY name DESC LIMIT 1", True, True),
        ("SELECT kind, count(*) AS n FROM pet GROUP BY kind ORDER BY n DESC", True, True),
        ("SELECT name FROM owner WHERE id NOT IN (SELECT owner_id FROM pet)", True, True),
        ("SELECT NAME FROM OWNER", True, True),
        # unknown or misspelt names
        ("SELECT name FROM employee", True, False),
        ("SELECT name FROM own", True, False),  # a cut-off name cannot end the query
        ("SELECT nam FROM owner", True, False),
        ("SELECT name FROM owner WHERE salary > 3", True, False),
        ("SELECT Name FROM owner", True, False),  # neither lower, upper nor the schema's spelling
        # unfinished text: the last word only has to start a name
        ("SELECT name FROM own", False, True),
        ("SELECT name FROM ow", False, True),
        ("SELECT name FROM x", False, False),
        ("SELECT T1.", False, True),
        ("SELECT T1.*", False, True),
        ("SELECT count(*) FROM (SELECT", False, True),
        ("SELECT name FROM owner WHERE city = 'Ly", False, True),  # inside a string anything goes
        # context: FROM takes a table, a dot a column of the qualified table
        ("SELECT name FROM name", True, False),
        ("SELECT name FROM.x", False, False),
        ("SELECT name FROM 'owner'", False, False),
        ("SELECT T1.kind FROM owner AS T1", True, True),  # T1 is bound after its use: any column
        ("SELECT T1.name FROM owner AS T1 WHERE T1.kind = 'cat'", True, False),
        ("SELECT owner.city FROM owner", True, True),
        ("SELECT pet.city FROM pet", True, False),
        ("SELECT name FROM owner.3", False, False),
        ("SELECT age 3", False, False),  # a value cannot follow a name directly
        ("SELECT name FROM owner WHERE city = 'Zü", False, True),
        ("SELECT name\ufffd", False, False),  # a cut UTF-8 character outside quotes
        ("SELECT name FROM owner WHERE city @ 1", True, False),
        # the SELECT list decides which tables FROM may name; after FROM columns are in scope
        ("SELECT kind FROM owner", True, False),
        ("SELECT kind FROM pet", True, True),
        ("SELECT name FROM pet", True, False),
        ("SELECT name, kind FROM pet WHERE", False, True),  # no table has both: every table stays allowed
        ("SELECT name FROM owner WHERE kind = 'cat'", True, False),
        ("SELECT name FROM owner WHERE id IN (SELECT owner_id FROM owner)", True, False),
        ("SELECT kind FROM ow", False, False),
        # the shape around names: parentheses, dots, FROM's table, an unfinished end
        ("SELECT avg(age FROM pet", False, False),
        ("SELECT count(*) FROM pet)", False, False),
        ("SELECT count(*) FROM (SELECT kind FROM pet)", True, True),
        ("SELECT count(*) FROM (*)", False, False),
        ("SELECT name FROM owner.", False, False),
        ("SELECT name FROM owner = 'x'", False, False),
        ("SELECT owner FROM owner", True, False),  # a table outside FROM must qualify a column
        ("SELECT T1. name", False, False),
        ("SELECT CAST(age AS REAL) FROM pet", True, True),
        ("SELECT cross FROM pet", True, False),
        ("SELECT name FROM owner WHERE city = 'Lyon", True, False),
        ("SELECT name FROM owner WHERE city = 'L''yon'", True, True),
        ("SELECT name FROM owner WHERE", True, False),
        ("SELECT name FROM owner WHERE city =", True, False),
    ],
)
def test_allows(checker: NameChecker, text: str, complete: bool, allowed: bool) -> None:
    assert checker.allows(text, complete) is allowed


def test_names_compare_case_insensitively_but_keep_the_schemas_spelling(tmp_path: Path) -> None:
    from support import make_sqlite

    db = make_sqlite(tmp_path / "mixed.sqlite", "CREATE TABLE Singer (Singer_ID INTEGER PRIMARY KEY, Name TEXT);")
    checker = NameChecker(SchemaNames.of(read_schema(db, 0)))
    assert checker.names.tables == frozenset({"singer"})
    assert checker.allows("SELECT Name FROM Singer WHERE Singer_ID = 1", complete=True)
    assert checker.allows("SELECT name FROM singer WHERE singer_id = 1", complete=True)
    assert checker.allows("SELECT Na", complete=False)
    assert not checker.allows("SELECT NaMe FROM singer", complete=True)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT T1.name FROM owner AS T1 JOIN pet AS T2 ON T1.id = T2.owner_id WHERE T2.kind = 'c''at'",
        "SELECT name FROM owner WHERE id NOT IN (SELECT owner_id FROM pet) ORDER BY name DESC LIMIT 1",
        "SELECT kind, count(*) AS n FROM pet GROUP BY kind HAVING avg(age) >= 2.5",
        "SELECT name FROM owner.city WHERE FROM",  # goes wrong part-way
    ],
)
def test_checking_a_piece_after_a_prepared_prefix_equals_checking_the_whole(checker: NameChecker, query: str) -> None:
    """The decoder checks many candidate pieces after one prefix; the shortcut must not change a verdict."""
    compared = 0
    for cut in range(len(query)):
        prepared = checker.prepare(query[:cut])
        for width in (1, 2, 4, 7):
            piece = query[cut : cut + width]
            for complete in (False, True):
                assert checker.allows_after(prepared, piece, complete) == checker.allows(query[:cut] + piece, complete)
                compared += 1
    assert compared > 100


_QUESTION = "Which owners in New York have a cat older than 3 or two dogs? Born after 2019-05-01."


@pytest.mark.parametrize(
    ("text", "complete", "allowed"),
    [
        # strings: text of the question, whatever its case; LIKE's wildcards aside
        ("SELECT name FROM owner WHERE city = 'New York'", True, True),
        ("SELECT name FROM owner WHERE city = 'new york'", True, True),
        ("SELECT name FROM owner WHERE city LIKE '%York%'", True, True),
        ("SELECT name FROM owner WHERE city NOT LIKE 'New%'", True, True),
        ("SELECT name FROM owner WHERE city = 'New%'", True, False),  # % is a wildcard only after LIKE
        ("SELECT name FROM owner WHERE city = 'ork", False, False),  # a value starts where a word does
        ("SELECT id FROM pet WHERE kind = 'cat'", True, True),
        ("SELECT name FROM owner WHERE city = 'Newark'", True, False),
        ("SELECT name FROM owner WHERE city = 'New Y", False, True),  # still open: a part of the question
        ("SELECT name FROM owner WHERE city = 'New Yr", False, False),
        ("SELECT name FROM owner WHERE city = 'Seedish", False, False),
        ("SELECT name FROM owner WHERE city = ' OR name = '", False, False),
        ("SELECT id FROM pet WHERE kind = '2019-05-01'", True, True),
        # numbers: the question's (in digits or words), 0 and 1
        ("SELECT id FROM pet WHERE age > 3", True, True),
        ("SELECT id FROM pet WHERE age > 3.0", True, True),
        ("SELECT id FROM pet WHERE age > 33", True, False),
        ("SELECT id FROM pet WHERE age > 2", True, True),  # "two"
        ("SELECT id FROM pet WHERE age > 7", True, False),
        ("SELECT id FROM pet ORDER BY age DESC LIMIT 1", True, True),
        ("SELECT id FROM pet WHERE age > 201", False, True),  # may still grow into 2019
        ("SELECT id FROM pet WHERE age > 2019", True, True),
        ("SELECT id FROM pet WHERE age > 2018", False, False),
        ("SELECT id FROM pet ORDER BY age DESC LIMIT 10", True, False),  # 10 is not 1 (nor 1.0)
        ("SELECT id FROM pet WHERE age > 3.", False, True),  # 3. is 3, whether or not it grows
        # "double-quoted" text is a name or a value: not constrained
        ('SELECT id FROM pet WHERE kind = "lizard"', True, True),
    ],
)
def test_values_must_come_from_the_question(pets_db: Path, text: str, complete: bool, allowed: bool) -> None:
    checker = NameChecker(SchemaNames.of(read_schema(pets_db, 0)), QuestionValues.of(_QUESTION))
    assert checker.allows(text, complete) is allowed


def test_evidence_adds_values() -> None:
    values = QuestionValues.of("How many female singers?", "female refers to sex = 'F'")
    assert values.allows_string("'F'")
    assert not values.allows_string("'M'")
    assert values.allows_number("1", growing=False) and not values.allows_number("5", growing=False)


def test_values_checked_after_a_prepared_prefix_equal_the_whole_check(pets_db: Path) -> None:
    checker = NameChecker(SchemaNames.of(read_schema(pets_db, 0)), QuestionValues.of(_QUESTION))
    query = "SELECT name FROM owner WHERE city = 'New York' AND id > 3 OR city LIKE '%Yo%' LIMIT 12"
    for cut in range(len(query)):
        prepared = checker.prepare(query[:cut])
        for width in (1, 3):
            piece = query[cut : cut + width]
            for complete in (False, True):
                assert checker.allows_after(prepared, piece, complete) == checker.allows(query[:cut] + piece, complete)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT T1.name FROM owner AS T1 JOIN pet AS T2 ON T1.id = T2.owner_id WHERE T2.kind = 'c''at' LIMIT 1",
        "SELECT kind, count(*) AS n FROM pet GROUP BY kind HAVING avg(age) >= 2.5",
        "SELECT name FROM owner.city WHERE FROM",  # goes wrong part-way
    ],
)
def test_extending_a_prepared_text_equals_preparing_it_whole(checker: NameChecker, query: str) -> None:
    """The decoder extends the previous step's scan by the new text; verdicts must not change."""
    for step in (1, 2, 5):
        prepared = checker.prepare("")
        for cut in range(0, len(query) + 1, step):
            prepared = checker.extend(prepared, query[:cut])
            whole = checker.prepare(query[:cut])
            assert (prepared.scan is None) == (whole.scan is None)
            assert prepared.scan is None or prepared.cut == whole.cut  # an invalid text's cut means nothing
            for piece, complete in (("", True), (" ", False), ("x", False), (")", True)):
                assert checker.allows_after(prepared, piece, complete) == checker.allows(query[:cut] + piece, complete)
    # a text that does not grow from the old one is prepared afresh
    assert (
        checker.extend(checker.prepare("SELECT name FROM ow"), "SELECT kind").cut == checker.prepare("SELECT kind").cut
    )


_FRAGMENTS = [
    "SELECT",
    " ",
    "name",
    "city",
    "owner",
    "pet",
    "kind",
    "age",
    "id",
    "owner_id",
    "FROM",
    "WHERE",
    "AS",
    "T1",
    "T2",
    ".",
    ",",
    "(",
    ")",
    "*",
    "=",
    ">",
    "'",
    "New York",
    "cat",
    "3",
    "2.5",
    "two",
    "JOIN",
    "ON",
    "LIKE",
    "%",
    "\n",
    "count",
    "GROUP BY",
    "ORDER BY",
    "DESC",
    "x",
    "Na",
    "ME",
    '"',
    "\ufffd",
    "$",
]


@pytest.mark.parametrize("values", [None, QuestionValues.of(_QUESTION)])
def test_the_check_is_prefix_closed(pets_db: Path, values: QuestionValues | None) -> None:
    """Text that can still grow into a query can do so one character shorter: the decoder refuses a
    piece whose first character fails without checking the rest of it."""
    import random

    checker = NameChecker(SchemaNames.of(read_schema(pets_db, 0)), values)
    draw = random.Random(7)
    texts = [
        "SELECT T1.name FROM owner AS T1 JOIN pet AS T2 ON T1.id = T2.owner_id WHERE T2.kind = 'cat'",
        "SELECT name FROM owner WHERE city = 'New York' AND id > 3",
    ]
    texts += ["".join(draw.choice(_FRAGMENTS) for _ in range(draw.randint(3, 14))) for _ in range(400)]
    grew = 0
    for text in texts:
        verdicts = [checker.allows(text[:end], complete=False) for end in range(len(text) + 1)]
        assert verdicts == sorted(verdicts, reverse=True), (text, verdicts)
        grew += sum(verdicts) > 6
    assert grew > 40  # enough texts stay valid for a while to test something
