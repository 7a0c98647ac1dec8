"""Packing: per-record attention isolation, loss on completion tokens only, padding share."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from routesql.train.attention import PACKED_ATTENTION, record_spans, use_packed_attention
from routesql.train.packing import (
    IGNORE_INDEX,
    TokenizedRecord,
    collate_packs,
    completion_token_losses,
    non_padding_share,
    packed_forward,
    share_prefixes,
    token_losses,
    tokenize_records,
)
from routesql.train.records import load_sft_records

PROMPTS = ["Question: How many owners?\nSQL: ", "Tables: owner, pet\nQuestion: Names of cats?\nSQL: ", "Q: x\n"]
COMPLETIONS = ["SELECT count(*) FROM owner", "SELECT name FROM pet WHERE kind = 'cat'", "SELECT 1"]


@pytest.fixture(scope="module")
def tokenizer(tiny_base: Path):
    return AutoTokenizer.from_pretrained(tiny_base)


@pytest.mark.parametrize("attention", ["sdpa", "eager", PACKED_ATTENTION])
def test_packed_record_logits_equal_its_logits_alone(tiny_base: Path, tokenizer, attention: str) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32)
    model.set_attn_implementation(attention)
    records = tokenize_records(tokenizer, PROMPTS, COMPLETIONS, [0, 1, 3])
    batch = collate_packs([records, records[::-1]], tokenizer.pad_token_id)
    with torch.no_grad():
        packed = packed_forward(model.eval(), batch)
        for row, order in enumerate([records, records[::-1]]):
            offset = 0
            for record in order:
                alone = model(input_ids=torch.tensor([record.input_ids]), use_cache=False).logits[0]
                torch.testing.assert_close(packed[row, offset : offset + len(record)], alone, atol=1e-5, rtol=0)
                offset += len(record)


# (positions of one row, spans as (start, end, tokens of the group's first span seen before it))
SPAN_CASES = [
    ([0, 1, 2, 0, 1, 0], [(0, 3, 0), (3, 5, 0), (5, 6, 0)]),
    ([0, 1, 2, 3], [(0, 4, 0)]),
    ([0, 0, 0], [(0, 1, 0), (1, 2, 0), (2, 3, 0)]),
    ([5, 6, 0, 1], [(0, 2, 0), (2, 4, 0)]),  # a row that starts mid-record is still one span up to the next 0
    # a shared prefix of 2: the rests restart at position 2 and see the group's first 2 tokens
    ([0, 1, 2, 3, 2, 3, 4, 2, 0, 1], [(0, 4, 0), (4, 7, 2), (7, 8, 2), (8, 10, 0)]),
    ([0, 1, 2, 1, 2, 0, 1, 1], [(0, 3, 0), (3, 5, 1), (5, 7, 0), (7, 8, 1)]),  # two groups in one row
]


@pytest.mark.parametrize(("positions", "spans"), SPAN_CASES)
def test_record_spans(positions: list[int], spans: list[tuple[int, int, int]]) -> None:
    assert record_spans(torch.tensor([positions])) == [spans]


def test_a_jump_beyond_its_group_is_refused() -> None:
    with pytest.raises(ValueError, match="beyond the 2 tokens of their group"):
        record_spans(torch.tensor([[0, 1, 5, 6]]))


SHARED_PROMPTS = [
    "Tables: owner(name, city), pet(kind, age)\nQuestion: How many owners?\nSQL: ",
    "Tables: owner(name, city), pet(kind, age)\nQuestion: Names of cats?\nSQL: ",
    "Tables: owner(name, city), pet(kind, age)\nQuestion: Cities of owners?\nSQL: ",
    "Tables: singer(name)\nQuestion: How many singers?\nSQL: ",
]
SHARED_COMPLETIONS = [
    "SELECT count(*) FROM owner",
    "SELECT kind FROM pet WHERE kind = 'cat'",
    "SELECT city FROM owner",
    "SELECT count(*) FROM singer",
]
SHARED_GROUPS = ["pets", "pets", "pets", "concert"]


def test_records_sharing_a_prefix_train_exactly_as_alone(tiny_base: Path, tokenizer) -> None:
    """Same per-token losses and the same gradients as the records packed one after another."""
    records = tokenize_records(tokenizer, SHARED_PROMPTS, SHARED_COMPLETIONS, [0, 0, 0, 0])
    shared = share_prefixes(records, SHARED_GROUPS, max_len=512, seed=0)
    assert sorted(record.records for record in shared) == [1, 3]
    assert sum(len(record) for record in shared) < sum(len(record) for record in records)
    # a batch counts the tokens it computes and the tokens of its records written out one by one
    shared_batch, alone_batch = (collate_packs([packs], tokenizer.pad_token_id) for packs in (shared, records))
    assert int(shared_batch["real_tokens"]) < int(shared_batch["record_tokens"]) == int(alone_batch["real_tokens"])
    results = {}
    for name, packs in (("alone", [records]), ("shared", [shared])):
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32)
        use_packed_attention(model)
        batch = collate_packs(packs, tokenizer.pad_token_id)
        losses, scored = completion_token_losses(model.train(), batch)
        (losses * scored).sum().backward()
        # per-record losses, matched by the completion tokens they score
        picked = batch["labels"][:, 1:][scored].tolist()
        results[name] = (
            sorted(zip(picked, losses[scored].tolist())),
            {key: parameter.grad.clone() for key, parameter in model.named_parameters()},
        )
    alone_losses, alone_grads = results["alone"]
    shared_losses, shared_grads = results["shared"]
    assert [token for token, _ in shared_losses] == [token for token, _ in alone_losses]
    torch.testing.assert_close(
        torch.tensor([loss for _, loss in shared_losses]),
        torch.tensor([loss for _, loss in alone_losses]),
        atol=1e-5,
        rtol=0,
    )
    for key, grad in alone_grads.items():
        torch.testing.assert_close(shared_grads[key], grad, atol=1e-5, rtol=1e-4)


def test_sharing_needs_record_by_record_attention(tiny_base: Path, tokenizer) -> None:
    """Negative control: transformers' own sdpa path does not read the jumps, and the losses change."""
    records = tokenize_records(tokenizer, SHARED_PROMPTS, SHARED_COMPLETIONS, [0, 0, 0, 0])
    batch = collate_packs([share_prefixes(records, SHARED_GROUPS, max_len=512, seed=0)], tokenizer.pad_token_id)
    model = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32).eval()
    with torch.no_grad():
        stock, _ = completion_token_losses(model, batch)
        use_packed_attention(model)
        ours, _ = completion_token_losses(model, batch)
    assert (stock - ours).abs().max() > 1e-3


