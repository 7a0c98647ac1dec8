"""What every SFT task builder works with: one training example in context, and what it adds.

Builders are pure functions of the example, the database and a per-example random generator,
so the stage can run them in any order, in any process, and still write identical files.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property

from routesql.bench.example import Example
from routesql.db.schema import DatabaseSchema
from routesql.sqlkit.links import schema_links
from routesql.tasks.slicing import SchemaSlice
from routesql.tasks.templates import Prompt


@dataclass(frozen=True)
class TaskSettings:
    """How records are built: params.yaml's `schema` and `synthesize` (routesql.synth.stage builds it)."""

    sample_rows: int
    schema_style: str  # routesql.db.schema.SCHEMA_STYLES
    noise_per_example: int
    correct_share: float
    continuation_per_example: int


@dataclass
class NoiseCandidate:
    """A corrupted query waiting to be executed: the stage keeps it only if its result differs from gold."""

    example_id: str
    db_id: str
    kind: str  # a key of routesql.sqlkit.noise.CORRUPTIONS, or "weak_model"
    sql: str
    gold_sql: str


@dataclass
class ExampleOutput:
    records: list[dict] = field(default_factory=list)
    noise: list[NoiseCandidate] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # task → reason


@dataclass
class ExampleContext:
    """One training example with its database, as every task builder sees it; builders add to `out`.

    `schema_text` is `render_schema(schema, settings.sample_rows, style=settings.schema_style)`,
    rendered once per database; `slices` are its LR-SQL slices.
    """

    example: Example
    schema: DatabaseSchema
    schema_text: str
    slices: list[SchemaSlice]
    settings: TaskSettings
    rng: random.Random
    out: ExampleOutput = field(default_factory=ExampleOutput)

    @cached_property
    def mapping(self) -> dict:
        return self.schema.to_mapping()

    @cached_property
    def gold(self) -> str:
        return clean_sql(self.example.sql)

    @cached_property
    def links(self) -> dict[str, list[str]] | None:
        """The gold query's schema links (None, and the reason under schema_linking, when it does not parse)."""
        try:
            return schema_links(self.example.sql, self.mapping)
        except ValueError as error:
            self.out.skipped["schema_linking"] = f"links: {first_line(error)}"
            return None

    def add(self, prompt: Prompt, completion: str, **extra: str) -> None:
        self.out.records.append(make_record(prompt, completion, self.example, **extra))


def make_record(prompt: Prompt, completion: str, example: Example, origin: str = "benchmark", **extra: object) -> dict:
    """One SFT record; the synthesize stage stamps its `template_version` (`prompt_version`)."""
    return {
        "task": prompt.task,
        "prompt": prompt.text,
        "completion": completion,
        "db_id": example.db_id,
        "example_id": example.id,
        "origin": origin,
        **extra,
    }


def clean_sql(sql: str) -> str:
    return " ".join(sql.strip().rstrip(";").split())


def first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
