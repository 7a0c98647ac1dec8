"""One rule for turning task text into model input, shared by training and inference.

With a chat template (instruction-tuned bases) the task text is the user message and the
template adds the assistant header; without one (the embedded tiny base) the text is used as is.
"""

from __future__ import annotations

from typing import Any

from routesql.tasks.templates import SYSTEM_MESSAGE


def render_prompt(tokenizer: Any, text: str) -> str:
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": text}]
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return text
