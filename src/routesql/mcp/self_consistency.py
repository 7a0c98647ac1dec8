"""The self_consistency step: sample several SQLs and keep the one most executions agree with."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from routesql.db.execute import ExecResult
from routesql.mcp.work import MCPTrace, QuestionWork
from routesql.sqlkit.extract import extract_sql
from routesql.tasks.templates import text_to_sql_prompt

if TYPE_CHECKING:
    from routesql.mcp.pipeline import MCPPipeline


class SelfConsistency:
    """`mcp.self_consistency` samples at `mcp.sample_temperature` on the current schema (the
    reduced one after schema_linking), voted by execution result; the winner is kept unless it
    fails where the current SQL runs."""

    name = "self_consistency"
    label = "voted"

    def run(self, pipeline: MCPPipeline, work: dict[int, QuestionWork], traces: list[MCPTrace]) -> None:
        settings = pipeline.settings
        ids = list(work)
        prompts = [
            text_to_sql_prompt(work[i].reduced_text, work[i].question.question, work[i].question.evidence).text
            for i in ids
        ]
        generation = pipeline.generation(n=settings.self_consistency, temperature=settings.sample_temperature)
        samples = pipeline.generate(prompts, generation, [work[i].constraint(reduced=True) for i in ids])
        for i, options in zip(ids, samples):
            w = work[i]
            run_here = partial(pipeline.execute, w.question.db_path)
            chosen = vote([w.compiling(extract_sql(o), reduced=True) for o in options], run_here)
            if chosen and chosen != w.sql:
                if pipeline.runs_no_worse(w, chosen):
                    w.sql = chosen
                else:
                    traces[i].notes[self.label] = "dropped: it fails where the current SQL runs"


def vote(candidates: list[str], execute: Callable[[str], ExecResult]) -> str:
    """The first candidate whose execution result most candidates share ("" when there are none)."""
    candidates = [c for c in candidates if c]
    if len(candidates) <= 1:
        return candidates[0] if candidates else ""
    signatures: dict[str, object] = {}
    for sql in candidates:
        result = execute(sql)
        if result.ok:
            signatures[sql] = tuple(sorted(map(repr, result.rows or ())))
    if not signatures:
        return candidates[0]
    counts = Counter(signatures.values())
    best = max(counts.values())
    return next(sql for sql in candidates if sql in signatures and counts[signatures[sql]] == best)
