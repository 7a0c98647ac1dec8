"""LR-SQL: schema linking one token-budgeted slice at a time, the tables found so far as a hint."""

from __future__ import annotations

from routesql.tasks.record import ExampleContext
from routesql.tasks.templates import slice_linking_completion, slice_linking_prompt


class SliceLinking:
    name = "slice_linking"
    default_ratio = 0.0

    def build(self, ctx: ExampleContext) -> None:
        """One record per slice; the gold tables of earlier slices are carried as the hint."""
        if ctx.links is None:
            return
        wanted = {name.lower() for name in ctx.links}
        selected: list[str] = []
        for part, piece in enumerate(ctx.slices, start=1):
            here = [name for name in piece.table_names if name.lower() in wanted]
            prompt = slice_linking_prompt(
                piece.text, ctx.example.question, list(selected), part, len(ctx.slices), ctx.example.evidence
            )
            ctx.add(prompt, slice_linking_completion(here))
            selected.extend(here)
