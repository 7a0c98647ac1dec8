"""One builder per ROUTE task: an example (+ its database) → SFT records.

Builders are pure functions of the example, the database and a per-example random generator,
so the stage can run them in any order, in any process, and still write identical files.
Noise-correction candidates are returned unexecuted: the stage executes them all at once and
keeps only those whose result differs from gold (or that fail).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from routesql.bench.example import Example
from routesql.db.schema import DatabaseSchema
from routesql.sqlkit.links import format_links, schema_links
from routesql.sqlkit.noise import CORRUPTIONS, corrupt
from routesql.sqlkit.prefix import canonical_sql, clause_prefixes
from routesql.tasks.slicing import SchemaSlice
from routesql.tasks.templates import (
    VERDICT_CORRECT,
    VERDICT_INCORRECT,
    Prompt,
    continuation_prompt,
    noise_correction_completion,
    noise_correction_prompt,
    schema_linking_prompt,
    slice_linking_completion,
    slice_linking_prompt,
    text_to_sql_prompt,
)


@dataclass(frozen=True)
class TaskSettings:
    sample_rows: int = 3
    schema_style: str = "ddl"  # routesql.db.schema.SCHEMA_STYLES
    noise_per_example: int = 2
    correct_share: float = 0.25
    continuation_per_example: int = 1


@dataclass
class NoiseCandidate:
    example_id: str
    db_id: str
    kind: str  # a key of CORRUPTIONS, or "weak_model"
    sql: str
    gold_sql: str


@dataclass
class ExampleOutput:
    records: list[dict] = field(default_factory=list)
    noise: list[NoiseCandidate] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # task → reason


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


def build_example(
    example: Example,
    schema: DatabaseSchema,
    schema_text: str,
    slices: list[SchemaSlice],
    settings: TaskSettings,
    rng: random.Random,
) -> ExampleOutput:
    """Every task's records for one training example (NC candidates still to be executed).

    `schema_text` is `render_schema(schema, settings.sample_rows, style=settings.schema_style)`,
    rendered once per database.
    """
    out = ExampleOutput()
    mapping = schema.to_mapping()
    gold = clean_sql(example.sql)
    out.records.append(make_record(text_to_sql_prompt(schema_text, example.question, example.evidence), gold, example))
    try:
        links = schema_links(example.sql, mapping)
    except ValueError as error:
        out.skipped["schema_linking"] = f"links: {_first_line(error)}"
        links = None
    if links is not None:
        prompt = schema_linking_prompt(schema_text, example.question, example.evidence)
        out.records.append(make_record(prompt, format_links(links), example))
        out.records.extend(slice_records(example, slices, list(links)))
    out.noise.extend(noise_candidates(example, mapping, settings.noise_per_example, rng, out.skipped))
    if rng.random() < settings.correct_share:
        prompt = noise_correction_prompt(schema_text, example.question, gold, None, example.evidence)
        out.records.append(
            make_record(prompt, noise_correction_completion(VERDICT_CORRECT, gold), example, noise_kind="none")
        )
    out.records.extend(continuation_records(example, mapping, schema_text, settings, rng, out.skipped))
    return out


def noise_candidates(
    example: Example, mapping: dict, count: int, rng: random.Random, skipped: dict[str, str]
) -> list[NoiseCandidate]:
    """Up to `count` corruptions of distinct kinds, tried in a random order of kinds."""
    kinds = sorted(CORRUPTIONS)
    rng.shuffle(kinds)
    found: list[NoiseCandidate] = []
    for kind in kinds:
        if len(found) == count:
            break
        try:
            noisy = corrupt(example.sql, mapping, kind, rng)
        except ValueError as error:
            skipped["noise_correction"] = f"parse: {_first_line(error)}"
            return found
        if noisy is not None:
            found.append(NoiseCandidate(example.id, example.db_id, kind, noisy, clean_sql(example.sql)))
    return found


def noise_record(example: Example, schema_text: str, candidate: NoiseCandidate, error: str | None) -> dict:
    prompt = noise_correction_prompt(schema_text, example.question, candidate.sql, error, example.evidence)
    completion = noise_correction_completion(VERDICT_INCORRECT, candidate.gold_sql)
    return make_record(prompt, completion, example, noise_kind=candidate.kind, noisy_sql=candidate.sql)


def continuation_records(
    example: Example,
    mapping: dict,
    schema_text: str,
    settings: TaskSettings,
    rng: random.Random,
    skipped: dict[str, str],
) -> list[dict]:
    """Prompts ending in a clause-boundary prefix of the gold query; the completion is the rest."""
    try:
        full = canonical_sql(example.sql, mapping)
        prefixes = clause_prefixes(example.sql, mapping)
    except ValueError as error:
        skipped["continuation"] = f"parse: {_first_line(error)}"
        return []
    chosen = rng.sample(prefixes, min(settings.continuation_per_example, len(prefixes)))
    records = []
    for prefix in sorted(chosen, key=len):
        prompt = continuation_prompt(schema_text, example.question, prefix, example.evidence)
        records.append(make_record(prompt, full[len(prefix) :], example))
    return records


def slice_records(example: Example, slices: list[SchemaSlice], linked_tables: list[str]) -> list[dict]:
    """LR-SQL: one record per slice, the gold tables of earlier slices carried as the hint."""
    wanted = {name.lower() for name in linked_tables}
    records: list[dict] = []
    selected: list[str] = []
    for part, piece in enumerate(slices, start=1):
        here = [name for name in piece.table_names if name.lower() in wanted]
        prompt = slice_linking_prompt(piece.text, example.question, list(selected), part, len(slices), example.evidence)
        records.append(make_record(prompt, slice_linking_completion(here), example))
        selected.extend(here)
    return records


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
