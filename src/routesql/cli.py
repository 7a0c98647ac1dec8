"""The `routesql` command line. Thin: parse, call one library function, print a summary."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from routesql.atomic import check_output_file, check_output_folder
from routesql.db.limits import DEFAULT_RESULT_CAP_MB, DEFAULT_ROW_CAP, DEFAULT_TIMEOUT_S
from routesql.errors import InputError, RouteSQLError

app = typer.Typer(
    name="routesql",
    help="Robust text-to-SQL from open-weight language models: ROUTE multitask SFT + MCP, SENSE, "
    "LR-SQL, in a DVC + Lightning + Optuna + MLflow pipeline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Report a RouteSQLError, or an OS error on a file the user named, as one line on stderr
    and exit with status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RouteSQLError as error:
            _fail(str(error))
        except OSError as error:  # a path that is a folder, unwritable, under a file, ...
            where = error.filename if error.filename is not None else "file system"
            _fail(f"{where}: {error.strerror or error}")

    return wrapper


def _fail(message: str) -> None:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(2)


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so worker pools stop and no partial output is renamed
    into place (every output is written to a temporary file first)."""


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def run() -> None:
    """The console entry point: usage mistakes, too, are one line (Click's own are a boxed panel);
    SIGTERM stops cleanly, as Ctrl-C does."""
    import signal

    signal.signal(signal.SIGTERM, _raise_terminated)
    try:  # recent Typer vendors Click; older ones use the package
        from typer._click import exceptions as click_errors
    except ImportError:
        # the same module in Typer versions before the vendoring; mypy sees only the installed one
        from click import exceptions as click_errors  # type: ignore[no-redef]

    try:
        code = app(prog_name="routesql", standalone_mode=False)
    except click_errors.NoArgsIsHelpError as shown:
        typer.echo(shown.format_message())
        sys.exit(0)
    except click_errors.UsageError as error:
        command = error.ctx.command_path if error.ctx is not None else "routesql"
        typer.echo(f"error: {' '.join(error.format_message().split())} (see `{command} --help`)", err=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("error: interrupted", err=True)
        sys.exit(130)
    except Terminated:
        typer.echo("error: stopped by SIGTERM", err=True)
        sys.exit(143)
    sys.exit(code if isinstance(code, int) else 0)


@app.callback()
def main(
    context: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log debug details, and the libraries' own notices.")
    ] = False,
) -> None:
    from routesql.config import Params
    from routesql.settings_reads import start_tracing

    start_tracing(context.invoked_subcommand or "routesql", Params)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        quiet_libraries()


# Notices of the libraries underneath that say nothing about the user's run: a stage prints its
# own lines and progress bars. `--verbose` shows them again.
LIBRARY_LOGGERS = {
    "pytorch_lightning.utilities.rank_zero": logging.WARNING,  # tips, "GPU available: False", "stopped: max_steps"
    "pytorch_lightning.loggers.mlflow": logging.ERROR,  # "Experiment ... not found. Creating it."
    "mlflow.store.db.utils": logging.WARNING,  # "Creating initial MLflow database tables..."
    "mlflow.pyfunc": logging.ERROR,  # register: "Passing a Python object as `python_model` ...", "Inferring model signature"
}
LIBRARY_WARNINGS = (
    # transformers 5 renames the cache argument; the old name keeps working through 5.x
    (FutureWarning, r".*`past_key_values` is deprecated"),
    # Lightning's own use of torch's pytree API
    (Warning, r".*isinstance\(treespec, LeafSpec\)"),
)


def quiet_libraries() -> None:
    """Silence the notices above (set before the libraries load: they keep child loggers' levels)."""
    import warnings

    for name, level in LIBRARY_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    for category, pattern in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern, category=category)


def load_checked_params(path: Path):  # -> routesql.config.Params
    from routesql.mcp.settings import load_checked_params as load

    return load(path)


def _finite_positive(value: float | None) -> float | None:
    """Option callback: limits must stop something (inf or nan never interrupt)."""
    import math

    if value is not None and (not math.isfinite(value) or value <= 0):
        raise typer.BadParameter(f"must be a finite number > 0, got {value}")
    return value