def fake(prompt: list[int], completion: list[int]) -> TokenizedRecord:
    return TokenizedRecord(
        tuple(prompt + completion), (IGNORE_INDEX,) * len(prompt) + tuple(completion), 0, len(completion)
    )


# (records as (prompt, completion), groups, max_len, expected results as (input ids, positions))
SHARE_CASES = [
    # a prefix of 3, each rest after it
    (
        [([1, 2, 3, 4], [9]), ([1, 2, 3, 5], [8])],
        ["a", "a"],
        64,
        [((1, 2, 3, 4, 9, 5, 8), (0, 1, 2, 3, 4, 3, 4))],
    ),
    # one prompt begins the other: the shared part stops a token short of the shorter prompt
    (
        [([1, 2, 3], [9]), ([1, 2, 3, 4], [8])],
        ["a", "a"],
        64,
        [((1, 2, 3, 9, 3, 4, 8), (0, 1, 2, 3, 2, 3, 4))],
    ),
    # other groups are never joined, and a record alone is left as it was
    ([([1, 2, 3], [9]), ([1, 2, 3], [8])], ["a", "b"], 64, [((1, 2, 3, 9), None), ((1, 2, 3, 8), None)]),
    # max_len: 5 + 2 fits 7, a third rest would make 9
    (
        [([1, 2, 3, 4], [9]), ([1, 2, 3, 5], [8]), ([1, 2, 3, 6], [7])],
        ["a", "a", "a"],
        7,
        [((1, 2, 3, 4, 9, 5, 8), (0, 1, 2, 3, 4, 3, 4)), ((1, 2, 3, 6, 7), None)],
    ),
]


