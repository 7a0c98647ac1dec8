"""The decoding loop: greedy equals transformers' `generate` (with the prompts' prefill in groups of
any size), a row that ends leaves the batch (and the rows left are unchanged by it), the
preallocated KV cache holds what transformers' concatenating cache holds, and sampling keeps to the
top-p nucleus."""

from __future__ import annotations

import math

import pytest
import torch

from routesql.llm import decoding
from routesql.llm.decoding import PreallocatedLayer, _sample, decode
from routesql.llm.local import MIN_SHARED_PREFIX, TransformersGenerator, left_pad, shared_prefix_length


def _left_padded(generator: TransformersGenerator, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    return left_pad([generator.tokenizer(p)["input_ids"] for p in prompts], generator.pad_id)


@pytest.mark.parametrize("group_rows", [1, 2, 64])  # prefill row by row, in pairs, all at once
def test_greedy_equals_transformers_generate(
    tiny_generator: TransformersGenerator,
    prompts: list[str],
    group_rows: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(decoding, "PREFILL_GROUP_ROWS", group_rows)
    ids, mask = _left_padded(tiny_generator, prompts)
    assert len(set(mask.sum(-1).tolist())) > 1, "the prompts must differ in length for the groups to differ in width"
    model = tiny_generator.model
    never = {len(tiny_generator.tokenizer) + 7}  # no eos: every row runs the full length
    with torch.inference_mode():
        ours = decode(model, ids, mask, max_new_tokens=10, eos_ids=never)
        theirs = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=10,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=tiny_generator.pad_id,
        )
    assert ours == theirs[:, ids.shape[1] :].tolist()


def test_a_row_that_ends_leaves_the_batch(tiny_generator: TransformersGenerator, prompts: list[str]) -> None:
    ids, mask = _left_padded(tiny_generator, prompts[:3])
    eos = tiny_generator.tokenizer.eos_token_id

    def end_row_one_at_step_two(sequences: torch.Tensor, scores: torch.Tensor, rows: list[int]) -> torch.Tensor:
        if sequences.shape[1] == ids.shape[1] + 1 and 1 in rows:  # row 1 has written one token
            scores[rows.index(1)] = float("-inf")
            scores[rows.index(1), eos] = 0.0
        return scores

    batch_sizes: list[int] = []
    hook = tiny_generator.model.register_forward_hook(
        lambda module, args, kwargs, output: batch_sizes.append(kwargs["input_ids"].shape[0]), with_kwargs=True
    )
    try:
        with torch.inference_mode():
            ended = decode(tiny_generator.model, ids, mask, 8, {eos}, constrain=end_row_one_at_step_two)
    finally:
        hook.remove()
    free = {len(tiny_generator.tokenizer) + 7}
    with torch.inference_mode():
        alone = [decode(tiny_generator.model, ids[i : i + 1], mask[i : i + 1], 8, free)[0] for i in (0, 2)]
    assert len(ended[1]) == 2 and ended[1][-1] == eos
    assert batch_sizes[:2] == [3, 3] and set(batch_sizes[2:]) <= {2}, batch_sizes
    for i, row in zip((0, 2), alone):
        assert ended[i] == row[: len(ended[i])]  # the rows left write what they write alone
        assert eos in ended[i] or len(ended[i]) == 8


def test_the_preallocated_cache_holds_what_concatenation_holds() -> None:
    torch.manual_seed(0)
    layer = PreallocatedLayer(capacity=3)
    steps = [torch.randn(4, 2, length, 8) for length in (2, 1, 1, 3)]  # 7 positions: it must grow
    for step in steps:
        keys, values = layer.update(step, -step)
    whole = torch.cat(steps, dim=-2)
    assert torch.equal(keys, whole) and torch.equal(values, -whole) and layer.get_seq_length() == 7
    layer.batch_select_indices(torch.tensor([0, 3]))
    more = torch.randn(2, 2, 1, 8)
    keys, values = layer.update(more, -more)
    assert torch.equal(keys, torch.cat([whole[[0, 3]], more], dim=-2))
    assert torch.equal(values, -torch.cat([whole[[0, 3]], more], dim=-2))


def test_sampling_keeps_to_the_top_p_nucleus() -> None:
    torch.manual_seed(0)
    scores = torch.tensor([[math.log(0.5), math.log(0.3), math.log(0.2)]]).repeat(4000, 1)
    drawn = _sample(scores, temperature=1.0, top_p=0.7).tolist()  # 0.5 + 0.3 reach 0.7: the third is out
    assert drawn.count(2) == 0
    assert drawn.count(0) / len(drawn) == pytest.approx(0.5 / 0.8, abs=0.03)
    whole = _sample(scores, temperature=1.0, top_p=1.0).tolist()
    assert whole.count(2) / len(whole) == pytest.approx(0.2, abs=0.03)
    assert set(_sample(scores[:50], temperature=1.0, top_p=1e-6).tolist()) == {0}


@pytest.mark.parametrize(
    "suffixes",
    [
        ["SELECT", "SELECT name FROM singer WHERE", "Question: names?\nSQL: SELECT"],  # suffixes of different lengths
        ["SELECT avg(age) FROM", "SELECT avg(age) FROM"],  # identical prompts
    ],
)
def test_a_shared_prefix_computed_once_gives_what_each_prompt_gives_alone(
    tiny_generator: TransformersGenerator, suffixes: list[str]
) -> None:
    prefix = "Question: How many singers are there?\nSQL: SELECT count(*) FROM singer;\n\n" * 3
    rows = [tiny_generator.tokenizer(prefix + suffix)["input_ids"] for suffix in suffixes]
    shared = shared_prefix_length(rows)
    assert shared >= MIN_SHARED_PREFIX and shared < min(len(row) for row in rows)
    never = {len(tiny_generator.tokenizer) + 7}
    model = tiny_generator.model
    with torch.inference_mode():
        ids, mask = left_pad(rows, tiny_generator.pad_id, shared=shared)
        together = decode(model, ids, mask, max_new_tokens=8, eos_ids=never, shared_prefix=shared)
        alone = [
            decode(model, *left_pad([row], tiny_generator.pad_id), max_new_tokens=8, eos_ids=never)[0] for row in rows
        ]
    assert together == alone


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([[1] * 40 + [2], [1] * 40 + [3, 4]], 40),
        ([[1] * 40, [1] * 40], 39),  # each row keeps one token of its own
        ([[1] * 20 + [2], [1] * 20 + [3]], 0),  # too short to be worth it
        ([[1] * 40 + [2]], 0),  # one row shares with nobody
    ],
)
def test_shared_prefix_length(rows: list[list[int]], expected: int) -> None:
    assert shared_prefix_length(rows) == expected


def _rows(prefix: int, count: int, length: int = 80) -> list[list[int]]:
    return [[prefix] * (length - 1) + [index] for index in range(count)]


@pytest.mark.parametrize(
    ("rows", "batch_size", "sizes"),
    [
        (_rows(1, 20) + _rows(2, 20), 64, [20, 20]),  # cut where the schema changes
        (_rows(1, 20) + _rows(2, 20), 8, [8, 8, 8, 8, 8]),  # full batches (a batch under 16 rows is not cut)
        (_rows(1, 5) + _rows(2, 5) + _rows(3, 5), 64, [15]),  # small groups share one batch
        ([], 8, []),
    ],
)
def test_prefix_batches(rows: list[list[int]], batch_size: int, sizes: list[int]) -> None:
    from routesql.llm.local import prefix_batches

    batches = prefix_batches(rows, batch_size)
    assert [len(batch) for batch in batches] == sizes
    assert [position for batch in batches for position in batch] == list(range(len(rows)))