TIMEOUT_HELP = "Seconds before a query is interrupted (finite)."
SPIDER_ROOT_HELP = (
    "Spider folder (tables.json, database/) for variants that use Spider's databases: "
    "Spider-Syn, Spider-Realistic, Spider-DK; default: a sibling spider/ folder."
)
FORMAT_HELP = (
    "Benchmark format: spider, spider-syn, spider-dk, spider-realistic, bird, bird-minidev; "
    "detected when omitted (a folder's own main files win over strays; ambiguity is an error)."
)
ROW_CAP_HELP = "A result with more rows is that query's error."
RESULT_CAP_HELP = "A result (or one value) larger than this many MB is that query's error."


def _query_limits(timeout: float, row_cap: int, result_cap_mb: float):  # -> QueryLimits
    from routesql.db.limits import QueryLimits

    return QueryLimits(timeout_s=timeout, row_cap=row_cap, result_cap_mb=result_cap_mb)


BENCHMARK_ARG_HELP = (
    "Benchmark folder as released (Spider, Spider-Syn/DK/Realistic, BIRD, BIRD mini-dev's MINIDEV, "
    "or the demo), optionally named: NAME=PATH. Repeat for several (each with its own --pred)."
)


def benchmark_args(values: list[str], option: str) -> dict[str, Path]:
    """NAME=PATH (or PATH, named after its folder) → {name: folder}; names are unique."""
    import re

    from routesql.config import BENCHMARK_NAME

    named: dict[str, Path] = {}
    for value in values:
        match = re.match(BENCHMARK_NAME.rstrip("$") + "=", value)
        if match:
            name, path = match.group(0)[:-1], Path(value[match.end() :])
        else:
            path = Path(value)
            name = re.sub(r"[^a-z0-9_-]", "_", path.expanduser().resolve().name.lower()).lstrip("_-") or "benchmark"
        if name in named:
            raise typer.BadParameter(f"two benchmarks named {name!r}; name them: {option} NAME=PATH")
        named[name] = path
    return named


@app.command()
@one_line_errors
def score(
    data: Annotated[list[str], typer.Option(help=BENCHMARK_ARG_HELP)],
    pred: Annotated[
        list[Path],
        typer.Option(
            help="Predictions: one SQL per line aligned with the split, or a CSV with a 'Predict' column; one per --data, in the same order."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Where to write REPORT.json (with several --data: one report per benchmark under 'benchmarks')."
        ),
    ],
    split: Annotated[str, typer.Option(help="Split to score: dev or train.")] = "dev",
    semantics: Annotated[
        str,
        typer.Option(
            help="'auto' (BIRD's rules for BIRD and mini-dev, Spider's otherwise), 'spider' (official test-suite rules) or 'bird' (row sets)."
        ),
    ] = "auto",
    fmt: Annotated[
        str | None, typer.Option("--format", help=FORMAT_HELP + " With several --data, each is detected.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes executing queries.")] = 2,
    timeout: Annotated[float, typer.Option(callback=_finite_positive, help=TIMEOUT_HELP)] = DEFAULT_TIMEOUT_S,
    row_cap: Annotated[int, typer.Option(min=1, help=ROW_CAP_HELP)] = DEFAULT_ROW_CAP,
    result_cap_mb: Annotated[
        float, typer.Option(callback=_finite_positive, help=RESULT_CAP_HELP)
    ] = DEFAULT_RESULT_CAP_MB,
    keep_distinct: Annotated[bool, typer.Option(help="Keep DISTINCT (the official default removes it).")] = False,
    spider_root: Annotated[Path | None, typer.Option(help=SPIDER_ROOT_HELP)] = None,
) -> None:
    """Execution accuracy of prediction files, overall and by Spider hardness (BIRD: by its difficulty labels)."""
    from routesql.atomic import write_json_atomic
    from routesql.bench.loaders import load_benchmark
    from routesql.metrics.predictions import read_predictions
    from routesql.metrics.score import score_predictions

    if semantics not in ("auto", "spider", "bird"):
        raise typer.BadParameter(f"--semantics must be 'auto', 'spider' or 'bird', not {semantics!r}")
    folders = benchmark_args(data, "--data")
    if len(pred) != len(folders):
        raise typer.BadParameter(
            f"{len(folders)} --data but {len(pred)} --pred: give one prediction file per benchmark"
        )
    if fmt is not None and len(folders) > 1:
        raise typer.BadParameter("--format names the format of one --data; with several, each is detected")
    check_output_file(out)
    benches = {name: load_benchmark(folder, split, fmt, spider_root) for name, folder in folders.items()}
    predictions = {
        name: read_predictions(file, len(bench.examples)) for (name, bench), file in zip(benches.items(), pred)
    }
    reports = {
        name: score_predictions(
            bench,
            predictions[name],
            semantics=semantics,
            workers=workers,
            limits=_query_limits(timeout, row_cap, result_cap_mb),
            keep_distinct=keep_distinct,
        )
        for name, bench in benches.items()
    }
    write_json_atomic(out, next(iter(reports.values())) if len(reports) == 1 else {"benchmarks": reports})
    for name, report in reports.items():
        _echo_score_summary(name if len(reports) > 1 else None, report["summary"], out)
    if len(reports) > 1:
        typer.echo("EX by benchmark: " + ", ".join(f"{name} {_ex_text(r['summary'])}" for name, r in reports.items()))


