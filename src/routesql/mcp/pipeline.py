"""The MCP pipeline: the draft, then each step of `mcp.steps` in order, over all questions at once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from routesql.db.execute import ExecResult, QueryRunner
from routesql.db.schema import DatabaseSchema, approx_token_count, read_schema, render_schema
from routesql.llm.generator import GenerationSettings, Generator, NameConstrainedGenerator, TokenCountingGenerator
from routesql.llm.scoring import CompletionScorer, completion_scorer
from routesql.mcp.registry import MCP_STEPS
from routesql.mcp.settings import DRAFT, MCPSettings
from routesql.mcp.work import MCPQuestion, MCPTrace, QuestionWork
from routesql.sqlkit.extract import extract_sql
from routesql.sqlkit.names import NameConstraint, QuestionValues
from routesql.tasks.templates import text_to_sql_prompt

log = logging.getLogger(__name__)


class MCPPipeline:
    def __init__(self, generator: Generator, settings: MCPSettings = MCPSettings()) -> None:
        self.generator = generator
        self.settings = settings
        self.steps = [MCP_STEPS[name] for name in settings.steps]
        self.runner = QueryRunner(
            timeout_s=settings.timeout_s, row_cap=settings.row_cap, result_cap_mb=settings.result_cap_mb
        )
        self.constrains = settings.constrain_names and isinstance(generator, NameConstrainedGenerator)
        # schema.token_budget counts the model's tokens, as synthesize's slices did at training
        self.count_tokens: Callable[[str], int] = (
            generator.count_tokens if isinstance(generator, TokenCountingGenerator) else approx_token_count
        )
        # slice linking's fallback for a walk that named no table (None: the backend cannot score)
        self.score: CompletionScorer | None = completion_scorer(generator)
        if settings.constrain_names and not self.constrains:
            log.info("names are not constrained: the %s backend cannot do it", type(generator).__name__)

    def run(self, questions: list[MCPQuestion]) -> list[MCPTrace]:
        traces = [MCPTrace(q.id) for q in questions]
        work: dict[int, QuestionWork] = {}
        for i, q in enumerate(questions):
            problem = self._check_input(q)
            if problem:
                traces[i].error = problem
            else:
                schema = read_schema(q.db_path, self.settings.sample_rows)
                values = QuestionValues.of(q.question, q.evidence) if self.settings.constrain_values else None
                text = self.render(schema)
                work[i] = QuestionWork(q, schema, text, text, values=values, compile_check=self.settings.compile_check)
        if work:
            self._draft(work, traces)
            for step in self.steps:
                step.run(self, work, traces)
                for i in work:
                    traces[i].steps[step.label] = work[i].sql
        for i, w in work.items():
            traces[i].final = w.sql
            if not w.sql:
                traces[i].error = "the model's answers contained no SQL"
        return traces

    def _draft(self, work: dict[int, QuestionWork], traces: list[MCPTrace]) -> None:
        """Text-to-SQL on the full schema: the SQL every step refines."""
        ids = list(work)
        prompts = [
            text_to_sql_prompt(work[i].full_text, work[i].question.question, work[i].question.evidence).text
            for i in ids
        ]
        for i, draft in zip(ids, self.greedy(prompts, [work[i].constraint(reduced=False) for i in ids])):
            work[i].sql = work[i].compiling(extract_sql(draft), reduced=False, notes=traces[i].notes)
            traces[i].steps[DRAFT] = work[i].sql

    # --- what steps use -------------------------------------------------------------------------

    def render(self, schema: DatabaseSchema) -> str:
        return render_schema(schema, self.settings.sample_rows, style=self.settings.schema_style)

    def generation(self, n: int = 1, temperature: float = 0.0) -> GenerationSettings:
        return GenerationSettings(
            n=n, temperature=temperature, max_new_tokens=self.settings.max_new_tokens, seed=self.settings.seed
        )

    def greedy(self, prompts: list[str], constraints: list[NameConstraint] | None = None) -> list[str]:
        return [options[0] if options else "" for options in self.generate(prompts, self.generation(), constraints)]

    def generate(
        self, prompts: list[str], settings: GenerationSettings, constraints: list[NameConstraint] | None
    ) -> list[list[str]]:
        if not prompts:
            return []
        if constraints is not None and self.constrains:
            assert isinstance(self.generator, NameConstrainedGenerator)
            return self.generator.generate_constrained(prompts, settings, list(constraints))
        return self.generator.generate(prompts, settings)

    def execute(self, db_path: Path, sql: str) -> ExecResult:
        """Run `sql` once per pipeline: every step (and `ask`'s final answer) reuses the result,
        so a slow query costs its timeout once, not once per step."""
        return self.runner.run(db_path, sql, cache=True)

    def runs_no_worse(self, w: QuestionWork, candidate: str) -> bool:
        """False when `candidate` fails where the question's current SQL runs (a step never trades
        SQL that runs for SQL that fails)."""
        db_path = w.question.db_path
        return not (w.sql and self.execute(db_path, w.sql).ok and not self.execute(db_path, candidate).ok)

    def _check_input(self, q: MCPQuestion) -> str | None:
        if not q.question or not q.question.strip():
            return "empty question"
        if not Path(q.db_path).is_file():
            return f"database not found: {q.db_path}"
        return None
