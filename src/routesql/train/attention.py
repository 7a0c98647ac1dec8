"""Attention over packed rows, record by record, for training on CPU (and any device).

A packed row holds several records, each restarting its `position_ids` at 0. transformers' stock
"sdpa" path turns that into a block-diagonal mask over the whole row: every layer then scores all
width x width token pairs, most of them masked, and loses SDPA's causal fast path. Here each
record's span is attended on its own with `is_causal=True`, so the cost follows the records'
lengths instead of the row's width, and no mask is built at all. The result is the same
attention (tests compare it with the masked path).

Registered with transformers' AttentionInterface under `PACKED_ATTENTION`, with a mask function
that builds nothing. Only training modules switch to it (`use_packed_attention`); exported
models keep "sdpa", which generation needs.
"""

from __future__ import annotations

import torch
from torch.nn import functional
from transformers import AttentionInterface, PreTrainedModel
from transformers.masking_utils import AttentionMaskInterface

from routesql.train.packing import WrappedLM, causal_lm

PACKED_ATTENTION = "routesql_packed"


def record_spans(position_ids: torch.Tensor) -> list[list[tuple[int, int]]]:
    """Per row, the (start, end) of every run of positions that starts at 0."""
    width = position_ids.shape[-1]
    spans = []
    for row in position_ids.reshape(-1, width):
        starts = torch.nonzero(row == 0).flatten().tolist()
        if not starts or starts[0] != 0:
            starts = [0, *starts]
        spans.append(list(zip(starts, [*starts[1:], width])))
    return spans


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
        lengths = [end - start for start, end in spans]
        pieces = [
            functional.scaled_dot_product_attention(
                span_query.unsqueeze(0),
                span_key.unsqueeze(0),
                span_value.unsqueeze(0),
                dropout_p=dropout,
                is_causal=True,
                scale=scaling,
                enable_gqa=grouped,
            )
            for span_query, span_key, span_value in zip(
                row_query.split(lengths, dim=1), row_key.split(lengths, dim=1), row_value.split(lengths, dim=1)
            )
        ]
        rows.append(torch.cat(pieces, dim=2) if len(pieces) > 1 else pieces[0])
    return torch.cat(rows, dim=0).transpose(1, 2).contiguous(), None


def _no_mask(*args, **kwargs) -> None:
    return None


AttentionInterface.register(PACKED_ATTENTION, packed_attention_forward)
AttentionMaskInterface.register(PACKED_ATTENTION, _no_mask)


def use_packed_attention(model: PreTrainedModel | WrappedLM, enabled: bool = True) -> None:
    """Switch a (possibly peft-wrapped) causal LM to record-by-record attention, or back to sdpa."""
    causal_lm(model).set_attn_implementation(PACKED_ATTENTION if enabled else "sdpa")
