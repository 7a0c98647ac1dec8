"""SFT LightningModule: a few steps move every LoRA weight and no frozen one; full fine-tuning too."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from routesql.train.base import warmup_cosine
from routesql.train.records import load_sft_records
from routesql.train.run import build_trainer, prepare_model, tokenize_sft
from routesql.train.settings import LoraSettings, SFTSettings
from routesql.train.sft import SFTModule


def small_settings(**changes) -> SFTSettings:
    base = {
        "freeze_layers": 0,
        "grad_accumulation": 1,
        "max_steps": 3,
        "batch_size": 2,
        "max_seq_len": 256,
        "warmup_steps": 0,
        "lr": 1e-2,
        "accelerator": "cpu",
        "devices": 1,
        "checkpoint_every_n_steps": 100,
        "lora": LoraSettings(r=4, alpha=8, dropout=0.0),
    }
    return SFTSettings(**{**base, **changes})


def train_a_few_steps(
    sft_records: Path, tiny_base: Path, out_dir: Path, settings: SFTSettings
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], set[str]]:
    model, tokenizer = prepare_model(tiny_base, settings)
    by_task, _ = tokenize_sft(
        load_sft_records(sft_records), tokenizer, settings.max_seq_len, settings.share_prefix, settings.seed
    )
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    module = SFTModule(model, settings, by_task, tokenizer.pad_token_id)
    build_trainer(settings, out_dir, None, settings.max_steps, "sft").fit(module)
    after = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    return before, after, trainable


@pytest.mark.parametrize("gradient_checkpointing", [False, True])
def test_lora_steps_change_every_adapter_weight_and_no_frozen_one(
    sft_records: Path, tiny_base: Path, tmp_path: Path, gradient_checkpointing: bool
) -> None:
    settings = small_settings(gradient_checkpointing=gradient_checkpointing)
    before, after, trainable = train_a_few_steps(sft_records, tiny_base, tmp_path, settings)
    assert trainable and all("lora_" in name for name in trainable)
    for name in before:
        changed = not torch.equal(before[name], after[name])
        assert changed == (name in trainable), name


def test_full_fine_tuning_changes_every_weight(sft_records: Path, tiny_base: Path, tmp_path: Path) -> None:
    settings = small_settings(lora=LoraSettings(enabled=False), lr=1e-3)
    before, after, trainable = train_a_few_steps(sft_records, tiny_base, tmp_path, settings)
    assert trainable == set(before)
    assert all(not torch.equal(before[name], after[name]) for name in before)


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 1 / 3), (1, 2 / 3), (2, 1.0), (6, 0.55), (10, 0.1), (12, 0.1)],
)
def test_warmup_then_cosine_schedule(step: int, expected: float) -> None:
    assert warmup_cosine(warmup_steps=2, max_steps=10)(step) == pytest.approx(expected)
