"""The continuation step: for SQL that fails or looks wrong, the model writes it again from ``SELECT ``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from routesql.mcp.work import MCPTrace, QuestionWork, links_of
from routesql.sqlkit.extract import extract_sql
from routesql.tasks.templates import continuation_prompt

if TYPE_CHECKING:
    from routesql.mcp.pipeline import MCPPipeline

LEAD = "SELECT "


class Continuation:
    """Runs where the SQL is empty, fails, or touches 0 or 3+ tables; the continued SQL is kept
    only if it returns rows."""

    name = "continuation"
    label = "continued"

    def run(self, pipeline: MCPPipeline, work: dict[int, QuestionWork], traces: list[MCPTrace]) -> None:
        ids = [i for i in work if self.needed(pipeline, work[i])]
        prompts = [
            continuation_prompt(work[i].reduced_text, work[i].question.question, LEAD, work[i].question.evidence).text
            for i in ids
        ]
        constraints = [work[i].constraint(reduced=True, lead=LEAD) for i in ids]
        for i, answer in zip(ids, pipeline.greedy(prompts, constraints)):
            candidate = extract_sql(LEAD + answer)
            result = pipeline.execute(work[i].question.db_path, candidate) if candidate else None
            if result is not None and result.ok and result.rows:
                work[i].sql = candidate
                traces[i].notes["continued"] = "kept"
            else:
                traces[i].notes["continued"] = "dropped"

    def needed(self, pipeline: MCPPipeline, w: QuestionWork) -> bool:
        if not w.sql or not pipeline.execute(w.question.db_path, w.sql).ok:
            return True
        touched = len(links_of(w.sql, w.schema))
        return touched == 0 or touched >= 3
