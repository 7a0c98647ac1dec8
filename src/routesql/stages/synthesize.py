"""The `synthesize` stage: TS / SL / NC / CW / LR-SQL slice records from the train split, SENSE strong
pairs, and the weak model's execution-checked preference pairs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from routesql.atomic import check_output_folder
from routesql.config import Params
from routesql.prepare import benchmark_root
from routesql.stages.inputs import require_folder
from routesql.synth.stage import run_synthesize, settings_from_params
from routesql.train.base_stage import resolve_base


def run(params: Params, data: Path | None, out: Path | None, base_dir: Path | None) -> tuple[Path, dict]:
    """(output folder, manifest). `data` replaces the benchmark params names, `out` synthesize.out;
    `base_dir`'s tokenizer counts tokens and its model is SENSE's weak model."""
    settings = settings_from_params(params)
    root = data if data is not None else benchmark_root(params)
    require_folder(root, "benchmark folder")
    target = out if out is not None else Path(params.synthesize.out)
    check_output_folder(target)
    if base_dir is not None:
        model = resolve_base(base_dir)
        settings = dataclasses.replace(
            settings, tokenizer_path=model, weak=dataclasses.replace(settings.weak, model_path=model)
        )
    return target, run_synthesize(root, target, settings, params.data.format if data is None else None)
