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
    non_padding_share,
    packed_forward,
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


# (positions of one row, record spans)
SPAN_CASES = [
    ([0, 1, 2, 0, 1, 0], [(0, 3), (3, 5), (5, 6)]),
    ([0, 1, 2, 3], [(0, 4)]),
    ([0, 0, 0], [(0, 1), (1, 2), (2, 3)]),
    ([5, 6, 0, 1], [(0, 2), (2, 4)]),  # a row that starts mid-record is still one span up to the next 0
]


@pytest.mark.parametrize(("positions", "spans"), SPAN_CASES)
def test_record_spans(positions: list[int], spans: list[tuple[int, int]]) -> None:
    assert record_spans(torch.tensor([positions])) == [spans]


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
