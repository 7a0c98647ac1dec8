"""Fixtures for training tests: small records from real SQLite databases, and a tiny base model.

Records are made here (not by the synthesis stage) from hand-written questions whose SQL is run
read-only against the databases first, so every completion is a query that executes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from routesql.db.connect import open_readonly
from routesql.train.settings import TinyModelSettings
from routesql.train.tiny import build_tiny_base
from support import PETS_SCRIPT, make_sqlite, write_jsonl

CONCERT_SCRIPT = """
CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INTEGER);
CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, singer_id INTEGER REFERENCES singer(singer_id),
                      year INTEGER, venue TEXT);
INSERT INTO singer VALUES (1, 'Joe', 'France', 52), (2, 'Ann', 'Spain', 29), (3, 'Li', 'France', 41);
INSERT INTO concert VALUES (1, 1, 2014, 'Arena'), (2, 2, 2015, 'Hall'), (3, 1, 2015, 'Dome');
"""

QUESTIONS: dict[str, list[tuple[str, str]]] = {
    "pets": [
        ("How many owners are there?", "SELECT count(*) FROM owner"),
        ("What kinds of pets are there?", "SELECT DISTINCT kind FROM pet"),
        ("Names of owners living in Lyon.", "SELECT name FROM owner WHERE city = 'Lyon'"),
        ("Average age of cats.", "SELECT avg(age) FROM pet WHERE kind = 'cat'"),
        (
            "Owner names with their pet kinds.",
            "SELECT T1.name, T2.kind FROM owner AS T1 JOIN pet AS T2 ON T1.id = T2.owner_id",
        ),
    ],
    "concert": [
        ("How many singers are there?", "SELECT count(*) FROM singer"),
        ("Names of singers from France.", "SELECT name FROM singer WHERE country = 'France'"),
        ("Concerts per year.", "SELECT year, count(*) FROM concert GROUP BY year"),
        ("Oldest singer's name.", "SELECT name FROM singer ORDER BY age DESC LIMIT 1"),
        (
            "Venues where Joe sang.",
            "SELECT T2.venue FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id WHERE T1.name = 'Joe'",
        ),
    ],
}

TINY = TinyModelSettings(
    vocab_size=400,
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    num_kv_heads=2,
    intermediate_size=128,
    max_positions=512,
    pretrain_steps=30,
    pretrain_batch_size=4,
    pretrain_seq_len=64,
)


def schema_text(db_path: Path) -> str:
    with open_readonly(db_path) as conn:
        rows = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    return "\n".join(" ".join(row[0].split()) for row in rows)


def checked_questions(db_path: Path, questions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    with open_readonly(db_path) as conn:
        for _, sql in questions:
            conn.execute(sql).fetchall()  # raises if a hand-written query is wrong
    return questions


def sft_rows(databases: dict[str, Path]) -> list[dict]:
    """Records for every task; prompts carry the schema, completions are the task's target."""
    rows = []
    for db_id, db_path in databases.items():
        schema = schema_text(db_path)
        for number, (question, sql) in enumerate(checked_questions(db_path, QUESTIONS[db_id])):
            tables = sorted(set(sql.replace(",", " ").split()) & {"owner", "pet", "singer", "concert"})
            broken = sql.replace("SELECT", "SELEC")
            targets = {
                "text_to_sql": (f"{schema}\nQuestion: {question}\nSQL: ", sql),
                "schema_linking": (f"{schema}\nQuestion: {question}\nTables: ", ", ".join(tables)),
                "noise_correction": (f"{schema}\nQuestion: {question}\nWrong: {broken}\nSQL: ", sql),
                "continuation": (f"{schema}\nQuestion: {question}\nSQL: {sql[:12]}", sql[12:]),
            }
            for task, (prompt, completion) in targets.items():
                rows.append(
                    {
                        "task": task,
                        "prompt": prompt,
                        "completion": completion,
                        "db_id": db_id,
                        "example_id": f"{db_id}-{number}",
                        "template_version": "test-v1",
                        "prompt_tokens": 0,
                        "completion_tokens": 0,
                    }
                )
    return rows


def preference_rows(sft: list[dict]) -> list[dict]:
    """Pairs: the right SQL over a corrupted one (wrong table), as SENSE's weak-model mistakes."""
    return [
        {
            "prompt": row["prompt"],
            "chosen": row["completion"],
            "rejected": row["completion"].replace("FROM", "FROM x_"),
            "db_id": row["db_id"],
            "example_id": row["example_id"],
            "template_version": row["template_version"],
        }
        for row in sft
        if row["task"] == "text_to_sql"
    ]


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dbs")
    return {
        "pets": make_sqlite(root / "pets.sqlite", PETS_SCRIPT),
        "concert": make_sqlite(root / "concert.sqlite", CONCERT_SCRIPT),
    }


@pytest.fixture(scope="session")
def sft_records(tmp_path_factory: pytest.TempPathFactory, databases: dict[str, Path]) -> Path:
    return write_jsonl(sft_rows(databases), tmp_path_factory.mktemp("records") / "sft.jsonl")


@pytest.fixture(scope="session")
def preference_records(tmp_path_factory: pytest.TempPathFactory, databases: dict[str, Path]) -> Path:
    return write_jsonl(preference_rows(sft_rows(databases)), tmp_path_factory.mktemp("records") / "pref.jsonl")


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, databases: dict[str, Path]) -> Path:
    texts = [row["prompt"] + row["completion"] for row in sft_rows(databases)]
    return build_tiny_base(texts, tmp_path_factory.mktemp("tiny") / "base", TINY, seed=0)