def _ex_text(summary: dict) -> str:
    return f"{summary['ex']:.4f}" if summary["n_scored"] else "n/a"


def _echo_score_summary(name: str | None, summary: dict, out: Path) -> None:
    figure = f"EX {summary['ex']:.4f}" if summary["n_scored"] else "EX n/a (nothing could be scored)"
    label = f"{name}: " if name else ""
    typer.echo(
        f"{label}{figure} on {summary['n_scored']} scored examples ({summary['n_unscorable']} unscorable) → {out}"
    )
    for kind, cell in summary["unscorable_reasons"].items():
        typer.echo(f"  unscorable: {cell['n']} {kind}, e.g. {cell['example']}")
    typer.echo(f"  by {summary['breakdown']}:")
    for level, cell in summary["by_hardness"].items():
        typer.echo(f"  {level:<11} {cell['ex']:.4f}  (n={cell['n']})")


@app.command("demo-data")
@one_line_errors
def demo_data(
    out: Annotated[Path, typer.Option(help="Folder to write the Spider-format demo benchmark into.")],
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives byte-identical files.")] = 0,
) -> None:
    """Generate the embedded default benchmark (Spider format, several domains, unseen dev databases)."""
    from routesql.bench.demo import write_demo_benchmark

    check_output_folder(out)
    summary = write_demo_benchmark(out, seed=seed)
    typer.echo(json.dumps(summary, indent=2))


@app.command("check-gold")
@one_line_errors
def check_gold(
    data: Annotated[Path, typer.Option(help="Benchmark folder.")],
    split: Annotated[str, typer.Option(help="dev or train.")] = "dev",
    fmt: Annotated[str | None, typer.Option("--format", help=FORMAT_HELP)] = None,
    out: Annotated[Path | None, typer.Option(help="Write the check report (JSON) here.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes executing queries.")] = 2,
    timeout: Annotated[float, typer.Option(callback=_finite_positive, help=TIMEOUT_HELP)] = DEFAULT_TIMEOUT_S,
    spider_root: Annotated[Path | None, typer.Option(help=SPIDER_ROOT_HELP)] = None,
) -> None:
    """Load a split and execute every gold query; list the ones that fail, with SQLite's error."""
    from routesql.atomic import write_json_atomic
    from routesql.metrics.gold import check_gold_queries

    if out is not None:
        check_output_file(out)
    report = check_gold_queries(
        data,
        split,
        fmt,
        workers=workers,
        spider_root=spider_root,
        limits=_query_limits(timeout, DEFAULT_ROW_CAP, DEFAULT_RESULT_CAP_MB),
    )
    if out is not None:
        write_json_atomic(out, report)
    typer.echo(
        f"{report['n_examples']} examples loaded; {report['n_executed']} gold queries executed; "
        f"{report['n_missing_database']} without a database ({', '.join(report['missing_databases']) or 'none'}); "
        f"{len(report['failures'])} failed"
    )
    for failure in report["failures"]:
        typer.echo(f"  [{failure['index']}] {failure['db_id']}: {failure['error']}")


@app.command()
@one_line_errors
def data(
    params: Annotated[Path, typer.Option(help="The pipeline's params file.")] = Path("params.yaml"),
    examples_dir: Annotated[Path, typer.Option(help="Where the canonical examples go (one JSONL per split).")] = Path(
        "data/examples"
    ),
    check_out: Annotated[Path, typer.Option(help="The gold-check report (a DVC metrics file).")] = Path(
        "data/data_check.json"
    ),
    eval_dir: Annotated[
        Path, typer.Option(help="Where the dev examples of each of evaluate.benchmarks go (<name>.jsonl).")
    ] = Path("data/eval"),
) -> None:
    """The `data` stage: generate the demo (or read the named benchmark), load, check every gold query;
    the same for the dev split of each evaluation-only benchmark (evaluate.benchmarks)."""
    from routesql.stages import data as data_stage

    summary = data_stage.run(load_checked_params(params), examples_dir, check_out, eval_dir)
    cells = [(split, cell) for split, cell in summary["splits"].items()]
    cells += [(f"{name} dev", cell) for name, cell in summary["evaluate"].items()]
    for label, cell in cells:
        typer.echo(
            f"{label}: {cell['n_examples']} examples, {cell['n_executed']} gold queries execute, "
            f"{len(cell['failures'])} fail, {cell['n_missing_database']} without a database"
        )
    if summary["evaluation_only"]:
        typer.echo(f"{summary['format']} has no train split: it can be evaluated, not trained on")


