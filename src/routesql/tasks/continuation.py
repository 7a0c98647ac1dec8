"""ROUTE's continuation: a prompt ending in a clause-boundary prefix of the gold SQL → the rest."""

from __future__ import annotations

from routesql.sqlkit.prefix import canonical_sql, clause_prefixes
from routesql.tasks.record import ExampleContext, first_line
from routesql.tasks.templates import continuation_prompt


class Continuation:
    name = "continuation"
    default_ratio = 0.1

    def build(self, ctx: ExampleContext) -> None:
        try:
            full = canonical_sql(ctx.example.sql, ctx.mapping)
            prefixes = clause_prefixes(ctx.example.sql, ctx.mapping)
        except ValueError as error:
            ctx.out.skipped[self.name] = f"parse: {first_line(error)}"
            return
        chosen = ctx.rng.sample(prefixes, min(ctx.settings.continuation_per_example, len(prefixes)))
        for prefix in sorted(chosen, key=len):
            ctx.add(
                continuation_prompt(ctx.schema_text, ctx.example.question, prefix, ctx.example.evidence),
                full[len(prefix) :],
            )
