"""tune's ValidationLossPruning inside a real SFT run on the tiny model (the training fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from transformers import AutoTokenizer

from routesql.train.run import run_sft
from routesql.train.settings import SFTSettings
from routesql.tune import ValidationLossPruning


class CountingPruning(ValidationLossPruning):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.validations = 0

    def validation_loss(self, model) -> float:
        self.validations += 1
        return super().validation_loss(model)


# (optimizer steps, micro-batches per step, validate every, the steps validated and reported)
CASES = [
    (4, 1, 1, [1, 2, 3, 4]),
    (4, 2, 1, [1, 2, 3, 4]),  # each step's hook runs for 2 micro-batches: validated once all the same
    (4, 3, 2, [2, 4]),
]


@pytest.mark.parametrize(("steps", "accumulation", "every", "validated"), CASES)
def test_held_out_loss_is_computed_and_reported_once_per_validated_step(
    steps: int, accumulation: int, every: int, validated: list[int], sft_records: Path, tiny_base: Path, tmp_path: Path
) -> None:
    records = [json.loads(line) for line in sft_records.read_text(encoding="utf-8").splitlines()]
    held_out = [r for r in records if r["task"] == "text_to_sql"][:3]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    pruning = CountingPruning(trial, AutoTokenizer.from_pretrained(tiny_base), held_out, every=every)
    settings = SFTSettings(
        freeze_layers=0,
        max_steps=steps,
        batch_size=1,
        grad_accumulation=accumulation,
        max_seq_len=256,
        warmup_steps=1,
        checkpoint_every_n_steps=steps + 1,
        accelerator="cpu",
        devices=1,
    )
    run_sft(sft_records, tiny_base, tmp_path / "out", settings, callbacks=[pruning])
    assert pruning.validations == len(validated)
    assert sorted(study.trials[0].intermediate_values) == validated
    assert pruning.last_loss == pytest.approx(-study.trials[0].intermediate_values[validated[-1]])
