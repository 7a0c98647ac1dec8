"""ROUTE's schema linking: question and schema → the tables and columns the gold SQL uses."""

from __future__ import annotations

from routesql.sqlkit.links import format_links
from routesql.tasks.record import ExampleContext
from routesql.tasks.templates import schema_linking_prompt


class SchemaLinking:
    name = "schema_linking"
    default_ratio = 0.0  # 2 CPU cores have no time for it (README); 0.3 is a GPU starting point

    def build(self, ctx: ExampleContext) -> None:
        if ctx.links is not None:
            prompt = schema_linking_prompt(ctx.schema_text, ctx.example.question, ctx.example.evidence)
            ctx.add(prompt, format_links(ctx.links))
