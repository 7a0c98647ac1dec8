"""One rule for turning task text into model input, shared by training, local generation, the
OpenAI-compatible server and the HTTP backend.

With a chat template (instruction-tuned bases) the task text is the user message after our system
message, and the template adds the assistant header; the completion the model is trained on (and
writes) is the assistant's answer, ended by the tokenizer's eos (`<|im_end|>` for SmolLM2). Without
a chat template (the embedded tiny base) the text is used as is.

`prompt_format(tokenizer)` names the rule a tokenizer gets ("plain", or "chat-" + a hash of the
template and the system message). It is part of the prompt version an exported model carries, so a
model is never run with a chat format it was not trained with.
"""

from __future__ import annotations

import hashlib
from typing import Any

from routesql.tasks.templates import SYSTEM_MESSAGE

PLAIN_FORMAT = "plain"


def task_messages(text: str) -> list[dict[str, str]]:
    """The chat messages that carry a task prompt (what the HTTP backend sends to a chat endpoint)."""
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": text}]


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_messages(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """Chat messages as model input (the template's assistant header last). Without a template the
    non-system contents joined by newlines: a plain model was trained on the task text alone, so
    `render_messages(t, task_messages(x)) == render_prompt(t, x)` holds for every tokenizer."""
    if has_chat_template(tokenizer):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return plain_chat_text(messages)


def plain_chat_text(messages: list[dict[str, str]]) -> str:
    """A chat as input for a model without a template: the non-system contents, one per line."""
    return "\n".join(message["content"] for message in messages if message["role"] != "system")


def render_prompt(tokenizer: Any, text: str) -> str:
    """A task prompt as model input: through the chat template when the tokenizer has one."""
    if has_chat_template(tokenizer):
        return render_messages(tokenizer, task_messages(text))
    return text


def prompt_format(tokenizer: Any) -> str:
    if not has_chat_template(tokenizer):
        return PLAIN_FORMAT
    digest = hashlib.sha256((tokenizer.chat_template + "\0" + SYSTEM_MESSAGE).encode("utf-8")).hexdigest()
    return f"chat-{digest[:12]}"


def model_prompt_version(records_version: str, tokenizer: Any) -> str:
    """What a trained model's prompts are: the records' template version and schema style, and the
    format its tokenizer renders them in (e.g. "route-v3/compact/chat-1a2b3c4d5e6f")."""
    return f"{records_version}/{prompt_format(tokenizer)}"
