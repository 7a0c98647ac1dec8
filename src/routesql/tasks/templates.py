"""Prompt templates, one registry, versioned.

The version travels with every training record and, through the exported model, into the
registry: a model is always evaluated with the prompts it was trained on. Change any template
text → bump TEMPLATE_VERSION.

The task text is what every prompt is; how it becomes model input (the chat template of an
instruction-tuned base, or the text alone) is one function, `routesql.llm.prompting.render_prompt`,
used by training, local generation, the server and the HTTP backend alike.
"""

from __future__ import annotations

from dataclasses import dataclass

TEMPLATE_VERSION = "route-v3"


def prompt_version(schema_style: str) -> str:
    """What a model's prompts are: the template version and how the schema inside them is rendered.

    Records, exported models and registered versions carry this string; a model is only ever
    evaluated with the same one (e.g. "route-v3/compact").
    """
    return f"{TEMPLATE_VERSION}/{schema_style}"


SYSTEM_MESSAGE = "You are a careful SQLite expert. Answer with exactly what the task asks for."

VERDICT_CORRECT = "correct"
VERDICT_INCORRECT = "incorrect"
NO_TABLES = "none"


@dataclass(frozen=True)
class Prompt:
    task: str
    text: str


def _context(schema_text: str, question: str, evidence: str = "") -> str:
    """The schema first, then the question (and hint).

    Every question about a database then starts with the same tokens (task line and schema), which
    batched generation computes once per batch (`routesql.llm.local.shared_prefix_length`): on a
    CPU the schema is most of a prompt's cost. (route-v2 put the question first, for the tiny
    from-scratch model; a pretrained model reads the schema as it reads any DDL.)
    """
    hint = f"\n-- Hint: {evidence.strip()}" if evidence.strip() else ""
    return f"-- Database schema:\n{schema_text.rstrip()}\n-- Question: {question.strip()}{hint}\n"


def text_to_sql_prompt(schema_text: str, question: str, evidence: str = "") -> Prompt:
    return Prompt(
        "text_to_sql",
        "-- Task: write the SQLite query that answers the question.\n"
        + _context(schema_text, question, evidence)
        + "-- SQL:\n",
    )


def schema_linking_prompt(schema_text: str, question: str, evidence: str = "") -> Prompt:
    return Prompt(
        "schema_linking",
        "-- Task: list the tables and columns needed to answer the question, "
        "one line per table as `table: column, column`.\n"
        + _context(schema_text, question, evidence)
        + "-- Tables and columns:\n",
    )


def noise_correction_prompt(schema_text: str, question: str, sql: str, error: str | None, evidence: str = "") -> Prompt:
    failure = f"-- Execution error: {error.strip()}\n" if error else ""
    return Prompt(
        "noise_correction",
        "-- Task: say whether the SQL answers the question (correct/incorrect), "
        "then give the corrected SQL.\n"
        + _context(schema_text, question, evidence)
        + f"-- SQL to check:\n{sql.strip()}\n{failure}-- Verdict and SQL:\n",
    )


def continuation_prompt(schema_text: str, question: str, prefix: str, evidence: str = "") -> Prompt:
    """The prompt ends with the SQL prefix; the model writes the rest of the query."""
    return Prompt(
        "continuation",
        "-- Task: complete the SQLite query that answers the question.\n"
        + _context(schema_text, question, evidence)
        + f"-- SQL:\n{prefix}",
    )


def slice_linking_prompt(
    slice_text: str, question: str, selected: list[str], part: int, parts: int, evidence: str = ""
) -> Prompt:
    chosen = ", ".join(selected) if selected else NO_TABLES
    return Prompt(
        "slice_linking",
        f"-- Task: part {part} of {parts} of the database. Name the tables of this part "
        f"the query needs, or `{NO_TABLES}`.\n"
        + _context(slice_text, question, evidence)
        + f"-- Tables already selected: {chosen}\n-- Tables from this part:\n",
    )


def noise_correction_completion(verdict: str, sql: str) -> str:
    return f"{verdict}\n{sql.strip()}"


def parse_noise_correction(text: str) -> tuple[str | None, str]:
    """(verdict or None when unreadable, corrected SQL) from a model's answer."""
    head, _, rest = text.strip().partition("\n")
    verdict = head.strip().lower()
    if verdict not in (VERDICT_CORRECT, VERDICT_INCORRECT):
        return None, text.strip()
    return verdict, rest.strip()


def slice_linking_completion(tables: list[str]) -> str:
    return ", ".join(tables) if tables else NO_TABLES


def parse_slice_linking(text: str) -> list[str]:
    first = text.strip().splitlines()[0] if text.strip() else ""
    if first.strip().lower() in ("", NO_TABLES):
        return []
    return [name.strip().strip('`"') for name in first.split(",") if name.strip()]
