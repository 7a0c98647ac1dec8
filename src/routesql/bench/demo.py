"""The embedded default benchmark: a small Spider-format folder generated from a seed.

`write_demo_benchmark(out_dir, seed, train_variants)` writes, deterministically (same arguments →
byte-identical files):

- ``database/<db_id>/<db_id>.sqlite`` and ``schema.sql`` for the eight training and three dev
  domains of `routesql.bench.demo_domains` (dev domains never appear in training), and for the
  renamed training variants of `routesql.bench.demo_variants` (``school_v1`` ...: the training
  domains under other table and column names, none of them a dev word);
- ``tables.json`` in Spider's format;
- ``train_spider.json`` / ``dev.json`` ({db_id, question, query}) and the aligned
  ``train_gold.sql`` / ``dev_gold.sql`` (``SQL<TAB>db_id``).

Questions come from the patterns of `routesql.questions` (as SENSE strong synthesis does); both splits use the same
patterns in the same proportions, so dev differs from train by its databases only. A database's
rows and questions come from generators seeded by its own id, so adding variants changes neither
the original training pairs nor anything of dev. Every gold query is executed on its database and
kept only when it returns a non-empty, non-null, non-zero answer; identical (db_id, query) pairs
are kept once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from routesql.bench.demo_domains import (
    CITY_COUNTRY,
    DEV_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    TRAIN_DOMAINS,
    ColumnSpec,
    DomainSpec,
    TableSpec,
)
from routesql.bench.demo_variants import (
    COINED_PAIRS_PER_DB,
    DEFAULT_COINED_VARIANTS,
    DEFAULT_TRAIN_VARIANTS,
    VARIANT_PAIRS_PER_DB,
    coined_variants,
    variant_domains,
)
from routesql.db.connect import open_readonly
from routesql.questions.context import Column, Edge, QuestionContext, Row, worth_learning
from routesql.questions.patterns import PATTERNS
from routesql.questions.words import natural_name

TRAIN_PAIRS_PER_DB = 250  # 8 training databases → about 2000 training pairs
DEV_PAIRS_PER_DB = 110  # 3 dev databases → about 330 dev pairs
ATTEMPTS_PER_PAIR = 12  # draws a pattern gets per wanted pair before giving up on a database
CHILDLESS_PARENT_SHARE = 0.15  # parents left without children per foreign key (for NOT IN questions)
SPIDER_TYPES = {"INTEGER": "number", "REAL": "number", "TEXT": "text", "DATE": "time"}


# --- rows ----------------------------------------------------------------------------------------


def _combinations(gen: tuple) -> list[str]:
    if gen[0] == "person":
        return [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    if gen[0] == "phrase":
        return [f"{first} {second}" for first in gen[1] for second in gen[2]]
    if gen[0] == "pick":
        return list(gen[1])
    if gen[0] == "code":
        return [f"{gen[1]}{number}" for number in range(100, 1000)]
    raise ValueError(f"not a text generator: {gen!r}")


def _column_values(column: ColumnSpec, n: int, places: list[tuple[str, str]], rng: random.Random) -> list[object]:
    """`n` values for one column; labels are distinct whenever the generator has enough of them."""
    kind = column.gen[0]
    if kind == "city":
        return [city for city, _country in places]
    if kind == "country":
        return [country for _city, country in places]
    if kind == "int":
        lo, hi, step = column.gen[1:]
        return [lo + step * rng.randint(0, (hi - lo) // step) for _ in range(n)]
    if kind == "real":
        return [round(rng.uniform(column.gen[1], column.gen[2]), 2) for _ in range(n)]
    if kind == "date":
        first = dt.date(column.gen[1], 1, 1).toordinal()
        last = dt.date(column.gen[2], 12, 31).toordinal()
        return [dt.date.fromordinal(rng.randint(first, last)).isoformat() for _ in range(n)]
    pool = _combinations(column.gen)
    if column.role == "label" and n <= len(pool):
        return rng.sample(pool, n)
    return [rng.choice(pool) for _ in range(n)]


def _foreign_key_values(parent_rows: int, n: int, rng: random.Random) -> list[int]:
    """Children point at most parents; a few parents keep no children so NOT IN has answers."""
    ids = list(range(1, parent_rows + 1))
    childless = set(rng.sample(ids, int(parent_rows * CHILDLESS_PARENT_SHARE)))
    used = [i for i in ids if i not in childless]
    return [rng.choice(used) for _ in range(n)]


def generate_rows(domain: DomainSpec, rng: random.Random) -> dict[str, list[Row]]:
    """Every table's rows, in column order; ids run 1..n."""
    tables: dict[str, list[Row]] = {}
    sizes = {spec.name: spec.rows for spec in domain.tables}
    for spec in domain.tables:
        places = [rng.choice(CITY_COUNTRY) for _ in range(spec.rows)]
        columns: list[Sequence[object]] = []
        for column in spec.columns:
            if column.role == "id":
                columns.append(list(range(1, spec.rows + 1)))
            elif column.role == "fk":
                if column.references is None:
                    raise ValueError(f"foreign key {spec.name}.{column.name} names no parent table")
                columns.append(_foreign_key_values(sizes[column.references], spec.rows, rng))
            else:
                columns.append(_column_values(column, spec.rows, places, rng))
        tables[spec.name] = list(zip(*columns, strict=True))
    return tables