@app.command()
@one_line_errors
def synthesize(
    params: Annotated[Path, typer.Option(help="The pipeline's params file.")] = Path("params.yaml"),
    data: Annotated[Path | None, typer.Option(help="Benchmark folder; default: the one params.yaml names.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder; default: synthesize.out from params.")] = None,
    base_dir: Annotated[
        Path | None,
        typer.Option(
            "--base",
            help="The base stage's folder (or any model folder): its tokenizer counts tokens, and it is SENSE's weak model when synthesize.weak is on.",
        ),
    ] = None,
) -> None:
    """The `synthesize` stage: TS / SL / NC / CW / LR-SQL slice records and SENSE data from the train split."""
    from routesql.stages import synthesize as synthesize_stage

    target, manifest = synthesize_stage.run(load_checked_params(params), data, out, base_dir)
    typer.echo(
        f"{manifest['n_records']} records from {manifest['n_examples']} examples in "
        f"{manifest['seconds']:.1f} s → {target}"
    )
    for task, count in manifest["records_per_task"].items():
        typer.echo(f"  {task:<17} {count}")


PARAMS_OPTION = typer.Option(help="The pipeline's params file.")


@app.command()
@one_line_errors
def base(
    params: Annotated[Path, PARAMS_OPTION] = Path("params.yaml"),
    out: Annotated[Path, typer.Option(help="Folder of the base model.")] = Path("models/base"),
) -> None:
    """The `base` stage: build the embedded tiny model offline, or record the real base model named in params."""
    from routesql.stages import base as base_stage

    loaded = load_checked_params(params)
    folder = base_stage.run(loaded, out)
    typer.echo(f"base model ({loaded.model.base}) → {folder}")


@app.command()
@one_line_errors
def train(
    params: Annotated[Path, PARAMS_OPTION] = Path("params.yaml"),
    records: Annotated[Path, typer.Option(help="SFT records from the synthesize stage.")] = Path(
        "data/synth/sft.jsonl"
    ),
    preferences: Annotated[Path, typer.Option(help="Preference pairs (for DPO).")] = Path(
        "data/synth/preferences.jsonl"
    ),
    base_dir: Annotated[Path, typer.Option("--base", help="The base stage's folder.")] = Path("models/base"),
    best_mix: Annotated[Path, typer.Option(help="The tune stage's best mix (used when tune.enabled).")] = Path(
        "data/tune/best_mix.json"
    ),
    out: Annotated[Path, typer.Option(help="Where the trained model is exported.")] = Path("models/trained"),
) -> None:
    """The `train` stage: multitask SFT (+ DPO) with Lightning + PEFT; resumes a killed run from its checkpoints."""
    from routesql.stages import train as train_stage

    final = train_stage.run(load_checked_params(params), records, preferences, base_dir, best_mix, out)
    typer.echo(f"trained model → {final}")


