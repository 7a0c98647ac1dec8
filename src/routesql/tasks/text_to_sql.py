"""ROUTE's main task: question (+ evidence) and schema → the gold SQL."""

from __future__ import annotations

from routesql.tasks.record import ExampleContext
from routesql.tasks.templates import text_to_sql_prompt


class TextToSQL:
    name = "text_to_sql"
    default_ratio = 1.0

    def build(self, ctx: ExampleContext) -> None:
        ctx.add(text_to_sql_prompt(ctx.schema_text, ctx.example.question, ctx.example.evidence), ctx.gold)
