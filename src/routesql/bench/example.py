"""The one record every benchmark format is loaded into."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Example:
    """One question with its gold SQL.

    `id` is stable within a benchmark split (e.g. ``spider/dev/17`` or BIRD's ``question_id``);
    `difficulty` is the benchmark's own label where it has one (BIRD), else None;
    `source` names the benchmark format the example came from (``spider``, ``bird``, ...).
    """

    id: str
    db_id: str
    question: str
    sql: str
    evidence: str = ""
    difficulty: str | None = None
    source: str = "spider"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Benchmark:
    """A loaded split: its examples and where each database file lives."""

    name: str  # format name: spider, spider-syn, spider-dk, spider-realistic, bird, demo
    split: str
    examples: list[Example]
    database_dir: Path  # holds <db_id>/<db_id>.sqlite
    tables_json: Path | None = None
    # Where a db_id missing from database_dir is looked up (Spider's folder, for Spider-DK whose
    # own database/ holds only the databases it changed).
    fallback_database_dir: Path | None = None

    def db_path(self, db_id: str) -> Path:
        own = self.database_dir / db_id / f"{db_id}.sqlite"
        if self.fallback_database_dir is None or own.is_file():
            return own
        return self.fallback_database_dir / db_id / f"{db_id}.sqlite"


def spread(items: list, limit: int | None) -> list:
    """At most `limit` items taken evenly across the list (so every database keeps some)."""
    if limit is None or len(items) <= limit:
        return items
    stride = len(items) / limit
    return [items[int(i * stride)] for i in range(limit)]
