"""The `tune` stage: Optuna over the task-mix ratios, scored on held-out training databases."""

from __future__ import annotations

from pathlib import Path

from routesql.atomic import check_output_file, check_output_folder
from routesql.config import Params
from routesql.prepare import benchmark_root
from routesql.stages.inputs import require_file
from routesql.tracking import check_tracking_uri
from routesql.train.base_stage import resolve_base
from routesql.tune import run_tuning


def run(params: Params, records: Path, base_dir: Path, out: Path, work_dir: Path) -> dict:
    """`run_tuning`'s result: the mix written to `out`, and the trial it came from when tuned."""
    require_file(records, "records file")
    base_model = resolve_base(base_dir)
    check_output_file(out)
    check_output_folder(work_dir)
    check_tracking_uri(params.tracking.uri)
    return run_tuning(params, benchmark_root(params), records, base_model, out, work_dir)
