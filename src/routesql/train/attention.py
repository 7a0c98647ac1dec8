"""Attention over packed rows, record by record, for training on CPU (and any device).

A packed row holds several records, each restarting its `position_ids` at 0. transformers' stock
"sdpa" path turns that into a block-diagonal mask over the whole row: every layer then scores all
width x width token pairs, most of them masked, and loses SDPA's causal fast path. Here each
record's span is attended on its own with `is_causal=True`, so the cost follows the records'
lengths instead of the row's width, and no mask is built at all. The result is the same
attention (tests compare it with the masked path). Records that share their prompt's beginning
(`packing.share_prefixes`) are written as the prefix once and each record's rest: a rest attends
to the prefix and causally to itself, exactly what it would see alone.

Registered with transformers' AttentionInterface under `PACKED_ATTENTION`, with a mask function
that builds nothing. Only training modules switch to it (`use_packed_attention`); exported
models keep "sdpa", which generation needs.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional
from transformers import AttentionInterface, PreTrainedModel
from transformers.masking_utils import AttentionMaskInterface

from routesql.train.packing import WrappedLM, causal_lm

PACKED_ATTENTION = "routesql_packed"


class Span(NamedTuple):
    """Tokens start..end of a row, attended causally, after the first `shared` tokens of the
    group's first span (0: the span begins a group, as every record packed alone does)."""

    start: int
    end: int
    shared: int


def record_spans(position_ids: torch.Tensor) -> list[list[Span]]:
    """Per row, its spans: a span begins wherever positions do not go on by one. One that restarts
    at 0 (or the row's first) begins a group; one that jumps back to p > 0 is a record's rest after
    the first p tokens of its group's first span (`packing.share_prefixes`)."""
    width = position_ids.shape[-1]
    rows = []
    for row in position_ids.reshape(-1, width).tolist():
        starts = [0, *(index for index in range(1, width) if row[index] != row[index - 1] + 1)]
        spans, group_length = [], 0
        for start, end in zip(starts, [*starts[1:], width]):
            shared = 0 if start == 0 else row[start]
            if shared == 0:
                group_length = end - start
            elif shared > group_length:
                raise ValueError(f"positions jump back to {shared}, beyond the {group_length} tokens of their group")
            spans.append(Span(start, end, shared))
        rows.append(spans)
    return rows


def _span_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    group_key: torch.Tensor,
    group_value: torch.Tensor,
    shared: int,
    dropout: float,
    scaling: float | None,
    grouped: bool,
) -> torch.Tensor:
    """One span's attention: causal over itself, and over the first `shared` tokens of its group."""
    if not shared:
        return functional.scaled_dot_product_attention(
            query, key, value, dropout_p=dropout, is_causal=True, scale=scaling, enable_gqa=grouped
        )
    length = query.shape[2]
    mask = torch.ones(length, shared + length, dtype=torch.bool, device=query.device)
    mask[:, shared:] = torch.ones(length, length, dtype=torch.bool, device=query.device).tril()
    return functional.scaled_dot_product_attention(
        query,
        torch.cat([group_key[:, :, :shared], key], dim=2),
        torch.cat([group_value[:, :, :shared], value], dim=2),
        attn_mask=mask,
        dropout_p=dropout,
        scale=scaling,
        enable_gqa=grouped,
    )


def packed_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    position_ids: torch.Tensor | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """query (batch, heads, width, dim), key/value (batch, kv heads, width, dim) → (batch, width, heads, dim)."""
    if attention_mask is not None:
        raise ValueError(f"{PACKED_ATTENTION} attention takes records from position_ids, not from an attention mask")
    if position_ids is None:
        raise ValueError(f"{PACKED_ATTENTION} attention needs position_ids that restart at 0 for every record")
    if query.shape[2] != key.shape[2]:
        raise ValueError(f"{PACKED_ATTENTION} attention is for training: no KV cache")
    dropout = dropout if module.training else 0.0
    grouped = query.shape[1] != key.shape[1]
    rows = []
    # split/unbind, not slicing: a slice's backward writes a zero tensor the size of the whole
    # input for every span, while split's backward is one concatenation per row
    for spans, row_query, row_key, row_value in zip(
        record_spans(position_ids), query.unbind(0), key.unbind(0), value.unbind(0)
    ):
        lengths = [span.end - span.start for span in spans]
        pieces = []
        group_key = group_value = row_key  # replaced by the first span, which always begins a group
        for span, span_query, span_key, span_value in zip(
            spans, row_query.split(lengths, dim=1), row_key.split(lengths, dim=1), row_value.split(lengths, dim=1)
        ):
            if not span.shared:
                group_key, group_value = span_key, span_value
            pieces.append(
                _span_attention(
                    span_query.unsqueeze(0),
                    span_key.unsqueeze(0),
                    span_value.unsqueeze(0),
                    group_key.unsqueeze(0),
                    group_value.unsqueeze(0),
                    span.shared,
                    dropout,
                    scaling,
                    grouped,
                )
            )
        rows.append(torch.cat(pieces, dim=2) if len(pieces) > 1 else pieces[0])
    return torch.cat(rows, dim=0).transpose(1, 2).contiguous(), None


def _no_mask(*args, **kwargs) -> None:
    return None


AttentionInterface.register(PACKED_ATTENTION, packed_attention_forward)
AttentionMaskInterface.register(PACKED_ATTENTION, _no_mask)


def use_packed_attention(model: PreTrainedModel | WrappedLM, enabled: bool = True) -> None:
    """Switch a (possibly peft-wrapped) causal LM to record-by-record attention, or back to sdpa."""
    causal_lm(model).set_attn_implementation(PACKED_ATTENTION if enabled else "sdpa")