@app.command()
@one_line_errors
def evaluate(
    params: Annotated[Path, PARAMS_OPTION] = Path("params.yaml"),
    model: Annotated[Path, typer.Option(help="The trained model folder (train stage output).")] = Path(
        "models/trained"
    ),
    out: Annotated[Path, typer.Option(help="Folder for predictions, metrics, plots and report.html.")] = Path(
        "reports/eval"
    ),
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N dev questions (of each benchmark).")
    ] = None,
    track: Annotated[bool, typer.Option(help="Log metrics and files to MLflow.")] = True,
    base_dir: Annotated[
        Path,
        typer.Option(
            "--base",
            help="The base stage's folder: the model before fine-tuning, scored zero-shot when evaluate.zero_shot is on.",
        ),
    ] = Path("models/base"),
    benchmark: Annotated[
        list[str] | None,
        typer.Option(
            help="Evaluate on this benchmark too, NAME=PATH (repeat for several); replaces evaluate.benchmarks of params.yaml. The main benchmark (data.benchmark) always comes first."
        ),
    ] = None,
) -> None:
    """The `evaluate` stage: zero-shot base, then MCP over the dev split of data.benchmark and of each of
    evaluate.benchmarks; EX overall / by hardness / after each MCP step, per benchmark, HTML report."""
    from routesql.stages import evaluate as evaluate_stage

    loaded = load_checked_params(params)
    if benchmark is not None:
        loaded = _with_eval_benchmarks(loaded, benchmark_args(benchmark, "--benchmark"))
    metrics = evaluate_stage.run(loaded, model, out, base_dir, limit, track, say=typer.echo)
    for name, cell in metrics["benchmarks"].items():
        typer.echo(
            f"{name} dev EX {cell['ex']:.4f} ({cell['n_scored']} scored, {cell['seconds'] / 60:.1f} min); by step: "
            + ", ".join(f"{k} {v:.4f}" for k, v in cell["by_step"].items())
        )
    typer.echo(f"report → {out}/report.html")


def _with_eval_benchmarks(params, folders: dict[str, Path]):  # Params -> Params
    """params with evaluate.benchmarks replaced by the --benchmark list (each validated as in params.yaml)."""
    from pydantic import ValidationError

    from routesql.config import EvalBenchmark, describe_validation_error

    try:
        entries = [EvalBenchmark(name=name, path=str(path)) for name, path in folders.items()]
    except ValidationError as error:
        raise typer.BadParameter(describe_validation_error(error)) from None
    return params.model_copy(update={"evaluate": params.evaluate.model_copy(update={"benchmarks": entries})})


@app.command()
@one_line_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain language.")],
    db: Annotated[Path, typer.Option(help="The SQLite database to ask (opened read-only).")],
    model: Annotated[
        str, typer.Option(help="A trained model folder, or a registered model URI such as models:/routesql@champion.")
    ] = "models/trained",
    params: Annotated[Path, PARAMS_OPTION] = Path("params.yaml"),
    rows: Annotated[int, typer.Option(min=0, help="Result rows to show.")] = 20,
) -> None:
    """Answer one question: the SQL, its result table and the MCP trace."""
    from routesql.ask import answer_question

    result = answer_question(question, db, model, params)
    typer.echo(result.render(rows))
    if result.error:
        raise typer.Exit(1)


@app.command()
@one_line_errors
def tune(
    params: Annotated[Path, PARAMS_OPTION] = Path("params.yaml"),
    records: Annotated[Path, typer.Option(help="SFT records from the synthesize stage.")] = Path(
        "data/synth/sft.jsonl"
    ),
    base_dir: Annotated[Path, typer.Option("--base", help="The base stage's folder.")] = Path("models/base"),
    out: Annotated[Path, typer.Option(help="Where the best mix is written (the train stage reads it).")] = Path(
        "data/tune/best_mix.json"
    ),
    work_dir: Annotated[Path, typer.Option(help="Scratch folder for trial runs.")] = Path("checkpoints/tune"),
) -> None:
    """The `tune` stage: Optuna over the task-mix ratios; run it from several processes to share one study."""
    from routesql.stages import tune as tune_stage

    result = tune_stage.run(load_checked_params(params), records, base_dir, out, work_dir)
    if result["tuned"]:
        typer.echo(f"best mix (trial {result['trial']}, held-out EX {result['value']:.4f}): {result['mix']} → {out}")
    else:
        typer.echo(f"tuning off: the configured mix {result['mix']} → {out}")


@app.command()
@one_line_errors
def register(
    params: Annotated[Path, PARAMS_OPTION] = Path("params.yaml"),
    model: Annotated[Path, typer.Option(help="The trained model folder.")] = Path("models/trained"),
    eval_dir: Annotated[Path, typer.Option(help="The evaluate stage's folder.")] = Path("reports/eval"),
    out: Annotated[Path, typer.Option(help="Where the registration summary is written.")] = Path(
        "reports/registered.json"
    ),
) -> None:
    """The `register` stage: a new MLflow model version; the alias moves only if dev EX beats the current holder."""
    from routesql.stages import register as register_stage

    result = register_stage.run(load_checked_params(params), model, eval_dir, out)
    moved = "moved to it" if result["promoted"] else "kept by the current holder"
    typer.echo(
        f"{result['model_name']} version {result['version']} (dev EX {result['dev_ex']:.4f}); "
        f"alias '{result['alias']}' {moved}"
    )


