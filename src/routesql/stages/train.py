"""The `train` stage: multitask SFT (+ DPO) with Lightning + PEFT, resumed from its checkpoints."""

from __future__ import annotations

from pathlib import Path

from routesql.atomic import check_output_folder
from routesql.config import Params
from routesql.stages.inputs import require_file
from routesql.tracking import check_tracking_uri, mlflow_logger
from routesql.train.base_stage import resolve_base
from routesql.train.records import load_sft_records
from routesql.train.stage import train_model


def run(params: Params, records: Path, preferences: Path, base_dir: Path, best_mix: Path, out: Path) -> Path:
    """The folder of the trained model."""
    require_file(records, "records file")
    base_model = resolve_base(base_dir)
    check_output_folder(out)
    load_sft_records(records)  # a malformed line is reported before the MLflow store is touched
    check_tracking_uri(params.tracking.uri)
    logger = mlflow_logger(params.tracking.uri, params.tracking.experiment, "train")
    return train_model(params, records, preferences, base_model, out, best_mix, logger=logger)
