"""Log-likelihoods of given completions after their prompts, under the local backend's model.

MCP's slice linking uses them to choose a table when its walk named none. The HTTP backend has no
scoring endpoint: `completion_scorer` gives None for it, and callers go without.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from routesql.llm.generator import Generator
from routesql.llm.local import TransformersGenerator
from routesql.llm.prompting import render_prompt

log = logging.getLogger(__name__)

# (task prompts, completions) → log-likelihood of each completion after its prompt
CompletionScorer = Callable[[list[str], list[str]], list[float]]


def completion_scorer(generator: Generator) -> CompletionScorer | None:
    """The generator's scorer: the local backend's model; None for a backend that cannot score."""
    if isinstance(generator, TransformersGenerator):
        return lambda prompts, completions: completion_log_likelihoods(generator, prompts, completions)
    log.info("completions are not scored: the %s backend cannot do it", type(generator).__name__)
    return None


@torch.inference_mode()
def completion_log_likelihoods(
    generator: TransformersGenerator, prompts: list[str], completions: list[str]
) -> list[float]:
    """Sum of log-probabilities of each completion's tokens and the eos after them, its prompt
    rendered and encoded as generation does: the target training taught (`tokenize_pairs`).
    A prompt repeated for several completions (a slice and its candidate answers) is run through
    the model once; each completion then continues from its cached keys and values."""
    if len(prompts) != len(completions):
        raise ValueError(f"{len(completions)} completions for {len(prompts)} prompts")
    tokenizer = generator.tokenizer
    scores: list[float] = [0.0] * len(prompts)
    by_prompt: dict[str, list[int]] = {}
    for index, prompt in enumerate(prompts):
        by_prompt.setdefault(prompt, []).append(index)
    for prompt, indices in by_prompt.items():
        prompt_ids = tokenizer(render_prompt(tokenizer, prompt), add_special_tokens=True)["input_ids"]
        out = generator.model(torch.tensor([prompt_ids], device=generator.device), use_cache=True)
        cache, first_logits = out.past_key_values, out.logits[0, -1:].float()
        for index in indices:
            target = [*tokenizer(completions[index], add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
            logits = first_logits
            if len(target) > 1:
                rest = generator.model(
                    torch.tensor([target[:-1]], device=generator.device), past_key_values=cache, use_cache=True
                )
                logits = torch.cat([first_logits, rest.logits[0].float()])
                cache.crop(-(len(target) - 1))  # back to the prompt alone for the next completion
            picked = torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(target, device=logits.device)[:, None])
            scores[index] = picked.sum().item()
    return scores
