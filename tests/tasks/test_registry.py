"""The SFT task registry: each task's records for one example of a real SQLite database, the
registry order as the mix's canonical order, and a new task added by one registry entry."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from routesql.bench.example import Example
from routesql.db.schema import read_schema, render_schema
from routesql.sqlkit.prefix import canonical_sql
from routesql.tasks import registry
from routesql.tasks.record import ExampleContext, ExampleOutput
from routesql.tasks.registry import SFT_TASK_NAMES, SFT_TASKS, build_example
from routesql.tasks.slicing import slice_schema
from routesql.train.settings import default_mix
from support import task_settings

SQL = "SELECT name FROM owner JOIN pet ON pet.owner_id = owner.id WHERE kind = 'cat'"
SETTINGS = task_settings(sample_rows=0, schema_style="compact", noise_per_example=2, correct_share=1.0)


def _build(db: Path, sql: str = SQL, budget: int = 1000) -> ExampleOutput:
    schema = read_schema(db, 0)
    text = render_schema(schema, 0, style="compact")
    slices = slice_schema(schema, budget, 0, style="compact")
    example = Example("pets/train/0", "pets", "Who owns a cat?", sql)
    return build_example(example, schema, text, slices, SETTINGS, random.Random("0:pets/train/0"))


def test_the_registry_order_is_the_mix_order_and_its_defaults_are_the_default_mix() -> None:
    assert SFT_TASK_NAMES == ("text_to_sql", "schema_linking", "noise_correction", "continuation", "slice_linking")
    assert default_mix() == {task.name: task.default_ratio for task in SFT_TASKS}


@pytest.mark.parametrize(
    ("task", "completions"),
    [
        ("text_to_sql", [SQL]),
        ("schema_linking", ["owner: id, name\npet: kind, owner_id"]),
        ("noise_correction", [f"correct\n{SQL}"]),  # the gold shown as correct (correct_share 1.0)
        ("continuation", None),  # the rest of the gold after a clause-boundary prefix
        ("slice_linking", ["owner, pet"]),  # one slice holds both tables under the budget
    ],
)
def test_each_task_builds_its_records(pets_db: Path, task: str, completions: list[str] | None) -> None:
    out = _build(pets_db)
    records = [r for r in out.records if r["task"] == task]
    assert records, f"no {task} records"
    assert all(r["db_id"] == "pets" and r["example_id"] == "pets/train/0" for r in records)
    if completions is not None:
        assert [r["completion"] for r in records] == completions
    else:  # the prompt ends in a proper prefix of the canonical gold; the completion is the rest
        (record,) = records
        full = canonical_sql(SQL, read_schema(pets_db, 0).to_mapping())
        prefix = full[: len(full) - len(record["completion"])]
        assert full.endswith(record["completion"]) and prefix and record["completion"]
        assert record["prompt"].endswith(prefix)


def test_noise_candidates_wait_for_execution(pets_db: Path) -> None:
    out = _build(pets_db)
    assert len(out.noise) == 2 and len({c.kind for c in out.noise}) == 2
    assert all(c.sql != SQL and c.gold_sql == SQL for c in out.noise)


def test_a_query_that_does_not_parse_is_skipped_with_its_reason(pets_db: Path) -> None:
    out = _build(pets_db, sql="SELECT name FROM owner WHERE (")
    assert {r["task"] for r in out.records} == {"text_to_sql", "noise_correction"}
    assert set(out.skipped) == {"schema_linking", "noise_correction", "continuation"}


def test_the_same_seed_builds_the_same_records(pets_db: Path) -> None:
    assert _build(pets_db) == _build(pets_db)


def test_a_new_task_is_one_registry_entry(pets_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class QuestionEcho:
        name, default_ratio = "question_echo", 0.0

        def build(self, ctx: ExampleContext) -> None:
            ctx.out.records.append({"task": self.name, "prompt": ctx.example.question, "completion": ctx.gold})

    monkeypatch.setattr(registry, "SFT_TASKS", (*SFT_TASKS, QuestionEcho()))
    out = _build(pets_db)
    assert out.records[-1] == {"task": "question_echo", "prompt": "Who owns a cat?", "completion": SQL}