# --- files ---------------------------------------------------------------------------------------


def create_table_sql(spec: TableSpec) -> str:
    lines = []
    for column in spec.columns:
        constraint = " PRIMARY KEY" if column.role == "id" else " NOT NULL"
        lines.append(f"  {column.name} {column.sql_type}{constraint}")
    for column in spec.columns:
        if column.references is not None:
            lines.append(f"  FOREIGN KEY ({column.name}) REFERENCES {column.references} (id)")
    return f"CREATE TABLE {spec.name} (\n" + ",\n".join(lines) + "\n)"


def schema_sql(domain: DomainSpec) -> str:
    statements = [create_table_sql(spec) for spec in domain.tables]
    return "PRAGMA foreign_keys = ON;\n\n" + ";\n\n".join(statements) + ";\n"


def write_sqlite(path: Path, domain: DomainSpec, rows: dict[str, list[Row]]) -> None:
    """Write the database into a temporary file, then rename: a reader never sees half a file.

    A fixed page size, the rollback journal and one transaction give the same bytes every run.
    """
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    conn = sqlite3.connect(temporary)
    try:
        conn.execute("PRAGMA page_size = 4096")
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA foreign_keys = ON")
        with conn:
            for spec in domain.tables:
                conn.execute(create_table_sql(spec))
                marks = ", ".join("?" for _ in spec.columns)
                conn.executemany(f"INSERT INTO {spec.name} VALUES ({marks})", rows[spec.name])
    finally:
        conn.close()
    os.replace(temporary, path)


