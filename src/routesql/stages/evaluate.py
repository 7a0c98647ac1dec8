"""The `evaluate` stage: the zero-shot base, then MCP over the dev split of data.benchmark and of each
of evaluate.benchmarks; EX overall, by hardness and after each MCP step; the HTML report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from routesql.atomic import check_output_folder
from routesql.bench.loaders import missing_databases
from routesql.config import Params
from routesql.errors import InputError
from routesql.evaluate import (
    check_prompt_version,
    evaluate_benchmarks,
    generator_from,
    local_generator,
    log_to_mlflow,
    scoring_options_from,
    zero_shot_dev,
)
from routesql.mcp.settings import MCPSettings
from routesql.prepare import eval_sources
from routesql.tracking import check_tracking_uri
from routesql.train.base_stage import resolve_base


def run(
    params: Params,
    model: Path,
    out: Path,
    base_dir: Path,
    limit: int | None,
    track: bool,
    say: Callable[[str], None],
) -> dict:
    """The metrics written to `out` (every benchmark under "benchmarks"); `say` gets the zero-shot
    line as soon as it is known, minutes before the rest."""
    sources = eval_sources(params)
    version = check_prompt_version(model, params.schema_.style)
    check_output_folder(out)
    check_output_folder(out / "plots")
    base_model = resolve_base(base_dir) if params.evaluate.zero_shot else ""
    benches = {source.name: source.load("dev") for source in sources}
    for name, bench in benches.items():  # before minutes of generation, not after
        if bench.examples and missing_databases(bench) == {ex.db_id for ex in bench.examples}:
            raise InputError(f"{name} ({bench.database_dir})", "none of its databases is there: nothing can be scored")
    if track:
        check_tracking_uri(params.tracking.uri)
    settings, first = MCPSettings.from_params(params), limit or params.evaluate.limit
    scoring = scoring_options_from(params)
    main = next(iter(benches.values()))
    zero_shot = None
    if params.evaluate.zero_shot:
        zero_shot = zero_shot_dev(
            main,
            local_generator(params, base_model),
            settings,
            scoring,
            limit=first,
            questions=params.evaluate.zero_shot_questions,
        )
        say(f"zero-shot base EX {zero_shot['ex']:.4f} ({zero_shot['n_scored']} scored, {zero_shot['seconds']:.0f} s)")
    metrics = evaluate_benchmarks(
        benches, generator_from(params, model), settings, out, version, scoring, limit=first, zero_shot=zero_shot
    )
    if track:
        import mlflow

        mlflow.set_tracking_uri(params.tracking.uri)
        mlflow.set_experiment(params.tracking.experiment)
        with mlflow.start_run(run_name="evaluate"):
            log_to_mlflow(metrics, out, {"model": str(model), **params.mcp.model_dump()})
    return metrics
