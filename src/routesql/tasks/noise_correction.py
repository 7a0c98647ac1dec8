"""ROUTE's noise correction: question, schema and a SQL (+ its error) → a verdict and the correct SQL.

Corrupted candidates are returned unexecuted (`ExampleOutput.noise`): the synthesize stage
executes them all at once and turns those whose result differs from gold (or that fail) into
records with `noise_record`. A share of the gold queries is shown as correct.
"""

from __future__ import annotations

import random

from routesql.bench.example import Example
from routesql.sqlkit.noise import CORRUPTIONS, corrupt
from routesql.tasks.record import ExampleContext, NoiseCandidate, clean_sql, first_line, make_record
from routesql.tasks.templates import (
    VERDICT_CORRECT,
    VERDICT_INCORRECT,
    noise_correction_completion,
    noise_correction_prompt,
)


class NoiseCorrection:
    name = "noise_correction"
    default_ratio = 0.0

    def build(self, ctx: ExampleContext) -> None:
        count = ctx.settings.noise_per_example
        ctx.out.noise.extend(noise_candidates(ctx.example, ctx.mapping, count, ctx.rng, ctx.out.skipped))
        if ctx.rng.random() < ctx.settings.correct_share:
            prompt = noise_correction_prompt(
                ctx.schema_text, ctx.example.question, ctx.gold, None, ctx.example.evidence
            )
            ctx.add(prompt, noise_correction_completion(VERDICT_CORRECT, ctx.gold), noise_kind="none")


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
            skipped["noise_correction"] = f"parse: {first_line(error)}"
            return found
        if noisy is not None:
            found.append(NoiseCandidate(example.id, example.db_id, kind, noisy, clean_sql(example.sql)))
    return found


def noise_record(example: Example, schema_text: str, candidate: NoiseCandidate, error: str | None) -> dict:
    """The record of a candidate the stage kept: the verdict is incorrect, the completion the gold SQL."""
    prompt = noise_correction_prompt(schema_text, example.question, candidate.sql, error, example.evidence)
    completion = noise_correction_completion(VERDICT_INCORRECT, candidate.gold_sql)
    return make_record(prompt, completion, example, noise_kind=candidate.kind, noisy_sql=candidate.sql)
