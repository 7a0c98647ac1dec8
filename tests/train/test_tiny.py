"""The embedded tiny base: deterministic build, a tokenizer that survives the Auto round trip,
pretraining that learns, and clear errors for bad input."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer

from routesql.errors import InputError
from routesql.llm.loading import load_base
from routesql.train.settings import TinyModelSettings
from routesql.train.tiny import build_tiny_base
from support import Terminal

SCHEMA = "CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INTEGER)"
PAIRS = [
    ("How many singers are there?", "SELECT count(*) FROM singer"),
    ("Names of singers from France.", "SELECT name FROM singer WHERE country = 'France'"),
    ("Average age of singers?", "SELECT avg(age) FROM singer"),
    ("Oldest singer?", "SELECT name FROM singer ORDER BY age DESC LIMIT 1"),
]
TEXTS = [f"{SCHEMA}\nQuestion: {question}\nSQL: {sql}" for question, sql in PAIRS] * 5
SETTINGS = TinyModelSettings(
    vocab_size=350,
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    num_kv_heads=2,
    intermediate_size=128,
    max_positions=256,
    pretrain_steps=40,
    pretrain_batch_size=4,
    pretrain_seq_len=48,
    pretrain_lr=3e-3,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_base(TEXTS, tmp_path_factory.mktemp("tiny") / "base", SETTINGS, seed=0)


def test_same_seed_gives_identical_files_other_seed_other_weights(built: Path, tmp_path: Path) -> None:
    again = build_tiny_base(TEXTS, tmp_path / "again", SETTINGS, seed=0)
    other = build_tiny_base(TEXTS, tmp_path / "other", SETTINGS, seed=1)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (built / name).read_bytes() == (again / name).read_bytes(), name
    assert (built / "model.safetensors").read_bytes() != (other / "model.safetensors").read_bytes()


def test_pretraining_lowers_the_loss(built: Path) -> None:
    losses = [float(line) for line in (built / "pretrain_losses.txt").read_text().split()]
    assert len(losses) == SETTINGS.pretrain_steps
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


def test_saved_model_has_the_configured_shape(built: Path) -> None:
    model, tokenizer = load_base(built)
    config = model.config
    assert (config.model_type, config.hidden_size, config.num_hidden_layers) == ("qwen2", 64, 2)
    assert (config.num_attention_heads, config.num_key_value_heads) == (4, 2)
    assert config.tie_word_embeddings and config.vocab_size == len(tokenizer) <= SETTINGS.vocab_size
    assert {tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token} == {"<|bos|>", "<|eos|>", "<|pad|>"}


@pytest.mark.parametrize(
    "text",
    [
        "SELECT count(*) FROM singer",
        "SELECT  T1.name, avg(T2.age)\n\tFROM singer AS T1 WHERE x = 'é 3'",
        "What is 12345 + 0.5 of   the 'singers'?",
        "Ünïcödé ✓ 漢字 emoji 🎵",
        "",
    ],
)
def test_loaded_tokenizer_encodes_like_the_trained_one(built: Path, text: str) -> None:
    """transformers loads a qwen2 tokenizer as Qwen2Tokenizer; it must not change any encoding."""
    trained = Tokenizer.from_file(str(built / "tokenizer.json"))
    _, loaded = load_base(built)
    ids = loaded(text)["input_ids"]
    assert ids == trained.encode(text).ids
    assert ids[0] == loaded.bos_token_id
    assert loaded.decode(ids, skip_special_tokens=True) == text


def test_load_base_in_bfloat16(built: Path) -> None:
    model, _ = load_base(built, "bfloat16")
    assert {parameter.dtype for parameter in model.parameters()} == {torch.bfloat16}


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("no_tokenizer_files", "has no tokenizer"),
        ("missing_folder", "folder not found"),
    ],
)
def test_bad_base_path_is_an_input_error(built: Path, tmp_path: Path, case: str, problem: str) -> None:
    target = tmp_path / "base"
    if case == "no_tokenizer_files":
        shutil.copytree(built, target)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (target / name).unlink()
    with pytest.raises(InputError) as caught:
        load_base(target)
    assert caught.value.where == str(target)
    assert problem in caught.value.problem


@pytest.mark.parametrize("texts", [[], ["", "   \n"]])
def test_empty_corpus_is_an_input_error(tmp_path: Path, texts: list[str]) -> None:
    with pytest.raises(InputError, match="empty corpus"):
        build_tiny_base(texts, tmp_path / "base", SETTINGS, seed=0)


def test_pretraining_shows_its_steps_in_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = Terminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    build_tiny_base(TEXTS, tmp_path / "base", SETTINGS.model_copy(update={"pretrain_steps": 12}), seed=0)
    assert "pretraining the tiny base" in stderr.getvalue() and "12/12" in stderr.getvalue()
