"""The `routesql` command line. Thin: parse, call one library function, print a summary."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from routesql.errors import RouteSQLError

app = typer.Typer(
    name="routesql",
    help="Robust text-to-SQL from open-weight language models: ROUTE multitask SFT + MCP, SENSE, "
         "LR-SQL, in a DVC + Lightning + Optuna + MLflow pipeline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Report a RouteSQLError as one line on stderr and exit with status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RouteSQLError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None

    return wrapper


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@app.command()
@one_line_errors
def score(
    data: Annotated[Path, typer.Option(help="Benchmark folder (Spider, Spider-Syn/DK/Realistic, BIRD or demo).")],
    pred: Annotated[Path, typer.Option(help="Predictions: one SQL per line aligned with the split, or a CSV with a 'Predict' column.")],
    out: Annotated[Path, typer.Option(help="Where to write REPORT.json.")],
    split: Annotated[str, typer.Option(help="Split to score: dev or train.")] = "dev",
    semantics: Annotated[str, typer.Option(help="'spider' (official test-suite rules) or 'bird'.")] = "spider",
    fmt: Annotated[Optional[str], typer.Option("--format", help="Benchmark format; detected when omitted.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes executing queries.")] = 2,
    timeout: Annotated[float, typer.Option(min=0.001, help="Seconds before a query is interrupted.")] = 30.0,
    keep_distinct: Annotated[bool, typer.Option(help="Keep DISTINCT (the official default removes it).")] = False,
) -> None:
    """Execution accuracy of a prediction file, overall and by Spider hardness."""
    from routesql.atomic import write_json_atomic
    from routesql.bench.loaders import load_benchmark
    from routesql.metrics.predictions import read_predictions
    from routesql.metrics.score import score_predictions

    if semantics not in ("spider", "bird"):
        raise typer.BadParameter(f"--semantics must be 'spider' or 'bird', not {semantics!r}")
    bench = load_benchmark(data, split, fmt)
    predictions = read_predictions(pred, len(bench.examples))
    report = score_predictions(bench, predictions, semantics=semantics, workers=workers,
                               timeout_s=timeout, keep_distinct=keep_distinct)
    write_json_atomic(out, report)
    summary = report["summary"]
    typer.echo(f"EX {summary['ex']:.4f} on {summary['n_scored']} scored examples "
               f"({summary['n_unscorable']} unscorable) → {out}")
    for level, cell in summary["by_hardness"].items():
        typer.echo(f"  {level:<7} {cell['ex']:.4f}  (n={cell['n']})")


@app.command("demo-data")
@one_line_errors
def demo_data(
    out: Annotated[Path, typer.Option(help="Folder to write the Spider-format demo benchmark into.")],
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives byte-identical files.")] = 0,
) -> None:
    """Generate the embedded default benchmark (Spider format, several domains, unseen dev databases)."""
    from routesql.bench.demo import write_demo_benchmark

    summary = write_demo_benchmark(out, seed=seed)
    typer.echo(json.dumps(summary, indent=2))


@app.command("check-gold")
@one_line_errors
def check_gold(
    data: Annotated[Path, typer.Option(help="Benchmark folder.")],
    split: Annotated[str, typer.Option(help="dev or train.")] = "dev",
    fmt: Annotated[Optional[str], typer.Option("--format", help="Benchmark format; detected when omitted.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Write the check report (JSON) here.")] = None,
    workers: Annotated[int, typer.Option(min=1)] = 2,
    timeout: Annotated[float, typer.Option(min=0.001)] = 30.0,
) -> None:
    """Load a split and execute every gold query; list the ones that fail, with SQLite's error."""
    from routesql.atomic import write_json_atomic
    from routesql.bench.check import check_gold_queries

    report = check_gold_queries(data, split, fmt, workers=workers, timeout_s=timeout)
    if out is not None:
        write_json_atomic(out, report)
    typer.echo(f"{report['n_examples']} examples loaded; {report['n_executed']} gold queries executed; "
               f"{report['n_missing_database']} without a database ({', '.join(report['missing_databases']) or 'none'}); "
               f"{len(report['failures'])} failed")
    for failure in report["failures"]:
        typer.echo(f"  [{failure['index']}] {failure['db_id']}: {failure['error']}")


@app.command()
@one_line_errors
def data(
    params: Annotated[Path, typer.Option(help="The pipeline's params file.")] = Path("params.yaml"),
    examples_dir: Annotated[Path, typer.Option(help="Where the canonical examples go (one JSONL per split).")] = Path("data/examples"),
    check_out: Annotated[Path, typer.Option(help="The gold-check report (a DVC metrics file).")] = Path("data/data_check.json"),
) -> None:
    """The `data` stage: generate the demo (or read the named benchmark), load, check every gold query."""
    from routesql.bench.prepare import prepare_data
    from routesql.config import load_params

    summary = prepare_data(load_params(params), examples_dir, check_out)
    for split, cell in summary["splits"].items():
        typer.echo(f"{split}: {cell['n_examples']} examples, {cell['n_executed']} gold queries execute, "
                   f"{len(cell['failures'])} fail, {cell['n_missing_database']} without a database")


@app.command()
@one_line_errors
def synthesize(
    params: Annotated[Path, typer.Option(help="The pipeline's params file.")] = Path("params.yaml"),
    data: Annotated[Optional[Path], typer.Option(help="Benchmark folder; default: the one params.yaml names.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output folder; default: synthesize.out from params.")] = None,
    tokenizer: Annotated[Optional[Path], typer.Option(help="Count tokens with this tokenizer (a model folder).")] = None,
) -> None:
    """The `synthesize` stage: TS / SL / NC / CW / LR-SQL slice records and SENSE data from the train split."""
    import dataclasses

    from routesql.bench.prepare import benchmark_root
    from routesql.config import load_params
    from routesql.synth.stage import run_synthesize, settings_from_params

    loaded = load_params(params)
    settings = settings_from_params(loaded)
    if tokenizer is not None:
        settings = dataclasses.replace(settings, tokenizer_path=str(tokenizer))
    root = data if data is not None else benchmark_root(loaded)
    target = out if out is not None else Path(loaded.synthesize.out)
    manifest = run_synthesize(root, target, settings, loaded.data.format if data is None else None)
    typer.echo(f"{manifest['n_records']} records from {manifest['n_examples']} examples in "
               f"{manifest['seconds']:.1f} s → {target}")
    for task, count in manifest["records_per_task"].items():
        typer.echo(f"  {task:<17} {count}")
