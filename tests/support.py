"""Helpers for tests: small real SQLite databases, and small benchmark folders in each release's layout."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path


def make_sqlite(path: Path, script: str) -> Path:
    """A real SQLite file built from an SQL script (tests only; the product never writes databases)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.commit()
    conn.close()
    return path


PETS_SCRIPT = """
CREATE TABLE owner (id INTEGER PRIMARY KEY, name TEXT, city TEXT);
CREATE TABLE pet (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES owner(id), kind TEXT, age REAL);
INSERT INTO owner VALUES (1, 'Ann', 'Lyon'), (2, 'Bob', 'Oslo'), (3, 'Cid', 'Lyon');
INSERT INTO pet VALUES (1, 1, 'cat', 3), (2, 1, 'dog', 5), (3, 2, 'cat', 1), (4, 3, 'fish', 0.5);
"""


def write_spider_benchmark(
    root: Path, questions: list[tuple[str, str]], db_id: str = "pets", script: str = PETS_SCRIPT
) -> Path:
    """A one-database benchmark in Spider's layout (dev.json and train_spider.json hold the same
    (question, gold SQL) pairs; tables.json is left out, as the loaders allow)."""
    import json

    make_sqlite(root / "database" / db_id / f"{db_id}.sqlite", script)
    records = [{"db_id": db_id, "question": q, "query": sql} for q, sql in questions]
    for name in ("dev.json", "train_spider.json"):
        (root / name).write_text(json.dumps(records))
    return root


# --- benchmark folders as released (one-table databases) ---------------------------------------


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def make_db(database_dir: Path, db_id: str) -> Path:
    """A real one-table SQLite database at <database_dir>/<db_id>/<db_id>.sqlite."""
    path = database_dir / db_id / f"{db_id}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO singer VALUES (1, 'Ann'), (2, 'Bo')")
    conn.close()
    return path


def spider_record(db_id: str, question: str) -> dict:
    return {"db_id": db_id, "question": question, "query": "SELECT count(*) FROM singer"}


def make_spider(root: Path, dev: list[dict], dbs: tuple[str, ...] = ("music",)) -> Path:
    write_json(root / "dev.json", dev)
    write_json(root / "tables.json", [{"db_id": db} for db in dbs])
    for db_id in dbs:
        make_db(root / "database", db_id)
    return root


def make_dk(root: Path) -> Path:
    records = [spider_record("music", "How many singers?"), spider_record("music", "Count them")]
    write_json(root / "Spider-DK.json", records)
    write_json(root / "tables.json", [{"db_id": "music"}])
    make_db(root / "database", "music")
    return root


def make_bird(root: Path) -> Path:
    dev = [
        {
            "question_id": 7,
            "db_id": "shop",
            "question": "How many singers are there?",
            "evidence": "singer refers to singer table",
            "SQL": "SELECT COUNT(*) FROM singer",
            "difficulty": "simple",
        },
        {
            "question_id": 9,
            "db_id": "shop",
            "question": "Names?",
            "evidence": "",
            "SQL": "SELECT name FROM singer",
            "difficulty": "moderate",
        },
    ]
    write_json(root / "dev.json", dev)
    write_json(root / "dev_tables.json", [{"db_id": "shop"}])
    make_db(root / "dev_databases", "shop")
    # BIRD's train.json has no question_id and no difficulty.
    train = [{"db_id": "shop", "question": "Q?", "evidence": "e", "SQL": "SELECT 1"}]
    write_json(root / "train.json", train)
    write_json(root / "train_tables.json", [{"db_id": "shop"}])
    make_db(root / "train_databases", "shop")
    return root


def make_minidev(root: Path) -> Path:
    """BIRD mini-dev as released: the MINIDEV folder (the MySQL/PostgreSQL files beside it too)."""
    records = [
        {
            "question_id": 1471,
            "db_id": "shop",
            "question": "How many singers?",
            "evidence": "",
            "SQL": "SELECT COUNT(*) FROM singer",
            "difficulty": "simple",
        },
        {
            "question_id": 1472,
            "db_id": "shop",
            "question": "Their names?",
            "evidence": "name is a column",
            "SQL": "SELECT name FROM singer",
            "difficulty": "challenging",
        },
    ]
    write_json(root / "mini_dev_sqlite.json", records)
    write_json(root / "mini_dev_mysql.json", records)
    write_json(root / "mini_dev_postgresql.json", records)
    write_json(root / "dev_tables.json", [{"db_id": "shop"}])
    make_db(root / "dev_databases", "shop")
    return root


ROUTE_STEPS = ("schema_linking", "noise_correction", "continuation")  # ROUTE's MCP, in its order


def mcp_with(*steps: str, **changes: object):
    """MCPSettings running `steps` after the draft (params.yaml's default runs only continuation)."""
    from routesql.mcp.settings import MCPSettings

    return MCPSettings(steps=steps, **changes)  # type: ignore[arg-type]


def synth_settings(**changes: object):
    """The synthesize settings of the default params.yaml with `changes`; unless changed, weak
    sampling is off (it needs a base model) and every training example is used."""
    import dataclasses

    from routesql.config import Params
    from routesql.synth.stage import settings_from_params

    base = settings_from_params(Params())
    changes = {"weak": dataclasses.replace(base.weak, enabled=False), "max_examples": None, **changes}
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def task_settings(**changes: object):
    """The record-building settings of the default params.yaml with `changes`."""
    import dataclasses

    return dataclasses.replace(synth_settings().tasks, **changes)  # type: ignore[arg-type]


def params_leaf_keys(tree: dict, prefix: str = "") -> list[str]:
    """The dotted keys of a params mapping's values (a task mix is one value: task → ratio)."""
    keys: list[str] = []
    for name, value in tree.items():
        key = f"{prefix}{name}"
        is_section = isinstance(value, dict) and name != "mix"
        keys.extend(params_leaf_keys(value, f"{key}.") if is_section else [key])
    return keys


def write_jsonl(rows: list[dict], path: Path) -> Path:
    """One JSON object per line (SFT and preference records)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, as a user's shell is (tqdm draws only there)."""

    def isatty(self) -> bool:
        return True
