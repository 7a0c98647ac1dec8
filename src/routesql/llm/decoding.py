"""The decoding loop of the local backend: a KV cache, and rows that leave the batch when they end.

`transformers`' `generate` keeps every row of a batch until the last one ends: a row that ended
after 20 tokens is computed (as padding) for as long as the slowest row runs. Here a row that
ends (eos, or a stop sequence) is dropped from the batch and from the KV cache at once, so each
step costs what the rows still writing cost. A batch of MCP prompts has rows of very different
lengths (a short SELECT next to a row that runs to the token limit), so this matters most there.

The KV cache is allocated once for the prompt plus `max_new_tokens` (`PreallocatedLayer`): a step
writes its token's keys and values in place. transformers' `DynamicCache` concatenates instead,
copying every row's whole cache at every step (in the demo's 64-question MCP batch that copying
was a fifth of the steps' time). The prompts' prefill runs in groups of similar length, each cut to its
own longest prompt, so short prompts are not computed at the longest one's width. Prompts that
share a long beginning (a database's schema, in every question about it) compute it once.

Each step: the constraint (if any) masks the scores of the rows still writing, then greedy takes
the best token, or sampling draws from the tempered, top-p cut distribution. Left-padded rows get
position ids that start at their first real token, as in the prompt alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from transformers import DynamicCache, PreTrainedModel
from transformers.cache_utils import DynamicLayer

# (the batch's sequences so far, the scores of their next token, the original row of each) → scores
Constrain = Callable[[torch.Tensor, torch.Tensor, list[int]], torch.Tensor]
# (the batch's sequences so far) → which rows hold a stop sequence
Stops = Callable[[torch.Tensor], list[bool]]

PREFILL_GROUP_ROWS = 16  # prompts of similar length run their prefill together, cut to their own width


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
    shared_prefix: int = 0,
) -> list[list[int]]:
    """The new tokens of each left-padded row (eos included when it ended on one).

    `temperature` 0 is greedy. Sampling draws from torch's global generator: seed it (in a forked
    RNG) for repeatable samples. `shared_prefix` > 0: every row starts with the same that many
    tokens, followed by its padding and the rest of its prompt (`left_pad(..., shared=...)`); the
    prefix is computed once for the batch.
    """
    rows = input_ids.shape[0]
    completions: list[list[int]] = [[] for _ in range(rows)]
    alive = list(range(rows))  # the original row of each row still in the batch
    sequences = input_ids
    mask = attention_mask
    step_input = input_ids
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    cache = preallocated_cache(model, input_ids.shape[1] + max_new_tokens)
    # Only the last position's logits are needed (a long prompt's are not), where the model can say so.
    last_only = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    for step in range(max_new_tokens):
        if step == 0 and shared_prefix > 0:
            logits = _prefill_shared(model, cache, input_ids, mask, positions, shared_prefix, last_only)
        elif step == 0:
            logits = _prefill(model, cache, input_ids, mask, positions, last_only)
        else:
            logits = model(
                input_ids=step_input,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
                **last_only,
            ).logits
        scores = logits[:, -1, :].float()
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


def _prefill(
    model: PreTrainedModel,
    cache: DynamicCache,
    input_ids: torch.Tensor,
    mask: torch.Tensor,
    positions: torch.Tensor,
    last_only: dict[str, int],
) -> torch.Tensor:
    """The prompts' forward pass: fills `cache` and gives the logits at the last position.

    Rows of similar length go through together, each group cut to its own longest prompt, so a
    batch of short and long prompts is not computed at the longest prompt's width (left padding
    is masked anyway). The groups' keys and values are then written into the batch's cache, to
    the right, as the whole batch would have them.
    """
    rows, width = input_ids.shape
    groups = _length_groups(mask.sum(-1).tolist(), PREFILL_GROUP_ROWS)
    layers = _preallocated_layers(cache)
    if len(groups) == 1 or layers is None:
        return model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            **last_only,
        ).logits[:, -1:]
    logits = None
    for group_rows, group_width in groups:
        index = torch.tensor(group_rows, device=input_ids.device)
        part = DynamicCache(config=model.config)
        group_logits = model(
            input_ids=input_ids[index, width - group_width :],
            attention_mask=mask[index, width - group_width :],
            position_ids=positions[index, width - group_width :],
            past_key_values=part,
            use_cache=True,
            **last_only,
        ).logits[:, -1:]
        if logits is None:
            logits = group_logits.new_zeros(rows, 1, group_logits.shape[-1])
        logits[index] = group_logits
        for layer, filled in zip(layers, part.layers):
            layer.write_rows(index, *_filled_states(filled), width, rows)
    if logits is None:
        raise ValueError("prefill of an empty batch: no prompt rows")
    return logits


def _prefill_shared(
    model: PreTrainedModel,
    cache: DynamicCache,
    input_ids: torch.Tensor,
    mask: torch.Tensor,
    positions: torch.Tensor,
    prefix: int,
    last_only: dict[str, int],
) -> torch.Tensor:
    """The prefill of rows laid out as [shared prefix | padding | own suffix]: the prefix's keys and
    values are computed once (one row) and copied to every row's first `prefix` positions; then
    only the suffixes run, attending to the prefix through the cache and the attention mask.

    When prompts repeat a long schema (every question of a database), this is most of the prefill.
    """
    layers = _preallocated_layers(cache)
    if layers is None:
        return _prefill(model, cache, input_ids, mask, positions, last_only)
    rows, width = input_ids.shape
    part = DynamicCache(config=model.config)
    model(
        input_ids=input_ids[:1, :prefix],
        position_ids=positions[:1, :prefix],
        past_key_values=part,
        use_cache=True,
        **last_only,
    )
    for layer, filled in zip(layers, part.layers):
        layer.write_prefix(*_filled_states(filled), rows, width)
    return model(
        input_ids=input_ids[:, prefix:],
        attention_mask=mask,
        position_ids=positions[:, prefix:],
        past_key_values=cache,
        use_cache=True,
        **last_only,
    ).logits[:, -1:]


def _preallocated_layers(cache: DynamicCache) -> list[PreallocatedLayer] | None:
    """The cache's layers when every one is a `PreallocatedLayer` (a model of plain full-attention
    layers only, see `preallocated_cache`), else None."""
    layers = [layer for layer in cache.layers if isinstance(layer, PreallocatedLayer)]
    return layers if len(layers) == len(cache.layers) else None


def _filled_states(layer: object) -> tuple[torch.Tensor, torch.Tensor]:
    """The keys and values a forward pass left in a layer of a fresh `DynamicCache` of the model."""
    # Only called when the model's cache is all `PreallocatedLayer`s, i.e. its fresh cache is all
    # plain `DynamicLayer`s, which the forward pass has just filled.
    assert isinstance(layer, DynamicLayer) and layer.keys is not None and layer.values is not None
    return layer.keys, layer.values


def _length_groups(lengths: list[int], group_rows: int) -> list[tuple[list[int], int]]:
    """Rows sorted by length, in groups of `group_rows`: (the group's rows, its longest length)."""
    order = sorted(range(len(lengths)), key=lambda row: lengths[row])
    groups = [order[start : start + group_rows] for start in range(0, len(order), group_rows)]
    return [(group, max(lengths[row] for row in group)) for group in groups]


class PreallocatedLayer(DynamicLayer):
    """A `DynamicLayer` whose keys and values live in buffers sized for the whole generation.

    `keys`/`values` are views of the buffers' filled part, so everything that reads a
    `DynamicLayer` (sequence length, masks, attention) reads this one the same way. A buffer that
    fills up doubles (a caller that under-estimated `capacity` stays correct).
    """

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self._allocate(key_states, value_states, key_states.shape[0], key_states.shape[-2])

    def _allocate(self, keys: torch.Tensor, values: torch.Tensor, batch: int, length: int) -> None:
        """Zeroed buffers of `batch` rows and room for `length` positions at least."""
        self.dtype, self.device = keys.dtype, keys.device
        self.key_buffer = _buffer(keys, batch, max(self.capacity, length))
        self.value_buffer = _buffer(values, batch, max(self.capacity, length))
        self.length = 0
        self.is_initialized = True

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self.key_buffer.shape[-2]:
            capacity = max(end, 2 * self.key_buffer.shape[-2])
            self.key_buffer = _regrown(self.key_buffer, self.length, capacity)
            self.value_buffer = _regrown(self.value_buffer, self.length, capacity)
        self.key_buffer[:, :, self.length : end] = key_states
        self.value_buffer[:, :, self.length : end] = value_states
        self.length = end
        self.keys = self.key_buffer[:, :, :end]
        self.values = self.value_buffer[:, :, :end]
        return self.keys, self.values

    def write_rows(self, rows: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, width: int, batch: int) -> None:
        """The prefill of some of a batch's `batch` rows, cut to their own width, written
        right-aligned into the cache's first `width` positions. What it leaves on their left stays
        zero, behind the attention mask."""
        if not self.is_initialized:
            self._allocate(keys, values, batch, width)
        self.key_buffer[rows, :, width - keys.shape[-2] : width] = keys
        self.value_buffer[rows, :, width - values.shape[-2] : width] = values
        self.length = width
        self.keys = self.key_buffer[:, :, :width]
        self.values = self.value_buffer[:, :, :width]

    def write_prefix(self, keys: torch.Tensor, values: torch.Tensor, batch: int, width: int) -> None:
        """One row's keys and values of a prefix all `batch` rows share, written into every row's
        first positions; the rows' own tokens are appended after them."""
        if not self.is_initialized:
            self._allocate(keys, values, batch, width)
        length = keys.shape[-2]
        self.key_buffer[:, :, :length] = keys
        self.value_buffer[:, :, :length] = values
        self.length = length
        self.keys = self.key_buffer[:, :, :length]
        self.values = self.value_buffer[:, :, :length]

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.is_initialized:
            self.key_buffer = _rows_of(self.key_buffer, indices, self.length)
            self.value_buffer = _rows_of(self.value_buffer, indices, self.length)
            self.keys = self.key_buffer[:, :, : self.length]
            self.values = self.value_buffer[:, :, : self.length]


def _buffer(states: torch.Tensor, batch: int, capacity: int) -> torch.Tensor:
    return states.new_zeros(batch, states.shape[1], capacity, states.shape[-1])


def _rows_of(buffer: torch.Tensor, rows: torch.Tensor, filled: int) -> torch.Tensor:
    """A buffer of the same capacity holding `rows` of `buffer`; only the filled part is copied."""
    kept = buffer.new_empty(len(rows), *buffer.shape[1:])
    torch.index_select(buffer[:, :, :filled], 0, rows, out=kept[:, :, :filled])
    return kept


def _regrown(buffer: torch.Tensor, filled: int, capacity: int) -> torch.Tensor:
    grown = buffer.new_empty(*buffer.shape[:2], capacity, buffer.shape[-1])
    grown[:, :, :filled] = buffer[:, :, :filled]
    return grown


def preallocated_cache(model: PreTrainedModel, capacity: int) -> DynamicCache:
    """The model's `DynamicCache`, its plain full-attention layers swapped for `PreallocatedLayer`s
    of `capacity` positions (sliding-window and other special layers stay as transformers built them)."""
    cache = DynamicCache(config=model.config)
    cache.layers = [PreallocatedLayer(capacity) if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache


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
