"""Tokenising SFT records and packing several into one sequence, each record isolated.

Isolation works through `position_ids` alone: every record (and the padding tail) restarts at
position 0, and no attention mask is passed. transformers 5 (`masking_utils._preprocess_mask_arguments`
+ `find_packed_sequence_indices`) then treats each run of consecutive positions as its own sequence
and builds a block-diagonal causal mask for sdpa/eager; flash-attention reads the same boundaries
from position_ids. Two conditions, both met by `packed_forward`: no 2D attention mask and no KV
cache (`use_cache=False`; the Qwen2 config default `use_cache=True` would silently disable it).

Records that begin alike (one task on one database: the same task line and schema) can share that
beginning (`share_prefixes`): the prefix is written once, followed by each record's rest, whose
positions continue where the prefix ends (a jump back in `position_ids`). Record-by-record
attention (routesql.train.attention) lets each rest see the prefix and itself, so every record is
computed exactly as alone; on the demo a row of 1024 tokens then computes about 35% of its records'
tokens. Only that attention reads the jumps; transformers' own kernels would not.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from routesql.llm.prompting import render_prompt
from routesql.train.encoding import encode_texts

IGNORE_INDEX = -100
PAD_MULTIPLE = 8  # padded lengths rounded up to a multiple of 8 suit GPU matrix units


@dataclass(frozen=True)
class TokenizedRecord:
    """Token ids of prompt + completion + eos; labels are IGNORE_INDEX on the prompt tokens.

    A record made by `share_prefixes` holds several records of one prompt prefix; its `positions`
    then jump back to the prefix's end where each further record's rest begins.
    """

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    task_index: int
    scored: int  # completion tokens (+ eos): the tokens this record contributes to the loss
    positions: tuple[int, ...] | None = None  # None: 0, 1, 2, ...
    records: int = 1  # training records it holds
    tokens_alone: int | None = None  # the tokens of those records written out one by one; None: len

    def __len__(self) -> int:
        return len(self.input_ids)

    def length_alone(self) -> int:
        return len(self.input_ids) if self.tokens_alone is None else self.tokens_alone

    def position_ids(self) -> Sequence[int]:
        return range(len(self.input_ids)) if self.positions is None else self.positions

    def prompt_length(self) -> int:
        """Leading tokens without a label (the prompt of the first record it holds)."""
        return next((index for index, label in enumerate(self.labels) if label != IGNORE_INDEX), len(self.labels))


def tokenize_pairs(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], completions: Sequence[str]
) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, completion ids + eos) per pair.

    The prompt is rendered and encoded as generation does (`render_prompt`: the chat template when
    the tokenizer has one; the model's bos, if any), the completion without special tokens, so
    training sees exactly what generation continues.
    """
    prompt_ids = encode_texts(
        tokenizer, [render_prompt(tokenizer, prompt) for prompt in prompts], add_special_tokens=True
    )
    completion_ids = encode_texts(tokenizer, completions, add_special_tokens=False)
    eos = tokenizer.eos_token_id
    return [(list(prompt), [*completion, eos]) for prompt, completion in zip(prompt_ids, completion_ids)]


def tokenize_records(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    completions: Sequence[str],
    task_indices: Sequence[int],
) -> list[TokenizedRecord]:
    records = []
    for (prompt, completion), task_index in zip(tokenize_pairs(tokenizer, prompts, completions), task_indices):
        labels = (IGNORE_INDEX,) * len(prompt) + tuple(completion)
        records.append(TokenizedRecord(tuple(prompt + completion), labels, task_index, len(completion)))
    return records


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """How many leading tokens all of `sequences` have in common."""
    shortest = min(len(sequence) for sequence in sequences)
    for index in range(shortest):
        token = sequences[0][index]
        if any(sequence[index] != token for sequence in sequences):
            return index
    return shortest


def share_prefixes(
    records: Sequence[TokenizedRecord], groups: Sequence[str], max_len: int, seed: int
) -> list[TokenizedRecord]:
    """Records of one group (e.g. one database) written as their common prompt prefix once, then
    each record's rest, up to `max_len` tokens per result; the results in the records' order.

    A group's records are taken in a seeded shuffle (so one result mixes its database's questions
    of every origin). The shared part never reaches a completion: each rest keeps at least one
    prompt token, which is what the previous rest's last token is shifted against (see `token_losses`).
    """
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    shared: list[TokenizedRecord] = []
    for group, indices in members.items():
        random.Random(f"routesql-share:{seed}:{group}").shuffle(indices)
        group_records = [records[index] for index in indices]
        prefix = min(
            common_prefix_length([record.input_ids for record in group_records]),
            *(record.prompt_length() - 1 for record in group_records),
        )
        current: list[TokenizedRecord] = []
        length = prefix  # of the joined record `current` makes
        for record in group_records:
            if current and length + len(record) - prefix > max_len:
                shared.append(_joined(current, prefix))
                current, length = [], prefix
            current.append(record)
            length += len(record) - prefix
        shared.append(_joined(current, prefix))
    return shared


