"""Multitask Collaboration Prompting (ROUTE): the model links, drafts, regenerates, corrects, continues.

Every step runs over all questions at once (one batched `generate` call per step), never one
question at a time. Each question's trace keeps every step's output so the gain of each step
can be measured. Bad input never stops the run: a question whose database is missing, or that
is empty, fails with its reason and the others go on.

Steps, each switchable:
  (a) schema linking + a draft SQL on the full schema; their union is the reduced schema
      (LR-SQL slice linking replaces schema linking when the schema exceeds the token budget;
      when linking gives nothing usable the full schema stays);
  (b) SQL generation on the reduced schema (optionally n samples voted by execution result),
      kept unless it fails where the draft runs;
  (c) noise correction: a correction is kept only if the model rejects the SQL and the corrected
      SQL executes, and, where the SQL ran, the model judges its correction correct when shown it;
  (d) continuation from ``SELECT `` when the SQL fails or touches 0 or 3+ tables, kept only if
      it returns rows.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from routesql.config import Params
from routesql.db.compiles import SchemaCompiler
from routesql.db.execute import ExecResult, QueryRunner, classify_sqlite_error
from routesql.db.schema import DatabaseSchema, approx_token_count, read_schema, render_schema
from routesql.llm.generator import GenerationSettings, Generator, NameConstrainedGenerator
from routesql.sqlkit.extract import extract_sql
from routesql.sqlkit.links import parse_links, schema_links
from routesql.sqlkit.names import NameConstraint, QuestionValues, SchemaNames
from routesql.tasks.slicing import SliceQuestion, link_over_slices, slice_schema
from routesql.tasks.templates import (
    VERDICT_CORRECT,
    VERDICT_INCORRECT,
    continuation_prompt,
    noise_correction_prompt,
    parse_noise_correction,
    schema_linking_prompt,
    text_to_sql_prompt,
)

log = logging.getLogger(__name__)

STEPS = ("draft", "reduced", "corrected", "continued")


# Defaults come from routesql.config (params.yaml's `mcp`, `schema`, `execution` and `seed`).
_DEFAULTS = Params()


@dataclass(frozen=True)
class MCPSettings:
    schema_linking: bool = _DEFAULTS.mcp.schema_linking
    noise_correction: bool = _DEFAULTS.mcp.noise_correction
    continuation: bool = _DEFAULTS.mcp.continuation
    self_consistency: int = _DEFAULTS.mcp.self_consistency  # samples voted by execution result at step (b)
    # SQL-writing steps may name only the schema's tables and columns (local backend only)
    constrain_names: bool = _DEFAULTS.mcp.constrain_names
    # with constrain_names: string literals must be text of the question (or evidence), numbers
    # ones it states (or 0, 1); off for benchmarks whose values are not in their questions
    constrain_values: bool = _DEFAULTS.mcp.constrain_values
    # with constrain_names: a query may end only where it compiles on (an empty copy of) the schema
    compile_check: bool = _DEFAULTS.mcp.compile_check
    sample_temperature: float = _DEFAULTS.mcp.sample_temperature
    max_new_tokens: int = _DEFAULTS.mcp.max_new_tokens
    sample_rows: int = _DEFAULTS.schema_.sample_rows
    schema_style: str = _DEFAULTS.schema_.style  # as the model was trained (routesql.db.schema.SCHEMA_STYLES)
    token_budget: int = _DEFAULTS.schema_.token_budget  # a full schema above this is linked slice by slice
    timeout_s: float = _DEFAULTS.execution.timeout_s
    row_cap: int = _DEFAULTS.execution.row_cap
    result_cap_mb: float = _DEFAULTS.execution.result_cap_mb
    seed: int = _DEFAULTS.seed

    @classmethod
    def from_params(cls, params: Params) -> MCPSettings:
        """The MCP settings params.yaml asks for."""
        m = params.mcp
        return cls(
            schema_linking=m.schema_linking,
            noise_correction=m.noise_correction,
            continuation=m.continuation,
            self_consistency=m.self_consistency,
            constrain_names=m.constrain_names,
            constrain_values=m.constrain_values,
            compile_check=m.compile_check,
            sample_temperature=m.sample_temperature,
            max_new_tokens=m.max_new_tokens,
            sample_rows=params.schema_.sample_rows,
            schema_style=params.schema_.style,
            token_budget=params.schema_.token_budget,
            timeout_s=params.execution.timeout_s,
            row_cap=params.execution.row_cap,
            result_cap_mb=params.execution.result_cap_mb,
            seed=params.seed,
        )


def text_to_sql_only(settings: MCPSettings) -> MCPSettings:
    """The same decoding (constraints included) with every MCP step after the draft off: what the
    zero-shot baseline and tuning trials are scored with."""
    return replace(settings, schema_linking=False, noise_correction=False, continuation=False, self_consistency=1)


@dataclass(frozen=True)
class MCPQuestion:
    id: str
    question: str
    db_path: Path
    evidence: str = ""


@dataclass
class MCPTrace:
    id: str
    final: str = ""
    error: str | None = None  # why this question produced no prediction
    steps: dict[str, str] = field(default_factory=dict)  # step → SQL after that step
    notes: dict[str, str] = field(default_factory=dict)  # raw answers: links, verdicts, ...


@dataclass
class _Work:
    """Per-question state while the steps run."""

    question: MCPQuestion
    schema: DatabaseSchema
    full_text: str
    reduced_text: str = ""
    reduced: DatabaseSchema | None = None  # the schema the reduced prompt shows
    sql: str = ""
    values: QuestionValues | None = None  # the values its SQL may hold; None: any
    compile_check: bool = False  # its SQL may end only where it compiles on the prompt's schema
    _names: dict[bool, SchemaNames] = field(default_factory=dict)
    _compilers: dict[bool, SchemaCompiler] = field(default_factory=dict)  # in-memory; freed with the work

    def compiling(self, sql: str, reduced: bool, notes: dict[str, str] | None = None) -> str:
        """With compile_check, SQL cut off mid-statement (SQLite: incomplete input or a syntax
        error, as at max_new_tokens) becomes its longest prefix that compiles: where the model
        could have stopped. SQL that is whole but wrong (an unknown name) is left for NC to see."""
        if not self.compile_check or not sql:
            return sql
        compiler = self._compiler(reduced)
        problem = compiler.error(sql)
        if problem is None or classify_sqlite_error(problem) != "syntax":
            return sql
        trimmed = longest_compiling_prefix(sql, compiler.compiles)
        if notes is not None and trimmed:
            notes["trimmed"] = f"cut to its longest compiling prefix ({len(sql) - len(trimmed)} characters dropped)"
        return trimmed or sql

    def constraint(self, reduced: bool, lead: str = "", after_first_line: bool = False) -> NameConstraint:
        """What this question's SQL may name, on the full or the reduced schema (made once each)."""
        reduced = reduced and self.reduced is not None
        if reduced not in self._names:
            self._names[reduced] = SchemaNames.of(self._schema(reduced))
        compiles = self._compiler(reduced).compiles if self.compile_check else None
        return NameConstraint(self._names[reduced], lead, after_first_line, self.values, compiles)

    def _schema(self, reduced: bool) -> DatabaseSchema:
        return self.reduced if reduced and self.reduced is not None else self.schema

    def _compiler(self, reduced: bool) -> SchemaCompiler:
        """The in-memory copy of the full or the reduced schema that SQL is compiled on (made once each)."""
        reduced = reduced and self.reduced is not None
        if reduced not in self._compilers:
            self._compilers[reduced] = SchemaCompiler(self._schema(reduced))
        return self._compilers[reduced]