def tables_json_entry(domain: DomainSpec) -> dict:
    """The domain's schema in Spider's tables.json layout."""
    names_original: list[list] = [[-1, "*"]]
    types = ["text"]
    positions: dict[tuple[str, str], int] = {}
    for table_index, spec in enumerate(domain.tables):
        for column in spec.columns:
            positions[(spec.name, column.name)] = len(names_original)
            names_original.append([table_index, column.name])
            types.append(SPIDER_TYPES[column.sql_type])
    foreign_keys = [
        [positions[(spec.name, column.name)], positions[(column.references, "id")]]
        for spec in domain.tables
        for column in spec.columns
        if column.references is not None
    ]
    return {
        "db_id": domain.db_id,
        "table_names_original": [spec.name for spec in domain.tables],
        "table_names": [natural_name(spec.name) for spec in domain.tables],
        "column_names_original": names_original,
        "column_names": [[index, name if index < 0 else natural_name(name)] for index, name in names_original],
        "column_types": types,
        "primary_keys": [positions[(spec.name, "id")] for spec in domain.tables],
        "foreign_keys": foreign_keys,
    }


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def _write_json(path: Path, value: object) -> None:
    _write_text(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


# --- questions -----------------------------------------------------------------------------------


def allocate(weights: dict[str, float], total: int) -> dict[str, int]:
    """Split `total` over the names in proportion to their weights (largest remainder first)."""
    scale = total / sum(weights.values())
    exact = {name: weight * scale for name, weight in weights.items()}
    counts = {name: int(share) for name, share in exact.items()}
    by_remainder = sorted(exact, key=lambda name: (-(exact[name] - counts[name]), name))
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def has_answer(conn: sqlite3.Connection, sql: str) -> bool:
    """True when the query runs and answers something worth learning (`worth_learning`)."""
    try:
        rows = conn.execute(sql).fetchall()
    except sqlite3.Error:
        return False
    return worth_learning(rows)


def question_context(domain: DomainSpec, rows: dict[str, list[Row]], rng: random.Random) -> QuestionContext:
    """The domain as the question patterns see it: roles from its specs, keys named ``id``."""
    tables = {spec.name: tuple(Column(c.name, c.role, c.summable) for c in spec.columns) for spec in domain.tables}
    edges = [
        Edge(spec.name, column.name, column.references, "id")
        for spec in domain.tables
        for column in spec.columns
        if column.references is not None
    ]
    return QuestionContext(tables, rows, edges, rng)


def generate_pairs(
    domain: DomainSpec, rows: dict[str, list[Row]], db_path: Path, wanted: int, rng: random.Random
) -> list[tuple[str, str]]:
    """About `wanted` (question, sql) pairs for one database, spread over the patterns by weight."""
    context = question_context(domain, rows, rng)
    quotas = allocate({pattern.name: pattern.weight for pattern in PATTERNS}, wanted)
    tried: set[str] = set()
    pairs: list[tuple[str, str]] = []
    conn = open_readonly(db_path)
    try:
        for pattern in PATTERNS:
            made = 0
            for _ in range(quotas[pattern.name] * ATTEMPTS_PER_PAIR):
                if made == quotas[pattern.name]:
                    break
                pair = pattern.build(context)
                if pair is None or pair[1] in tried:
                    continue
                tried.add(pair[1])
                if has_answer(conn, pair[1]):
                    pairs.append(pair)
                    made += 1
    finally:
        conn.close()
    rng.shuffle(pairs)
    return pairs


def _write_split(out_dir: Path, json_name: str, gold_name: str, records: list[dict]) -> None:
    _write_json(out_dir / json_name, records)
    _write_text(out_dir / gold_name, "".join(f"{r['query']}\t{r['db_id']}\n" for r in records))


def build_database(out_dir: Path, domain: DomainSpec, seed: int, wanted: int) -> list[dict]:
    """Write one database and its schema; return its question records."""
    folder = out_dir / "database" / domain.db_id
    folder.mkdir(parents=True, exist_ok=True)
    rows = generate_rows(domain, random.Random(f"routesql-demo:{seed}:{domain.db_id}:rows"))
    db_path = folder / f"{domain.db_id}.sqlite"
    write_sqlite(db_path, domain, rows)
    _write_text(folder / "schema.sql", schema_sql(domain))
    rng = random.Random(f"routesql-demo:{seed}:{domain.db_id}:questions")
    pairs = generate_pairs(domain, rows, db_path, wanted, rng)
    return [{"db_id": domain.db_id, "question": question, "query": sql} for question, sql in pairs]


def write_demo_benchmark(
    out_dir: Path,
    seed: int = 0,
    train_variants: int = DEFAULT_TRAIN_VARIANTS,
    coined: int = DEFAULT_COINED_VARIANTS,
) -> dict:
    """Generate the demo benchmark into `out_dir` (created if needed); return counts.

    `train_variants` renamed copies of the training domains join the train split. Folders of
    variants that an earlier, larger run wrote are left in place (tables.json no longer lists them).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    variants = variant_domains(train_variants, seed)
    coined_domains = coined_variants(coined, seed)
    train: list[dict] = []
    dev: list[dict] = []
    for domain in TRAIN_DOMAINS:
        train.extend(build_database(out_dir, domain, seed, TRAIN_PAIRS_PER_DB))
    for domain in variants:
        train.extend(build_database(out_dir, domain, seed, VARIANT_PAIRS_PER_DB))
    for domain in coined_domains:
        train.extend(build_database(out_dir, domain, seed, COINED_PAIRS_PER_DB))
    for domain in DEV_DOMAINS:
        dev.extend(build_database(out_dir, domain, seed, DEV_PAIRS_PER_DB))
    every_domain = (*TRAIN_DOMAINS, *variants, *coined_domains, *DEV_DOMAINS)
    _write_json(out_dir / "tables.json", [tables_json_entry(d) for d in every_domain])
    _write_split(out_dir, "train_spider.json", "train_gold.sql", train)
    _write_split(out_dir, "dev.json", "dev_gold.sql", dev)
    return {
        "seed": seed,
        "train_databases": len(TRAIN_DOMAINS) + len(variants) + len(coined_domains),
        "train_variants": len(variants),
        "coined_variants": len(coined_domains),
        "dev_databases": len(DEV_DOMAINS),
        "train": len(train),
        "dev": len(dev),
    }


# --- feature coverage (used by tests and reports) ------------------------------------------------
