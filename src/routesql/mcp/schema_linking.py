"""The schema_linking step: link the question to the schema, reduce the schema, regenerate on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from routesql.llm.scoring import CompletionScorer
from routesql.mcp.work import MCPTrace, QuestionWork, links_of, reduce_schema, union_links
from routesql.sqlkit.extract import extract_sql
from routesql.sqlkit.links import format_links, parse_links
from routesql.tasks.slicing import SliceQuestion, link_over_slices, slice_schema
from routesql.tasks.templates import (
    schema_linking_prompt,
    slice_linking_completion,
    slice_linking_prompt,
    text_to_sql_prompt,
)

if TYPE_CHECKING:
    from routesql.mcp.pipeline import MCPPipeline


class SchemaLinking:
    """Links (one batched call; LR-SQL slice walking for a schema above the token budget), their
    union with the current SQL's own tables and columns as the reduced schema, and SQL generated
    on it, kept unless it fails where the current SQL runs. A question with no usable links keeps
    the full schema: a schema cut to the draft's own tables adds nothing but its mistakes. A slice
    walk that named no table takes the one the linker scores highest against `none` (local backend)."""

    name = "schema_linking"
    label = "reduced"

    def run(self, pipeline: MCPPipeline, work: dict[int, QuestionWork], traces: list[MCPTrace]) -> None:
        linked = self.link(pipeline, work)
        for i, w in work.items():
            wanted = linked.get(i, {})
            traces[i].notes["links"] = format_links(wanted)  # evaluate reads it back for table recall
            if wanted:
                w.reduced = reduce_schema(w.schema, union_links(wanted, links_of(w.sql, w.schema)))
                w.reduced_text = pipeline.render(w.reduced) if w.reduced else w.full_text
        ids = [i for i in work if work[i].reduced is not None]
        prompts = [
            text_to_sql_prompt(work[i].reduced_text, work[i].question.question, work[i].question.evidence).text
            for i in ids
        ]
        answers = pipeline.greedy(prompts, [work[i].constraint(reduced=True) for i in ids])
        for i, answer in zip(ids, answers):
            w = work[i]
            candidate = w.compiling(extract_sql(answer), reduced=True)
            if candidate and candidate != w.sql:
                if pipeline.runs_no_worse(w, candidate):
                    w.sql = candidate
                else:
                    traces[i].notes[self.label] = "dropped: it fails where the draft runs"

    def link(self, pipeline: MCPPipeline, work: dict[int, QuestionWork]) -> dict[int, dict[str, list[str]]]:
        """Schema links per question: one batched SL call, or LR-SQL slice walking for big schemas."""
        budget = pipeline.settings.token_budget
        small = [i for i, w in work.items() if pipeline.count_tokens(w.full_text) <= budget]
        large = [i for i in work if i not in small]
        links: dict[int, dict[str, list[str]]] = {}
        answers = pipeline.greedy(
            [
                schema_linking_prompt(work[i].full_text, work[i].question.question, work[i].question.evidence).text
                for i in small
            ]
        )
        for i, answer in zip(small, answers):
            try:
                links[i] = parse_links(answer, work[i].schema.to_mapping())
            except ValueError:
                links[i] = {}
        if large:
            settings = pipeline.settings
            items = [
                SliceQuestion(
                    work[i].question.question,
                    slice_schema(
                        work[i].schema, budget, settings.sample_rows, pipeline.count_tokens, style=settings.schema_style
                    ),
                    work[i].question.evidence,
                )
                for i in large
            ]
            for i, item, tables in zip(large, items, link_over_slices(items, pipeline.greedy)):
                if not tables and pipeline.score is not None:  # every query reads a table
                    best = best_table_against_none(item, pipeline.score)
                    tables = [best] if best else []
                links[i] = {table: [] for table in tables}  # whole tables: slices name tables only
        return links


def best_table_against_none(item: SliceQuestion, score: CompletionScorer) -> str | None:
    """The table, over all of the question's slices, whose name as the slice's whole answer
    scores highest above `none` (each slice shown as the walk showed it: nothing selected yet)."""
    prompts: list[str] = []
    completions: list[str] = []
    candidates: list[tuple[str, int, int]] = []  # (table, index of its score, of its slice's `none` score)
    for part, piece in enumerate(item.slices, start=1):
        prompt = slice_linking_prompt(piece.text, item.question, [], part, len(item.slices), item.evidence).text
        none_at = len(completions)
        prompts.append(prompt)
        completions.append(slice_linking_completion([]))
        for table in piece.table_names:
            candidates.append((table, len(completions), none_at))
            prompts.append(prompt)
            completions.append(slice_linking_completion([table]))
    if not candidates:
        return None
    scores = score(prompts, completions)
    return max(candidates, key=lambda c: scores[c[1]] - scores[c[2]])[0]
