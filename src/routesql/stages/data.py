"""The `data` stage: the benchmark (the demo generated, or the one params names) loaded and its gold
queries checked; the same for the dev split of each evaluation-only benchmark."""

from __future__ import annotations

from pathlib import Path

from routesql.atomic import check_output_file, check_output_folder
from routesql.config import Params
from routesql.prepare import prepare_data


def run(params: Params, examples_dir: Path, check_out: Path, eval_dir: Path) -> dict:
    """The summary of `prepare_data`: examples, executed and failing gold queries per split."""
    check_output_folder(examples_dir)
    check_output_folder(eval_dir)
    check_output_file(check_out)
    return prepare_data(params, examples_dir, check_out, eval_dir)
