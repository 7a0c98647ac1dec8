"""The decoding loop of the local backend: a KV cache, and rows that leave the batch when they end.

`transformers`' `generate` keeps every row of a batch until the last one ends: a row that ended
after 20 tokens is computed (as padding) for as long as the slowest row runs. Here a row that
ends (eos, or a stop sequence) is dropped from the batch and from the KV cache at once, so each
step costs what the rows still writing cost. A batch of MCP prompts has rows of very different
lengths (a short SELECT next to a row that runs to the token limit), so this matters most there.

Each step: the constraint (if any) masks the scores of the rows still writing, then greedy takes
the best token, or sampling draws from the tempered, top-p cut distribution. Left-padded rows get
position ids that start at their first real token, as in the prompt alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from transformers import DynamicCache, PreTrainedModel

# (the batch's sequences so far, the scores of their next token, the original row of each) → scores
Constrain = Callable[[torch.Tensor, torch.Tensor, list[int]], torch.Tensor]
# (the batch's sequences so far) → which rows hold a stop sequence
Stops = Callable[[torch.Tensor], list[bool]]


def decode(
    model: PreTrainedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    max_new_tokens: int,
    eos_ids: set[int],
    temperature: float = 0.0,
    top_p: float = 1.0,
    constrain: Constrain | None = None,
    stops: Stops | None = None,
) -> list[list[int]]:
    """The new tokens of each left-padded row (eos included when it ended on one).

    `temperature` 0 is greedy. Sampling draws from torch's global generator: seed it (in a forked
    RNG) for repeatable samples.
    """
    rows = input_ids.shape[0]
    completions: list[list[int]] = [[] for _ in range(rows)]
    alive = list(range(rows))  # the original row of each row still in the batch
    sequences = input_ids
    mask = attention_mask
    step_input = input_ids
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    # Only the last position's logits are needed (a long prompt's are not), where the model can say so.
    last_only = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    for _ in range(max_new_tokens):
        output = model(input_ids=step_input, attention_mask=mask, position_ids=positions,
                       past_key_values=cache, use_cache=True, **last_only)
        scores = output.logits[:, -1, :].float()
        if constrain is not None:
            scores = constrain(sequences, scores, alive)
        chosen = _sample(scores, temperature, top_p) if temperature > 0 else scores.argmax(-1)
        sequences = torch.cat([sequences, chosen[:, None]], dim=1)
        tokens = chosen.tolist()
        ended = [token in eos_ids for token in tokens]
        if stops is not None:
            ended = [a or b for a, b in zip(ended, stops(sequences))]
        for row, token in zip(alive, tokens):
            completions[row].append(token)
        if all(ended):
            break
        if any(ended):
            keep = torch.tensor([i for i, done in enumerate(ended) if not done], device=input_ids.device)
            cache.batch_select_indices(keep)
            alive = [alive[i] for i in keep.tolist()]
            sequences, mask, chosen = sequences[keep], mask[keep], chosen[keep]
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        positions = mask.long().sum(-1, keepdim=True) - 1
        step_input = chosen[:, None]
    return completions


def _sample(scores: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    """One token per row from softmax(scores / temperature), cut to the smallest set of best tokens
    whose probability reaches `top_p` (the best token always stays)."""
    probabilities = torch.softmax(scores / temperature, dim=-1)
    if top_p < 1.0:
        ordered, order = probabilities.sort(dim=-1, descending=True)
        before = ordered.cumsum(-1) - ordered  # the mass of the better tokens
        ordered = ordered.masked_fill(before >= top_p, 0.0)
        probabilities = torch.zeros_like(probabilities).scatter(-1, order, ordered)
    return torch.multinomial(probabilities, 1).squeeze(-1)
