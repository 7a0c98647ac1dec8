"""`routesql ask`: one question against one database, with the SQL, the rows and the MCP trace."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from routesql.db.connect import read_header
from routesql.errors import InputError
from routesql.mcp.pipeline import MCPPipeline
from routesql.mcp.settings import MCPSettings, load_checked_params
from routesql.mcp.work import MCPQuestion, MCPTrace


@dataclass
class AskResult:
    sql: str
    rows: tuple[tuple, ...] = ()
    columns: list[str] = field(default_factory=list)
    error: str | None = None
    trace: MCPTrace | None = None

    def render(self, max_rows: int = 20) -> str:
        lines = [f"SQL: {self.sql or '(none)'}"]
        if self.error:
            lines.append(f"error: {self.error}")
        else:
            lines.append(f"{len(self.rows)} row(s)")
            lines += [" | ".join(map(str, row)) for row in self.rows[:max_rows]]
            if len(self.rows) > max_rows:
                lines.append(f"... {len(self.rows) - max_rows} more")
        if self.trace is not None:
            lines.append("MCP trace:")
            lines += [f"  {step:<10} {sql}" for step, sql in self.trace.steps.items()]
            lines += [f"  {key:<10} {value}" for key, value in self.trace.notes.items()]
        return "\n".join(lines)


def resolve_model_dir(model: str) -> Path:
    """A local model folder, or the files of a registered MLflow model (models:/name@alias)."""
    if model.startswith("models:/"):
        from routesql.registry import download_registered_model

        return download_registered_model(model)
    return Path(model)


def check_question_and_database(question: str, db: Path) -> None:
    """Before any model loads: the question has text, and the database is a readable SQLite file."""
    if not question.strip():
        raise InputError("question", "is empty: ask something in plain language")
    if db.is_dir():
        raise InputError(db, "is a folder, not a SQLite database file")
    read_header(db)  # missing, empty, a Git LFS pointer or not SQLite: one line, now


def answer_question(question: str, db: Path, model: str, params_path: Path) -> AskResult:
    from routesql.evaluate import check_prompt_version, generator_from

    check_question_and_database(question, db)
    params = load_checked_params(params_path)
    model_dir = resolve_model_dir(model)
    check_prompt_version(model_dir, params.schema_.style)
    pipeline = MCPPipeline(generator_from(params, model_dir), MCPSettings.from_params(params))
    return answer_with(pipeline, question, db)


def answer_with(pipeline: MCPPipeline, question: str, db: Path) -> AskResult:
    trace = pipeline.run([MCPQuestion("ask", question, db)])[0]
    if trace.error:
        return AskResult(trace.final, error=trace.error, trace=trace)
    result = pipeline.execute(db, trace.final)
    if not result.ok:
        return AskResult(trace.final, error=result.error, trace=trace)
    return AskResult(trace.final, rows=result.rows or (), trace=trace)
