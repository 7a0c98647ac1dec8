"""DPO: the loss formula, the adapter-off reference, and which weights a few steps move."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from routesql.errors import InputError
from routesql.train.dpo import DPOModule, dpo_terms, sequence_log_probs
from routesql.train.records import load_preference_records
from routesql.train.run import build_trainer, prepare_model, tokenize_preferences
from routesql.train.settings import DPOSettings, LoraSettings
from routesql.train.stream import collate_pairs

SETTINGS = DPOSettings(
    freeze_layers=0,
    grad_accumulation=1,
    max_steps=3,
    batch_size=2,
    max_seq_len=256,
    warmup_steps=0,
    lr=1e-2,
    accelerator="cpu",
    devices=1,
    checkpoint_every_n_steps=100,
    lora=LoraSettings(r=4, alpha=8, dropout=0.0),
)


@pytest.mark.parametrize(
    ("policy", "reference", "beta", "loss", "margin"),
    [
        ([0.0, 0.0], [0.0, 0.0], 0.1, math.log(2), 0.0),  # policy == reference: loss log 2
        ([-1.0, -3.0], [-2.0, -2.0], 0.5, -math.log(1 / (1 + math.exp(-1.0))), 1.0),
        ([-3.0, -1.0], [-2.0, -2.0], 1.0, -math.log(1 / (1 + math.exp(2.0))), -2.0),
    ],
)
def test_dpo_loss_and_rewards(policy: list, reference: list, beta: float, loss: float, margin: float) -> None:
    losses, chosen, rejected = dpo_terms(torch.tensor(policy), torch.tensor(reference), beta)
    assert float(losses[0]) == pytest.approx(loss, rel=1e-6)
    assert float(chosen[0] - rejected[0]) == pytest.approx(margin, rel=1e-6)


def pairs_and_model(preference_records: Path, tiny_base: Path):
    model, tokenizer = prepare_model(tiny_base, SETTINGS)
    records = load_preference_records(preference_records)
    pairs = tokenize_preferences(
        [r.prompt for r in records], [r.chosen for r in records], [r.rejected for r in records], tokenizer
    )
    return model, tokenizer, pairs


def test_reference_is_the_base_model(preference_records: Path, tiny_base: Path) -> None:
    model, tokenizer, pairs = pairs_and_model(preference_records, tiny_base)
    with torch.no_grad():  # a non-zero adapter, so "adapter off" is a real difference
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.fill_(0.05)
    batch = collate_pairs(pairs[:3], tokenizer.pad_token_id)
    base = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32).eval()
    with torch.no_grad():
        with model.disable_adapter():
            reference = sequence_log_probs(model.eval(), batch)
        policy = sequence_log_probs(model, batch)
        expected = sequence_log_probs(base, batch)
    torch.testing.assert_close(reference, expected, atol=1e-5, rtol=0)
    assert (policy - expected).abs().max() > 1e-3


def test_dpo_steps_change_every_adapter_weight_and_no_frozen_one(
    preference_records: Path, tiny_base: Path, tmp_path: Path
) -> None:
    model, tokenizer, pairs = pairs_and_model(preference_records, tiny_base)
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    module = DPOModule(model, SETTINGS, pairs, tokenizer.pad_token_id)
    trainer = build_trainer(SETTINGS, tmp_path, None, SETTINGS.max_steps, "dpo")
    trainer.fit(module)
    for name, parameter in model.named_parameters():
        assert (not torch.equal(before[name], parameter.detach())) == (name in trainable), name
    assert trainer.callback_metrics["dpo/preference_accuracy"] >= 0.5
    assert float(trainer.callback_metrics["dpo/reward_margin"]) > 0
    assert not any(name.startswith("train/") for name in trainer.callback_metrics)  # SFT's names


def test_dpo_needs_an_adapter(preference_records: Path, tiny_base: Path) -> None:
    settings = SETTINGS.model_copy(update={"lora": LoraSettings(enabled=False)})
    model, tokenizer = prepare_model(tiny_base, settings)
    with pytest.raises(InputError, match="needs a LoRA adapter"):
        DPOModule(model, settings, [], tokenizer.pad_token_id)
