"""The generator interface shared by synthesis (weak samples) and inference (MCP).

Anything that turns a batch of prompts into n completions each is a generator: the local
transformers backend, an OpenAI-compatible HTTP client, or a test double.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


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

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        ...
