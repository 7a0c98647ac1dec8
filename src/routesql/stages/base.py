"""The `base` stage: the model every later stage starts from (the packaged SmolLM2 written as an HF
folder, the tiny model built offline, or a pointer to a hub id / local folder)."""

from __future__ import annotations

from pathlib import Path

from routesql.atomic import check_output_folder
from routesql.config import Params
from routesql.prepare import benchmark_root
from routesql.train.base_stage import build_base_model


def run(params: Params, out: Path) -> Path:
    """The folder written."""
    check_output_folder(out)
    return build_base_model(params, benchmark_root(params), out)