@pytest.mark.parametrize(("pairs", "groups", "max_len", "expected"), SHARE_CASES)
def test_share_prefixes(
    pairs: list[tuple[list[int], list[int]]],
    groups: list[str],
    max_len: int,
    expected: list[tuple[tuple[int, ...], tuple[int, ...] | None]],
) -> None:
    records = [fake(prompt, completion) for prompt, completion in pairs]
    # order within a group is a seeded shuffle; seed 2 keeps these groups in their written order
    shared = share_prefixes(records, groups, max_len, seed=2)
    assert [(record.input_ids, record.positions) for record in shared] == expected
    assert sum(record.records for record in shared) == len(records)
    assert sum(record.scored for record in shared) == sum(record.scored for record in records)
    for record in shared:
        assert len(record) <= max_len
        # every completion token keeps its label
        assert [label for label in record.labels if label != IGNORE_INDEX] == [
            token for token, label in zip(record.input_ids, record.labels) if label != IGNORE_INDEX
        ]


def test_record_by_record_attention_has_the_block_masks_gradients(tiny_base: Path, tokenizer) -> None:
    records = tokenize_records(tokenizer, PROMPTS, COMPLETIONS, [0, 1, 3])
    batch = collate_packs([records, records[1:]], tokenizer.pad_token_id)
    grads = {}
    for attention in ("sdpa", PACKED_ATTENTION):
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32)
        use_packed_attention(model, attention == PACKED_ATTENTION)
        losses, scored = token_losses(packed_forward(model.train(), batch), batch["labels"])
        (losses * scored).sum().backward()
        grads[attention] = {name: p.grad.clone() for name, p in model.named_parameters()}
    for name, grad in grads["sdpa"].items():
        torch.testing.assert_close(grads[PACKED_ATTENTION][name], grad, atol=1e-5, rtol=1e-4)


def test_record_by_record_attention_refuses_a_kv_cache(tiny_base: Path, tokenizer) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32).eval()
    use_packed_attention(model)
    ids = torch.tensor([tokenize_records(tokenizer, PROMPTS, COMPLETIONS, [0, 1, 3])[0].input_ids])
    with pytest.raises(ValueError, match="no KV cache"):
        model.generate(ids, min_new_tokens=2, max_new_tokens=2, do_sample=False)


def test_without_use_cache_false_records_would_leak(tiny_base: Path, tokenizer) -> None:
    """Negative control: the config default use_cache=True disables packed-sequence detection."""
    model = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32).eval()
    records = tokenize_records(tokenizer, PROMPTS, COMPLETIONS, [0, 1, 3])
    batch = collate_packs([records], tokenizer.pad_token_id)
    with torch.no_grad():
        leaky = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        second = model(input_ids=torch.tensor([records[1].input_ids])).logits[0]
    start = len(records[0])
    assert (leaky[start : start + len(records[1])] - second).abs().max() > 1e-3


def test_labels_cover_exactly_the_completion_and_eos(tokenizer) -> None:
    records = tokenize_records(tokenizer, PROMPTS, COMPLETIONS, [0, 1, 3])
    for record, prompt, completion in zip(records, PROMPTS, COMPLETIONS):
        prompt_ids = tokenizer(prompt)["input_ids"]
        completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        assert list(record.input_ids) == prompt_ids + completion_ids
        assert list(record.labels) == [IGNORE_INDEX] * len(prompt_ids) + completion_ids
        assert record.scored == len(completion_ids)
    assert records[0].input_ids[0] == tokenizer.bos_token_id  # prompt encoded as at inference


