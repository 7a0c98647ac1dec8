"""Training settings: defaults are valid, and every bad value names its key in one line."""

from __future__ import annotations

import pytest

from routesql.errors import InputError
from routesql.train.settings import DPOSettings, SFTSettings, TinyModelSettings, settings_from_mapping


@pytest.mark.parametrize(
    ("data", "key", "problem"),
    [
        ({"mix": {"foo": 1.0}}, "train.mix.foo", "unknown task"),
        ({"mix": {"text_to_sql": 0.0, "continuation": 0.0}}, "train.mix", "sum to a positive number"),
        ({"mix": {"text_to_sql": -1.0}}, "train.mix.text_to_sql", ">= 0"),
        ({"strategy": "ddpp"}, "train.strategy", "Lightning does not know strategy 'ddpp'"),
        ({"accelerator": "quantum"}, "train.accelerator", "does not know accelerator"),
        ({"precision": "bf17-mixed"}, "train.precision", "unknown precision"),
        ({"lora": {"rank": 8}}, "train.lora.rank", "unknown key"),
        ({"max_steps": 0}, "train.max_steps", "greater than or equal to 1"),
        ({"batch_sise": 2}, "train.batch_sise", "unknown key"),
    ],
)
def test_bad_sft_settings_name_the_key(data: dict, key: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        settings_from_mapping(SFTSettings, data, "train")
    assert caught.value.where == key
    assert problem in caught.value.problem
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("model", "data", "expected"),
    [
        (SFTSettings, {}, {"strategy": "auto", "precision": "32-true"}),
        (SFTSettings, {"strategy": "ddp", "devices": 2, "precision": "bf16-mixed"}, {"devices": 2}),
        (SFTSettings, {"mix": {"slice_linking": 2.0}}, {"mix": {"slice_linking": 2.0}}),
        (DPOSettings, {"beta": 0.5}, {"beta": 0.5}),
        (TinyModelSettings, {"num_layers": 2}, {"num_layers": 2, "hidden_size": 192}),
    ],
)
def test_good_settings_validate(model: type, data: dict, expected: dict) -> None:
    settings = settings_from_mapping(model, data, "train")
    assert {key: getattr(settings, key) for key in expected} == expected


def test_dpo_beta_must_be_positive() -> None:
    with pytest.raises(InputError, match=r"^dpo\.beta: "):
        settings_from_mapping(DPOSettings, {"beta": 0}, "dpo")