@app.command()
@one_line_errors
def ablations(
    variants: Annotated[Path, typer.Option(help="The variants (params overrides) and the table's rows.")] = Path(
        "ablations.yaml"
    ),
    params: Annotated[Path, PARAMS_OPTION] = Path("params.yaml"),
    out: Annotated[Path, typer.Option(help="Folder for ablations.md, .html and .json.")] = Path("reports"),
    track: Annotated[bool, typer.Option(help="Log a parent MLflow run with a child run per variant.")] = True,
) -> None:
    """Run every variant of ablations.yaml as a DVC experiment up to `evaluate` (stages shared with
    an earlier run come from DVC's run cache; a variant already run on HEAD with the same params is
    reused) and write the table: EX with paired-bootstrap intervals against the reference row, EX by
    hardness, table recall, training cost. Run it in the project folder after `make repro`."""
    from routesql.ablations import run_ablations

    table = run_ablations(Path("."), variants, params, out, track, typer.echo)
    for row in table:
        delta = "reference" if row["delta"] is None else f"{row['delta']:+.4f} {row['delta_ci']}"
        typer.echo(f"{row['row']:<40} EX {row['ex']:.4f}  {delta}")
    typer.echo(f"table → {out / 'ablations.md'}")


@app.command()
@one_line_errors
def promote(
    version: Annotated[str, typer.Argument(help="The registered model version to give the alias.")],
    params: Annotated[Path, PARAMS_OPTION] = Path("params.yaml"),
) -> None:
    """Move the alias (default `champion`) to VERSION by hand."""
    from routesql.registry import promote as promote_version

    if not version.isdigit() or int(version) < 1:
        raise typer.BadParameter(f"a model version is a number from 1 up, not {version!r}", param_hint="VERSION")
    loaded = load_checked_params(params)
    promote_version(loaded, version)
    typer.echo(f"alias '{loaded.registry.alias}' → {loaded.registry.model_name} version {version}")


@app.command()
@one_line_errors
def serve(
    model: Annotated[
        str, typer.Option(help="A trained model folder, or a registered model URI such as models:/routesql@champion.")
    ] = "models/trained",
    params: Annotated[Path, PARAMS_OPTION] = Path("params.yaml"),
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but loopback should have an API key.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on (0: a free one).")] = 8000,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            help="Name of the environment variable holding the API key; requests then need 'Authorization: Bearer <key>'."
        ),
    ] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="Most tokens one completion may ask for (max_tokens).")] = 512,
    timeout: Annotated[
        float,
        typer.Option(
            callback=_finite_positive, help="Seconds a connection may stay silent before it is dropped (finite)."
        ),
    ] = 30.0,
) -> None:
    """Serve a trained model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/models) until SIGINT or SIGTERM."""
    import ipaddress
    import os

    from routesql.ask import resolve_model_dir
    from routesql.evaluate import check_prompt_version, generator_from
    from routesql.llm.server import ServerLimits, base_url, shutdown, wait_for_stop_signal
    from routesql.llm.server import serve as start_server

    api_key = None
    if api_key_env is not None:
        api_key = os.environ.get(api_key_env) or None
        if api_key is None:
            raise InputError(f"--api-key-env {api_key_env}", "the environment variable is unset or empty")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        loopback = False
    if not loopback and api_key is None:
        typer.echo(
            f"warning: serving on {host} without an API key: anyone who reaches the port can use "
            "the model (set --api-key-env)",
            err=True,
        )
    loaded = load_checked_params(params)
    if loaded.generator.backend != "local":
        raise InputError(
            params,
            f"generator.backend is {loaded.generator.backend!r}: `routesql serve` serves "
            "a local model (set generator.backend: local)",
        )
    model_dir = resolve_model_dir(model)
    if not model_dir.is_dir():
        raise InputError(model_dir, "no such model folder")
    check_prompt_version(model_dir, loaded.schema_.style)
    generator = generator_from(loaded, model_dir)
    try:
        server, thread = start_server(
            generator, host, port, api_key=api_key, limits=ServerLimits(max_tokens=max_tokens), timeout_s=timeout
        )
    except OSError as error:
        raise InputError(f"{host}:{port}", f"cannot listen: {error.strerror or error}") from None
    typer.echo(f"serving {model} at {base_url(server)}/v1 (SIGINT or SIGTERM stops)")
    received = wait_for_stop_signal()
    shutdown(server, thread)
    typer.echo(f"{received}: server stopped")
