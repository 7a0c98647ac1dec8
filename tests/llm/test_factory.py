"""Choosing a backend by name: the right class, and clear errors for bad kinds and options."""

from __future__ import annotations

from pathlib import Path

import pytest

from routesql.errors import InputError
from routesql.llm.factory import make_generator
from routesql.llm.generator import GenerationSettings, Generator
from routesql.llm.http import OpenAIHTTPGenerator
from routesql.llm.local import TransformersGenerator


def test_local_kind_loads_the_model_folder(tiny_lm_dir: Path, tiny_generator: TransformersGenerator) -> None:
    generator = make_generator("local", model_path=tiny_lm_dir, batch_size=3, device="cpu")
    assert isinstance(generator, TransformersGenerator) and isinstance(generator, Generator)
    assert generator.batch_size == 3
    settings = GenerationSettings(max_new_tokens=5)
    assert generator.generate(["SELECT"], settings) == tiny_generator.generate(["SELECT"], settings)


def test_openai_kind_builds_the_http_client() -> None:
    generator = make_generator("openai", base_url="http://127.0.0.1:8000/v1", model="m", concurrency=2)
    assert isinstance(generator, OpenAIHTTPGenerator) and isinstance(generator, Generator)
    assert (generator.url, generator.concurrency) == ("http://127.0.0.1:8000/v1/completions", 2)


@pytest.mark.parametrize(
    ("kind", "options", "problem"),
    [
        ("vllm", {}, "unknown generator kind 'vllm'"),
        ("openai", {"base_url": "http://x", "model": "m", "temprature": 0}, "for kind 'openai': temprature"),
        ("openai", {"base_url": "http://x"}, "needs option(s): model"),
        ("local", {"batch_size": 2}, "needs option(s): model_path"),
    ],
)
def test_bad_kind_or_options_raise_input_error(kind: str, options: dict, problem: str) -> None:
    with pytest.raises(InputError) as error:
        make_generator(kind, **options)
    assert problem in str(error.value)
