"""Back-translation of sampled SQL into questions by an LLM (e.g. an OpenAI-compatible endpoint).

SENSE asks a strong model for the data; here the SQL is still sampled from the grammar (so it is
known to execute) and only the question is written by the model. Any `Generator` works: the HTTP
client, the local transformers backend, or a test double. One batched call covers all pairs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from routesql.errors import InputError
from routesql.llm.generator import GenerationSettings, Generator
from routesql.synth.strong import SyntheticPair

PROMPT_TEMPLATE = (
    "Database schema:\n{schema}\n\n"
    "SQL:\n{sql}\n\n"
    "Write the question this SQL answers, as one natural English sentence a user might ask. "
    "Mention every literal value exactly as written in the SQL.\n"
    "Question:"
)
DEFAULT_SETTINGS = GenerationSettings(n=1, temperature=0.0, max_new_tokens=96, stop=("\n\n",))
# Labels a model sometimes repeats before its answer ("Question: ...").
_LEADING_LABEL = re.compile(r"^(question|q)\s*:\s*", re.IGNORECASE)


def first_line(completion: str) -> str:
    """The first non-empty line of a completion, without a leading 'Question:' or wrapping quotes."""
    for line in completion.splitlines():
        text = _LEADING_LABEL.sub("", line.strip()).strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            text = text[1:-1].strip()
        if text:
            return text
    return ""


class EndpointQuestionWriter:
    """Asks a generator for the question each sampled SQL answers; keeps the template otherwise."""

    def __init__(self, generator: Generator, settings: GenerationSettings = DEFAULT_SETTINGS) -> None:
        self.generator = generator
        # One completion per pair is all that is used; asking for more would only cost tokens.
        self.settings = replace(settings, n=1)

    def prompt(self, sql: str, schema_text: str) -> str:
        return PROMPT_TEMPLATE.format(schema=schema_text, sql=sql)

    def write_questions(self, pairs: list[SyntheticPair], schema_text_by_db: Mapping[str, str]) -> list[SyntheticPair]:
        """The pairs with model-written questions; a pair whose completion is empty keeps its own."""
        if not pairs:
            return []
        missing = sorted({pair.db_id for pair in pairs} - set(schema_text_by_db))
        if missing:
            raise InputError("schema_text_by_db", f"no schema text for database(s) {', '.join(missing)}")
        prompts = [self.prompt(pair.sql, schema_text_by_db[pair.db_id]) for pair in pairs]
        completions = self.generator.generate(prompts, self.settings)
        if len(completions) != len(prompts):
            raise InputError("generator", f"returned {len(completions)} completion lists for {len(prompts)} prompts")
        rewritten = []
        for pair, outputs in zip(pairs, completions):
            question = first_line(outputs[0]) if outputs else ""
            rewritten.append(replace(pair, question=question) if question else pair)
        return rewritten
