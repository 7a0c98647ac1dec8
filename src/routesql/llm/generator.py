"""The generator interface shared by synthesis (weak samples) and inference (MCP).

Anything that turns a batch of prompts into n completions each is a generator: the local
transformers backend, an OpenAI-compatible HTTP client, or a test double.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from routesql.sqlkit.names import NameConstraint


@dataclass(frozen=True)
class GenerationSettings:
    n: int = 1
    temperature: float = 0.0  # 0 → greedy
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = field(default_factory=tuple)
    seed: int = 0


@runtime_checkable
class Generator(Protocol):
    """prompts → for each prompt, `settings.n` completions (text after the prompt, stop removed)."""

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]: ...


@runtime_checkable
class TokenCountingGenerator(Protocol):
    """A generator that counts tokens as its model's tokenizer does (the local backend).

    MCP slices a schema by this count, as `synthesize` sliced the training schemas with the same
    tokenizer; a generator without it gets the estimate (`approx_token_count`).
    """

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class NameConstrainedGenerator(Protocol):
    """A generator that can also veto names outside a schema while decoding (the local backend).

    `constraints[i]` applies to `prompts[i]`; None leaves that prompt free.
    """

    def generate_constrained(
        self, prompts: list[str], settings: GenerationSettings, constraints: list[NameConstraint | None]
    ) -> list[list[str]]: ...
