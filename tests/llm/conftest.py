"""A tiny random causal LM built in the test (no downloads): a byte-level BPE tokenizer trained on a
few SQL strings and a 2-layer Qwen2 of hidden size 64, saved in Hugging Face format.

The weights are random, so completions are gibberish; tests compare backends with each other
(batched vs one at a time, HTTP vs local, adapter vs merged), never with expected text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from routesql.llm.local import TransformersGenerator
from routesql.train.tiny import train_tokenizer

SQL_TEXTS = [
    "SELECT count(*) FROM singer",
    "SELECT name FROM singer WHERE country = 'France'",
    "SELECT avg(age) FROM singer GROUP BY country",
    "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id",
    "SELECT name FROM singer ORDER BY age DESC LIMIT 1",
    "Question: How many singers are there?\nSQL: SELECT count(*) FROM singer;\n\n",
]

# Prompts of clearly different lengths, so batches need padding.
PROMPTS = [
    "SELECT",
    "Question: How many singers are there?\nSQL:",
    "SELECT name FROM singer WHERE",
    "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id WHERE",
    "Question: names?\nSQL: SELECT",
    "SELECT avg(age) FROM",
]


def build_tiny_lm(out_dir: Path, seed: int = 0) -> Path:
    """Tokenizer + random 2-layer Qwen2 (hidden 64) saved under `out_dir`."""
    tokenizer = train_tokenizer(SQL_TEXTS * 3, vocab_size=320)  # the embedded tiny base's tokenizer, small
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        # Untied: with tied random embeddings a model mostly repeats its last token.
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("tiny_lm") / "model")


@pytest.fixture(scope="session")
def prompts() -> list[str]:
    return list(PROMPTS)


@pytest.fixture(scope="session")
def tiny_generator(tiny_lm_dir: Path) -> TransformersGenerator:
    return TransformersGenerator.load(tiny_lm_dir, batch_size=4, device="cpu")


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny matrices gain nothing from threads, and on a shared CPU extra threads spin and wait:
    one thread runs these tests several times faster. Restored after each test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
