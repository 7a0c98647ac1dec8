"""Choose a generator backend by name, so params.yaml can say which one a stage uses."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from routesql.errors import InputError
from routesql.llm.generator import Generator

GENERATOR_KINDS = ("local", "openai")


def _constructor(kind: str) -> Callable[..., Generator]:
    # Imported on demand: the HTTP client must not pay for importing torch and transformers.
    if kind == "local":
        from routesql.llm.local import TransformersGenerator

        return TransformersGenerator.load
    if kind == "openai":
        from routesql.llm.http import OpenAIHTTPGenerator

        return OpenAIHTTPGenerator
    raise InputError("generator.kind", f"unknown generator kind {kind!r} (one of {', '.join(GENERATOR_KINDS)})")


def make_generator(kind: str, **options: Any) -> Generator:
    """kind "local": TransformersGenerator.load(model_path, adapter_path=None, batch_size=8,
    device="auto", dtype="auto", progress=False); kind "openai": OpenAIHTTPGenerator(base_url, model,
    api_key=None, timeout_s=30, max_retries=2, concurrency=8, use_chat=False)."""
    constructor = _constructor(kind)
    parameters = inspect.signature(constructor).parameters
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        raise InputError("generator", f"unknown option(s) for kind {kind!r}: {', '.join(unknown)}")
    missing = [
        name
        for name, parameter in parameters.items()
        if parameter.default is inspect.Parameter.empty and name not in options
    ]
    if missing:
        raise InputError("generator", f"kind {kind!r} needs option(s): {', '.join(missing)}")
    return constructor(**options)
