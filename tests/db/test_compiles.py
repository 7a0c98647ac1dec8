"""Whether a query compiles, asked of an empty in-memory copy of a real database's schema."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from routesql.db.compiles import SchemaCompiler
from routesql.db.schema import read_schema


@pytest.mark.parametrize(
    ("sql", "compiles"),
    [
        ("SELECT name FROM owner", True),
        ("SELECT T1.name FROM owner AS T1 JOIN pet AS T2 ON T1.id = T2.owner_id WHERE T2.kind = 'cat'", True),
        ("SELECT kind, count(*) FROM pet GROUP BY kind HAVING avg(age) > 2;", True),
        ("WITH old AS (SELECT * FROM pet WHERE age > 9) SELECT count(*) FROM old", True),
        ("SELECT T1.name FROM owner", False),  # T1 is never bound
        ("SELECT name FROM pet", False),  # pet has no name
        ("SELECT name FROM owners", False),
        ("SELECT avg(age FROM pet", False),
        ("SELECT id FROM owner JOIN pet ON owner.id = pet.owner_id", False),  # ambiguous id
        ("SELECT name FROM owner WHERE count(*) > 1", False),  # misused aggregate
        ("SELECT name FROM owner; SELECT 1", False),  # one statement only
        ("DELETE FROM pet", False),
        ("", False),
    ],
)
def test_compiles(pets_db: Path, sql: str, compiles: bool) -> None:
    assert SchemaCompiler(read_schema(pets_db, 0)).compiles(sql) is compiles


def test_the_real_database_is_not_touched(pets_db: Path) -> None:
    before = hashlib.sha256(pets_db.read_bytes()).hexdigest()
    compiler = SchemaCompiler(read_schema(pets_db, 0))
    assert compiler.compiles("SELECT * FROM pet")
    assert not compiler.compiles("DROP TABLE pet")
    compiler.close()
    assert hashlib.sha256(pets_db.read_bytes()).hexdigest() == before