def test_loss_depends_on_completion_tokens_only(tiny_base: Path, tokenizer) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32).eval()
    records = tokenize_records(tokenizer, PROMPTS, COMPLETIONS, [0, 1, 3])
    batch = collate_packs([records], tokenizer.pad_token_id)
    with torch.no_grad():
        losses, scored = token_losses(packed_forward(model, batch), batch["labels"])
        logits = packed_forward(model, batch)
    # Scored positions predict exactly the completion (+eos) tokens, one per label.
    assert int(scored.sum()) == sum(record.scored for record in records)
    predicted = batch["input_ids"][:, 1:][scored]
    assert predicted.tolist() == [token for record in records for token in record.labels if token != IGNORE_INDEX]
    # Unscored positions contribute nothing, and the scored ones are plain cross-entropy.
    assert float(losses[~scored].abs().sum()) == 0.0
    expected = torch.nn.functional.cross_entropy(logits[:, :-1][scored], predicted)
    torch.testing.assert_close((losses * scored).sum() / scored.sum(), expected)


@pytest.mark.parametrize(
    ("lengths", "expected_share"),
    [
        ([[5, 3]], 8 / 8),  # 8 tokens, padded to 8
        ([[5], [3]], 8 / 16),  # two rows padded to 8 each
        ([[10], [6]], 16 / 32),  # longest 10 -> padded to 16
    ],
)
def test_non_padding_share(lengths: list[list[int]], expected_share: float) -> None:
    def record(n: int) -> TokenizedRecord:
        return TokenizedRecord((7,) * n, (IGNORE_INDEX,) + (7,) * (n - 1), 0, n - 1)

    packs = [[record(n) for n in row] for row in lengths]
    batch = collate_packs(packs, pad_id=0)
    assert non_padding_share(batch) == pytest.approx(expected_share)
    # Padding restarts positions, so it is a separate (isolated) segment with no loss.
    for row, pack in zip(range(len(packs)), packs):
        used = sum(len(record) for record in pack)
        assert batch["position_ids"][row, used:].tolist() == list(range(batch["input_ids"].shape[1] - used))
        assert (batch["labels"][row, used:] == IGNORE_INDEX).all()


def test_fixture_records_tokenize(sft_records: Path, tokenizer) -> None:
    records = load_sft_records(sft_records)
    prompts, completions = [r.prompt for r in records], [r.completion for r in records]
    tokenized = tokenize_records(tokenizer, prompts, completions, [0] * len(records))
    assert all(0 < record.scored < len(record) for record in tokenized)


def test_completion_only_head_gives_the_same_losses_as_full_logits() -> None:
    """The cheap path (head on completion positions only) equals the full-logits path, LoRA or not."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from routesql.train.packing import (
        TokenizedRecord,
        collate_packs,
        completion_token_losses,
        packed_forward,
        token_losses,
    )

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=97,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=64,
        tie_word_embeddings=True,
    )
    base = Qwen2ForCausalLM(config).eval()
    lora = get_peft_model(Qwen2ForCausalLM(config).eval(), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    records = [
        TokenizedRecord(tuple(range(3, 3 + n)), tuple([-100] * (n - k) + list(range(3 + n - k, 3 + n))), 0, k)
        for n, k in ((9, 3), (6, 2), (11, 5))
    ]
    batch = collate_packs([records[:2], records[2:]], pad_id=0)
    for model in (base, lora):
        full, full_mask = token_losses(packed_forward(model, batch), batch["labels"])
        cheap, cheap_mask = completion_token_losses(model, batch)
        assert torch.equal(full_mask, cheap_mask)
        assert torch.allclose(full * full_mask, cheap, atol=1e-5)