def _joined(records: Sequence[TokenizedRecord], prefix: int) -> TokenizedRecord:
    if len(records) == 1:
        return records[0]
    first, rest = records[0], records[1:]
    positions = list(range(len(first)))
    for record in rest:
        positions.extend(range(prefix, len(record)))
    return TokenizedRecord(
        input_ids=first.input_ids + tuple(token for record in rest for token in record.input_ids[prefix:]),
        labels=first.labels + tuple(label for record in rest for label in record.labels[prefix:]),
        task_index=first.task_index,
        scored=sum(record.scored for record in records),
        positions=tuple(positions),
        records=len(records),
        tokens_alone=sum(len(record) for record in records),
    )


def padded_length(longest: int) -> int:
    return -(-longest // PAD_MULTIPLE) * PAD_MULTIPLE


def collate_packs(packs: Sequence[Sequence[TokenizedRecord]], pad_id: int) -> dict[str, torch.Tensor]:
    """Rows of packed records: input_ids, labels, position_ids and task_ids (-1 where no loss).

    The padding tail is one more "record" (positions from 0, labels ignored) so it is isolated too.
    """
    width = padded_length(max(sum(len(record) for record in pack) for pack in packs))
    rows: dict[str, list[list[int]]] = {"input_ids": [], "labels": [], "position_ids": [], "task_ids": []}
    for pack in packs:
        input_ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        task_ids: list[int] = []
        for record in pack:
            input_ids.extend(record.input_ids)
            labels.extend(record.labels)
            positions.extend(record.position_ids())
            task_ids.extend(record.task_index if label != IGNORE_INDEX else -1 for label in record.labels)
        padding = width - len(input_ids)
        rows["input_ids"].append(input_ids + [pad_id] * padding)
        rows["labels"].append(labels + [IGNORE_INDEX] * padding)
        rows["position_ids"].append(positions + list(range(padding)))
        rows["task_ids"].append(task_ids + [-1] * padding)
    batch = {name: torch.tensor(values, dtype=torch.long) for name, values in rows.items()}
    batch["real_tokens"] = torch.tensor(sum(len(record) for pack in packs for record in pack))
    # what the same records cost unshared: the tokens a trainer without prefix sharing computes
    batch["record_tokens"] = torch.tensor(sum(record.length_alone() for pack in packs for record in pack))
    return batch


def non_padding_share(batch: dict[str, torch.Tensor]) -> float:
    """Share of the batch's token slots that hold record tokens (1.0 = no padding)."""
    return float(batch["real_tokens"]) / batch["input_ids"].numel()


def packed_forward(model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits of a packed batch with per-record attention isolation (see the module docstring)."""
    return model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits


def token_losses(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token next-token cross-entropy (fp32) over shifted labels, and the mask of scored tokens.

    The shift never crosses a record boundary usefully: the first token of every record is a prompt
    token (label ignored), so a record's last token is never trained to predict its neighbour.
    """
    shifted_logits = logits[:, :-1, :].float()
    shifted_labels = labels[:, 1:]
    losses = torch.nn.functional.cross_entropy(
        shifted_logits.reshape(-1, shifted_logits.size(-1)),
        shifted_labels.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="none",
    ).view_as(shifted_labels)
    return losses, shifted_labels != IGNORE_INDEX


@runtime_checkable
class WrappedLM(Protocol):
    """A wrapper around a causal LM (peft's `PeftModel`): anything with `get_base_model()`."""

    def get_base_model(self) -> torch.nn.Module: ...


def causal_lm(model: PreTrainedModel | WrappedLM) -> PreTrainedModel:
    """The causal LM inside a peft wrapper (LoRA layers are injected in place), or the model itself."""
    if isinstance(model, WrappedLM):
        base = model.get_base_model()
        assert isinstance(base, PreTrainedModel)  # peft wraps the transformers model it was given
        return base
    return model


def completion_token_losses(
    model: PreTrainedModel | WrappedLM, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same per-token losses as `token_losses(packed_forward(...))`, computed cheaper.

    The loss only reads completion positions, so the vocabulary projection (for a small model
    as costly as the whole transformer body) runs on those positions alone instead of all of them.
    """
    lm = causal_lm(model)
    hidden = lm.model(
        input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
    ).last_hidden_state
    labels = batch["labels"][:, 1:]
    scored = labels != IGNORE_INDEX
    logits = lm.get_output_embeddings()(hidden[:, :-1][scored]).float()
    picked = torch.nn.functional.cross_entropy(logits, labels[scored], reduction="none")
    losses = torch.zeros(labels.shape, dtype=picked.dtype, device=picked.device)
    losses[scored] = picked
    return losses, scored
