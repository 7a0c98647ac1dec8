"""The SFT tasks: names for `tasks.mix`, default ratios, and the builder of each.

A new task is one module (a class with `name`, `default_ratio` and `build(ctx)`, see
`routesql.tasks.record.ExampleContext`) and one line here; the order is the canonical order of
the mix (the sampler draws in it) and of each example's records.
"""

from __future__ import annotations

import random
from typing import Protocol

from routesql.bench.example import Example
from routesql.db.schema import DatabaseSchema
from routesql.tasks.continuation import Continuation
from routesql.tasks.noise_correction import NoiseCorrection
from routesql.tasks.record import ExampleContext, ExampleOutput, TaskSettings
from routesql.tasks.schema_linking import SchemaLinking
from routesql.tasks.slice_linking import SliceLinking
from routesql.tasks.slicing import SchemaSlice
from routesql.tasks.text_to_sql import TextToSQL


class SFTTask(Protocol):
    name: str  # its key in tasks.mix and in each record's "task"
    default_ratio: float  # its ratio in the default tasks.mix

    def build(self, ctx: ExampleContext) -> None: ...


SFT_TASKS: tuple[SFTTask, ...] = (
    TextToSQL(),
    SchemaLinking(),
    NoiseCorrection(),
    Continuation(),
    SliceLinking(),
)
SFT_TASK_NAMES: tuple[str, ...] = tuple(task.name for task in SFT_TASKS)


def build_example(
    example: Example,
    schema: DatabaseSchema,
    schema_text: str,
    slices: list[SchemaSlice],
    settings: TaskSettings,
    rng: random.Random,
) -> ExampleOutput:
    """Every task's records for one training example (noise-correction candidates still to be executed)."""
    ctx = ExampleContext(example, schema, schema_text, slices, settings, rng)
    for task in SFT_TASKS:
        task.build(ctx)
    return ctx.out