def longest_compiling_prefix(sql: str, compiles: Callable[[str], bool]) -> str:
    """The longest prefix of `sql` ending at a word boundary that compiles, or "" when none does."""
    ends = [m.start() for m in re.finditer(r"\s+", sql)]
    for end in reversed(ends):
        candidate = sql[:end].rstrip().rstrip(",")
        if candidate and compiles(candidate):
            return candidate
    return ""


class MCPPipeline:
    def __init__(self, generator: Generator, settings: MCPSettings = MCPSettings()) -> None:
        self.generator = generator
        self.settings = settings
        self.runner = QueryRunner(
            timeout_s=settings.timeout_s, row_cap=settings.row_cap, result_cap_mb=settings.result_cap_mb
        )
        self.constrains = settings.constrain_names and isinstance(generator, NameConstrainedGenerator)
        if settings.constrain_names and not self.constrains:
            log.info("names are not constrained: the %s backend cannot do it", type(generator).__name__)

    def run(self, questions: list[MCPQuestion]) -> list[MCPTrace]:
        traces = [MCPTrace(q.id) for q in questions]
        work: dict[int, _Work] = {}
        for i, q in enumerate(questions):
            problem = self._check_input(q)
            if problem:
                traces[i].error = problem
            else:
                schema = read_schema(q.db_path, self.settings.sample_rows)
                values = QuestionValues.of(q.question, q.evidence) if self.settings.constrain_values else None
                work[i] = _Work(
                    q, schema, self._render(schema), values=values, compile_check=self.settings.compile_check
                )
        if work:
            self._link_and_draft(work, traces)
            self._generate_on_reduced(work, traces)
            if self.settings.noise_correction:
                self._correct(work, traces)
            if self.settings.continuation:
                self._continue(work, traces)
        for i, w in work.items():
            traces[i].final = w.sql
            if not w.sql:
                traces[i].error = "the model's answers contained no SQL"
        return traces

    def _render(self, schema: DatabaseSchema) -> str:
        return render_schema(schema, self.settings.sample_rows, style=self.settings.schema_style)

    # --- steps --------------------------------------------------------------------------------

    def _link_and_draft(self, work: dict[int, _Work], traces: list[MCPTrace]) -> None:
        ids = list(work)
        drafts = self._greedy(
            [
                text_to_sql_prompt(work[i].full_text, work[i].question.question, work[i].question.evidence).text
                for i in ids
            ],
            [work[i].constraint(reduced=False) for i in ids],
        )
        linked = self._link(work) if self.settings.schema_linking else {}
        for i, draft in zip(ids, drafts):
            w = work[i]
            w.sql = w.compiling(extract_sql(draft), reduced=False, notes=traces[i].notes)
            traces[i].steps["draft"] = w.sql
            wanted = linked.get(i, {})
            traces[i].notes["links"] = "; ".join(f"{t}: {', '.join(c)}" for t, c in wanted.items())
            if not wanted:
                # No usable links: a schema cut to the draft's own tables adds nothing but the
                # draft's mistakes (a table it missed is then gone), so the full schema stays.
                w.reduced, w.reduced_text = None, w.full_text
                continue
            wanted = _union(wanted, _links_of(w.sql, w.schema))
            w.reduced = _reduce(w.schema, wanted)
            w.reduced_text = self._render(w.reduced) if w.reduced else w.full_text

    def _link(self, work: dict[int, _Work]) -> dict[int, dict[str, list[str]]]:
        """Schema links per question: one batched SL call, or LR-SQL slice walking for big schemas."""
        small = [i for i, w in work.items() if approx_token_count(w.full_text) <= self.settings.token_budget]
        large = [i for i in work if i not in small]
        links: dict[int, dict[str, list[str]]] = {}
        answers = self._greedy(
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
            items = [
                SliceQuestion(
                    work[i].question.question,
                    slice_schema(
                        work[i].schema,
                        self.settings.token_budget,
                        self.settings.sample_rows,
                        style=self.settings.schema_style,
                    ),
                    work[i].question.evidence,
                )
                for i in large
            ]
            for i, tables in zip(large, link_over_slices(items, self._greedy)):
                links[i] = {table: [] for table in tables}  # whole tables: slices name tables only
        return links

    def _generate_on_reduced(self, work: dict[int, _Work], traces: list[MCPTrace]) -> None:
        n = self.settings.self_consistency
        # Greedy on the unreduced prompt would only repeat the draft: those keep it.
        ids = [i for i in work if work[i].reduced is not None or n > 1]
        for i in work:
            traces[i].steps["reduced"] = work[i].sql
        prompts = [
            text_to_sql_prompt(work[i].reduced_text, work[i].question.question, work[i].question.evidence).text
            for i in ids
        ]
        constraints = [work[i].constraint(reduced=True) for i in ids]
        if n <= 1:
            samples = [[text] for text in self._greedy(prompts, constraints)]
        else:
            samples = self._generate(
                prompts, self._generation(n=n, temperature=self.settings.sample_temperature), constraints
            )
        for i, options in zip(ids, samples):
            w = work[i]
            chosen = self._vote(w.question.db_path, [w.compiling(extract_sql(o), reduced=True) for o in options])
            if chosen and chosen != w.sql:
                # The reduced schema can drop what the question needs: a draft that runs is not
                # traded for a reduced-schema SQL that fails.
                if w.sql and self._execute(w).ok and not self.execute(w.question.db_path, chosen).ok:
                    traces[i].notes["reduced"] = "dropped: it fails where the draft runs"
                else:
                    w.sql = chosen
            traces[i].steps["reduced"] = w.sql

    def _correct(self, work: dict[int, _Work], traces: list[MCPTrace]) -> None:
        ids = [i for i in work if work[i].sql]
        results = {i: self._execute(work[i]) for i in ids}
        prompts = [
            noise_correction_prompt(
                work[i].reduced_text,
                work[i].question.question,
                work[i].sql,
                results[i].error,
                work[i].question.evidence,
            ).text
            for i in ids
        ]
        constraints = [work[i].constraint(reduced=True, after_first_line=True) for i in ids]
        proposed: dict[int, str] = {}
        for i, answer in zip(ids, self._greedy(prompts, constraints)):
            verdict, corrected = parse_noise_correction(answer)
            corrected = extract_sql(corrected)
            traces[i].notes["verdict"] = verdict or "unreadable"
            proposes = verdict == VERDICT_INCORRECT and corrected and corrected != work[i].sql
            if proposes and self.execute(work[i].question.db_path, corrected).ok:
                if results[i].ok:
                    proposed[i] = corrected
                else:  # a failing SQL is wrong anyway: any correction that runs is kept
                    work[i].sql = corrected
                    traces[i].notes["correction"] = "kept"
        # A second look for SQL that ran: the model judges its own correction, and only one it
        # accepts replaces it (a checker that rejects everything would trade right SQL for wrong).
        for i, accepted in zip(proposed, self._judge_corrections(work, proposed)):
            traces[i].notes["correction"] = "kept" if accepted else "dropped: the second look rejected it"
            if accepted:
                work[i].sql = proposed[i]
        for i in work:
            traces[i].steps["corrected"] = work[i].sql

    def _judge_corrections(self, work: dict[int, _Work], proposed: dict[int, str]) -> list[bool]:
        if not proposed:
            return []
        prompts = [
            noise_correction_prompt(
                work[i].reduced_text, work[i].question.question, sql, None, work[i].question.evidence
            ).text
            for i, sql in proposed.items()
        ]
        verdict_only = GenerationSettings(max_new_tokens=8, stop=("\n",), seed=self.settings.seed)
        answers = self.generator.generate(prompts, verdict_only)  # the verdict line is never constrained
        return [bool(options) and parse_noise_correction(options[0])[0] == VERDICT_CORRECT for options in answers]

    def _continue(self, work: dict[int, _Work], traces: list[MCPTrace]) -> None:
        ids = [i for i in work if self._needs_continuation(work[i])]
        prompts = [
            continuation_prompt(
                work[i].reduced_text, work[i].question.question, "SELECT ", work[i].question.evidence
            ).text
            for i in ids
        ]
        constraints = [work[i].constraint(reduced=True, lead="SELECT ") for i in ids]
        for i, answer in zip(ids, self._greedy(prompts, constraints)):
            candidate = extract_sql("SELECT " + answer)
            result = self.execute(work[i].question.db_path, candidate) if candidate else None
            if result is not None and result.ok and result.rows:
                work[i].sql = candidate
                traces[i].notes["continued"] = "kept"
            else:
                traces[i].notes["continued"] = "dropped"
        for i in work:
            traces[i].steps["continued"] = work[i].sql

    # --- helpers ------------------------------------------------------------------------------

    def _check_input(self, q: MCPQuestion) -> str | None:
        if not q.question or not q.question.strip():
            return "empty question"
        if not Path(q.db_path).is_file():
            return f"database not found: {q.db_path}"
        return None

    def _generation(self, n: int = 1, temperature: float = 0.0) -> GenerationSettings:
        return GenerationSettings(
            n=n, temperature=temperature, max_new_tokens=self.settings.max_new_tokens, seed=self.settings.seed
        )

    def _greedy(self, prompts: list[str], constraints: list[NameConstraint] | None = None) -> list[str]:
        if not prompts:
            return []
        return [options[0] if options else "" for options in self._generate(prompts, self._generation(), constraints)]

    def _generate(
        self, prompts: list[str], settings: GenerationSettings, constraints: list[NameConstraint] | None
    ) -> list[list[str]]:
        if constraints is not None and self.constrains:
            assert isinstance(self.generator, NameConstrainedGenerator)
            return self.generator.generate_constrained(prompts, settings, list(constraints))
        return self.generator.generate(prompts, settings)

    def execute(self, db_path: Path, sql: str) -> ExecResult:
        """Run `sql` once per pipeline: every step (and `ask`'s final answer) reuses the result,
        so a slow query costs its timeout once, not once per step."""
        return self.runner.run(db_path, sql, cache=True)

    def _execute(self, w: _Work) -> ExecResult:
        return self.execute(w.question.db_path, w.sql)

    def _needs_continuation(self, w: _Work) -> bool:
        if not w.sql or not self.execute(w.question.db_path, w.sql).ok:
            return True
        touched = len(_links_of(w.sql, w.schema))
        return touched == 0 or touched >= 3

    def _vote(self, db_path: Path, candidates: list[str]) -> str:
        """Self-consistency: the SQL whose execution result most candidates share."""
        candidates = [c for c in candidates if c]
        if len(candidates) <= 1:
            return candidates[0] if candidates else ""
        signatures: dict[str, object] = {}
        for sql in candidates:
            result = self.execute(db_path, sql)
            if result.ok:
                signatures[sql] = tuple(sorted(map(repr, result.rows or ())))
        if not signatures:
            return candidates[0]
        counts = Counter(signatures.values())
        best = max(counts.values())
        return next(sql for sql in candidates if sql in signatures and counts[signatures[sql]] == best)


def _links_of(sql: str, schema: DatabaseSchema) -> dict[str, list[str]]:
    if not sql:
        return {}
    try:
        return schema_links(sql, schema.to_mapping())
    except ValueError:
        return {}


def _union(a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, list[str]]:
    merged = {t: list(c) for t, c in a.items()}
    for table, columns in b.items():
        merged.setdefault(table, [])
        merged[table] = sorted(set(merged[table]) | set(columns), key=str.lower)
    return merged


def _reduce(schema: DatabaseSchema, links: dict[str, list[str]]) -> DatabaseSchema | None:
    """The linked tables with their linked columns plus their key columns; None when nothing is linked.

    A table linked with no column keeps all its columns (slice linking names tables only).
    """
    if not links:
        return None
    wanted: dict[str, list[str] | None] = {}
    for table, columns in links.items():
        if not schema.has_table(table):
            continue
        if not columns:
            wanted[table] = None
            continue
        t = schema.table(table)
        keys = set(t.primary_key) | {fk.column for fk in t.foreign_keys}
        wanted[t.name] = [c for c in t.column_names if c in keys or c.lower() in {x.lower() for x in columns}]
    return schema.restricted(wanted) if wanted else None
