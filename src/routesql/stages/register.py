"""The `register` stage: a new MLflow model version; the alias moves only if dev EX beats its holder."""

from __future__ import annotations

from pathlib import Path

from routesql.atomic import check_output_file
from routesql.config import Params
from routesql.evaluate import check_prompt_version, load_metrics
from routesql.registry import register_model
from routesql.tracking import check_tracking_uri


def run(params: Params, model: Path, eval_dir: Path, out: Path) -> dict:
    """`register_model`'s summary: name, version, dev EX, alias and whether it moved."""
    check_prompt_version(model, params.schema_.style)
    load_metrics(eval_dir)
    check_output_file(out)
    check_tracking_uri(params.tracking.uri)
    return register_model(params, model, eval_dir, out)
