"""The `evaluate` stage: MCP over the dev split, scored per MCP step, written as files (and MLflow).

Outputs under `out_dir`:
  predictions.sql    the final SQL, one per line, aligned with the split (re-scorable by `routesql score`)
  predictions.jsonl  every question's trace: each step's SQL, the model's raw notes, the verdict
  metrics.json       EX overall, by hardness, after each MCP step, error categories, schema-linking
                     table recall (DVC metrics)
  outcomes.json      each question's result after each step (1 right, 0 wrong, - unscorable), and the
                     zero-shot base's: what a paired bootstrap between two runs reads (`routesql ablations`)
  plots/*.json       EX by step and by hardness (DVC plots)
  report.html        the same with figures, self-contained
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from routesql.atomic import folder_atomic, write_json_atomic, write_jsonl_atomic, write_text_atomic
from routesql.bench.example import Benchmark, spread
from routesql.config import Params
from routesql.db.limits import QueryLimits
from routesql.llm.generator import Generator
from routesql.mcp.pipeline import MCPPipeline
from routesql.mcp.settings import MCPSettings, text_to_sql_only
from routesql.mcp.work import MCPQuestion, MCPTrace
from routesql.metrics.report_html import render_report
from routesql.metrics.score import score_predictions
from routesql.settings_reads import untraced

ERROR_CATEGORIES = {
    "syntax": "syntax error",
    "refused": "syntax error",
    "empty": "no SQL",
    "unknown_schema": "unknown table/column",
    "wrong_result": "wrong result",
    "timeout": "timeout",
    "too_many_rows": "wrong result",
    "too_large": "wrong result",
    "runtime": "runtime error",
}


@dataclass(frozen=True)
class ScoringOptions:
    """How predictions are scored: params.yaml's `scoring` and `execution` sections."""

    semantics: str
    workers: int
    limits: QueryLimits
    keep_distinct: bool


def scoring_options_from(params: Params) -> ScoringOptions:
    return ScoringOptions(
        semantics=params.scoring.semantics,
        workers=params.execution.workers,
        limits=QueryLimits.of(params.execution),
        keep_distinct=params.scoring.keep_distinct,
    )


with untraced():  # params.yaml's defaults; taking them is no use of the user's settings
    DEFAULT_SCORING = scoring_options_from(Params())


def score_with(
    bench: Benchmark, predictions: list[str], scoring: ScoringOptions, progress: bool = True, warn: bool = True
) -> dict:
    """Score, refusing a split of which nothing can be scored (a broken setup, not an EX of 0).
    `warn`: log the unscorable examples (once per split is enough: they are the same each time)."""
    from routesql.errors import InputError

    report = score_predictions(
        bench,
        predictions,
        semantics=scoring.semantics,
        workers=scoring.workers,
        limits=scoring.limits,
        keep_distinct=scoring.keep_distinct,
        progress=progress,
        warn_unscorable=warn,
    )
    summary = report["summary"]
    if summary["n_scored"] == 0 and bench.examples:
        reasons = "; ".join(
            f"{cell['n']} {kind}, e.g. {cell['example']}" for kind, cell in summary["unscorable_reasons"].items()
        )
        raise InputError(
            f"{bench.name}/{bench.split}", f"none of {len(bench.examples)} examples can be scored ({reasons})"
        )
    return report


def _first(bench: Benchmark, limit: int | None) -> Benchmark:
    if not limit:
        return bench
    return dataclasses.replace(bench, examples=bench.examples[:limit])


def _questions(bench: Benchmark) -> list[MCPQuestion]:
    return [MCPQuestion(ex.id, ex.question, bench.db_path(ex.db_id), ex.evidence) for ex in bench.examples]


def zero_shot_dev(
    bench: Benchmark,
    generator: Generator,
    settings: MCPSettings,
    scoring: ScoringOptions = DEFAULT_SCORING,
    limit: int | None = None,
    progress: bool = True,
    questions: int | None = None,
) -> dict:
    """The base model before fine-tuning, on the same questions with the same prompts and decoding
    (constraints included), text-to-SQL only: what fine-tuning and MCP are measured against.
    `questions`: only that many of the (first `limit`) questions, spread evenly over them."""
    bench = _first(bench, limit)
    bench = dataclasses.replace(bench, examples=spread(bench.examples, questions))
    started = time.monotonic()
    traces = MCPPipeline(generator, text_to_sql_only(settings)).run(_questions(bench))
    seconds = time.monotonic() - started
    report = score_with(bench, [t.final for t in traces], scoring, progress)
    summary = report["summary"]
    return {
        "ex": summary["ex"],
        "n_scored": summary["n_scored"],
        "by_hardness": {level: cell["ex"] for level, cell in summary["by_hardness"].items()},
        "seconds": round(seconds, 2),
        "outcomes": {"ids": [ex.id for ex in bench.examples], "exec_match": outcome_string(report)},
    }


def outcome_string(report: dict) -> str:
    """One character per example of a score report: 1 right, 0 wrong, - unscorable."""
    marks = {True: "1", False: "0", None: "-"}
    return "".join(marks[e["exec_match"]] for e in report["examples"])


def table_recall(bench: Benchmark, traces: list[MCPTrace]) -> dict | None:
    """Schema linking's table recall: the share of the gold SQL's tables that the linked tables
    (the schema_linking step's `links` note) hold, averaged over questions whose gold SQL resolves.
    None when schema_linking did not run."""
    from routesql.db.schema import read_schema
    from routesql.mcp.work import links_of
    from routesql.sqlkit.links import parse_links

    recalls = []
    for ex, trace in zip(bench.examples, traces):
        if "links" not in trace.notes:
            continue
        gold = set(links_of(ex.sql, read_schema(bench.db_path(ex.db_id), sample_rows=0)))
        if gold:
            linked = set(parse_links(trace.notes["links"]))
            recalls.append(len(gold & linked) / len(gold))
    if not recalls:
        return None
    return {"table_recall": round(sum(recalls) / len(recalls), 4), "n": len(recalls)}


@dataclass
class DevRun:
    """One benchmark's dev split run through MCP and scored."""

    bench: Benchmark
    traces: list[MCPTrace]
    final: dict  # the score report of the final predictions
    metrics: dict
    outcomes: dict  # ids, hardness, and per step label (and "final") its outcome_string


def evaluate_benchmarks(
    benches: dict[str, Benchmark],
    generator: Generator,
    settings: MCPSettings,
    out_dir: Path,
    template_version: str,
    scoring: ScoringOptions = DEFAULT_SCORING,
    limit: int | None = None,
    progress: bool = True,
    zero_shot: dict | None = None,
) -> dict:
    """MCP over each benchmark's dev split with one model; the first is the main benchmark.

    metrics.json holds the main benchmark's figures at the top (`ex`, `by_step`, ...: what tuning,
    registration and the champion compare) and every benchmark's under `benchmarks`, in order;
    `zero_shot` (from `zero_shot_dev`, on the main benchmark) goes in beside them.
    """
    runs = {
        name: run_dev(bench, generator, settings, template_version, scoring, limit, progress)
        for name, bench in benches.items()
    }
    main = next(iter(runs.values()))
    metrics = {
        **main.metrics,
        "benchmark": next(iter(runs)),
        "benchmarks": {name: benchmark_cell(run) for name, run in runs.items()},
    }
    outcomes = dict(main.outcomes)
    if zero_shot is not None:
        metrics["zero_shot"] = {k: v for k, v in zero_shot.items() if k != "outcomes"}
        if "outcomes" in zero_shot:
            outcomes["zero_shot"] = zero_shot["outcomes"]
    with folder_atomic(out_dir) as staging:
        _write_output_files(staging, main, metrics)
        write_json_atomic(staging / "outcomes.json", outcomes)
        for name, run in list(runs.items())[1:]:
            _write_predictions(staging / "benchmarks" / name, run)
            write_json_atomic(staging / "benchmarks" / name / "metrics.json", run.metrics)
        # Always written, so the folder (a DVC output) exists with one benchmark too.
        write_json_atomic(staging / "benchmarks" / "index.json", metrics["benchmarks"])
    return metrics


def run_dev(
    bench: Benchmark,
    generator: Generator,
    settings: MCPSettings,
    template_version: str,
    scoring: ScoringOptions,
    limit: int | None,
    progress: bool,
) -> DevRun:
    """Every question through MCP; the predictions after each step scored."""
    bench = _first(bench, limit)
    started = time.monotonic()
    traces = MCPPipeline(generator, settings).run(_questions(bench))
    generation_seconds = time.monotonic() - started
    finals = [t.final for t in traces]
    step_reports: dict[str, dict] = {}
    scored: dict[tuple[str, ...], dict] = {}
    for step in settings.labels:
        if all(step in t.steps for t in traces if t.error is None):
            preds = tuple(t.steps.get(step, t.final) for t in traces)
            if preds not in scored:  # a step that changed nothing is not scored again
                scored[preds] = score_with(bench, list(preds), scoring, progress, warn=not scored)
            step_reports[step] = scored[preds]
    # The last enabled step's predictions are the finals: score them once, not twice.
    final = scored.get(tuple(finals)) or score_with(bench, finals, scoring, progress, warn=not scored)
    metrics = build_metrics(final, step_reports, traces, generation_seconds, template_version)
    recall = table_recall(bench, traces)
    if recall is not None:
        metrics["schema_linking"] = recall
    metrics["total_seconds"] = round(time.monotonic() - started, 2)
    outcomes = {
        "ids": [ex.id for ex in bench.examples],
        "hardness": [e["hardness"] for e in final["examples"]],
        **{step: outcome_string(report) for step, report in step_reports.items()},
        "final": outcome_string(final),
    }
    return DevRun(bench, traces, final, metrics, outcomes)


def benchmark_cell(run: DevRun) -> dict:
    """One benchmark's column of the table: EX overall, after each step, by hardness / difficulty."""
    m, summary = run.metrics, run.final["summary"]
    return {
        "format": run.bench.name,
        "semantics": run.final["semantics"],
        "ex": m["ex"],
        "n_scored": m["n_scored"],
        "n_unscorable": m["n_unscorable"],
        "by_step": m["by_step"],
        "by_hardness": {level: cell["ex"] for level, cell in m["by_hardness"].items()},
        "breakdown": summary["breakdown"],
        "seconds": m["total_seconds"],
    }


def build_metrics(
    final: dict, step_reports: dict[str, dict], traces: list[MCPTrace], seconds: float, template_version: str
) -> dict:
    errors = Counter(
        ERROR_CATEGORIES.get(e["error_kind"], e["error_kind"] or "other")
        for e in final["examples"]
        if e["exec_match"] is False
    )
    summary = final["summary"]
    return {
        "ex": summary["ex"],
        "n_scored": summary["n_scored"],
        "n_unscorable": summary["n_unscorable"],
        "unscorable_reasons": summary["unscorable_reasons"],
        "by_hardness": summary["by_hardness"],
        "by_step": {step: report["summary"]["ex"] for step, report in step_reports.items()},
        "error_categories": dict(sorted(errors.items())),
        "failed_questions": sum(1 for t in traces if t.error),
        "seconds": round(seconds, 2),
        "questions_per_second": round(len(traces) / seconds, 3) if seconds else None,
        "template_version": template_version,
    }


def _prediction_rows(run: DevRun) -> list[dict]:
    return [
        {
            "index": scored["index"],
            "id": ex.id,
            "db_id": ex.db_id,
            "question": ex.question,
            "gold": ex.sql,
            "hardness": scored["hardness"],
            "final": trace.final,
            "steps": trace.steps,
            "notes": trace.notes,
            "failed": trace.error,
            "exec_match": scored["exec_match"],
            "error": scored["error"],
            "error_kind": scored["error_kind"],
        }
        for ex, trace, scored in zip(run.bench.examples, run.traces, run.final["examples"])
    ]


def _write_predictions(out_dir: Path, run: DevRun) -> list[dict]:
    write_text_atomic(out_dir / "predictions.sql", "".join(" ".join(t.final.split()) + "\n" for t in run.traces))
    rows = _prediction_rows(run)
    write_jsonl_atomic(out_dir / "predictions.jsonl", rows)
    return rows


def _write_output_files(out_dir: Path, main: DevRun, metrics: dict) -> None:
    rows = _write_predictions(out_dir, main)
    write_json_atomic(out_dir / "metrics.json", metrics)
    plots = out_dir / "plots"
    by_step = [{"step": s, "ex": v} for s, v in metrics["by_step"].items()]
    if "zero_shot" in metrics:
        by_step.insert(0, {"step": "zero-shot", "ex": metrics["zero_shot"]["ex"]})
    write_json_atomic(plots / "ex_by_step.json", by_step)
    write_json_atomic(
        plots / "ex_by_hardness.json",
        [{"hardness": h, "ex": c["ex"], "n": c["n"]} for h, c in metrics["by_hardness"].items()],
    )
    write_json_atomic(
        plots / "ex_by_benchmark.json",
        [{"benchmark": name, "ex": cell["ex"], "n": cell["n_scored"]} for name, cell in metrics["benchmarks"].items()],
    )
    write_text_atomic(out_dir / "report.html", render_report(metrics, rows))


def log_to_mlflow(metrics: dict, out_dir: Path, params: dict) -> None:
    """Log evaluation metrics and files to the active MLflow run (the caller opens it)."""
    import mlflow

    from routesql.redact import redact_params

    log_eval_metrics(metrics)
    mlflow.set_tag("prompt_template_version", metrics["template_version"])
    mlflow.log_params(redact_params({k: v for k, v in params.items() if not isinstance(v, dict)}))
    for name in ("predictions.sql", "predictions.jsonl", "metrics.json", "report.html"):
        mlflow.log_artifact(str(out_dir / name), artifact_path="evaluation")
    mlflow.log_artifacts(str(out_dir / "benchmarks"), artifact_path="evaluation/benchmarks")


def log_eval_metrics(metrics: dict) -> None:
    """EX overall, zero-shot, after each MCP step and by hardness, and error counts, to the active
    MLflow run (the evaluate run, and the register run of the version it describes)."""
    import mlflow

    mlflow.log_metric("dev_ex", metrics["ex"])
    if "schema_linking" in metrics:
        mlflow.log_metric("dev_table_recall", metrics["schema_linking"]["table_recall"])
    if "zero_shot" in metrics:
        mlflow.log_metric("dev_ex_zero_shot", metrics["zero_shot"]["ex"])
        for level, value in metrics["zero_shot"]["by_hardness"].items():
            mlflow.log_metric(f"dev_ex_zero_shot_{level}", value)
    for step, value in metrics["by_step"].items():
        mlflow.log_metric(f"dev_ex_{step}", value)
    for level, cell in metrics["by_hardness"].items():
        mlflow.log_metric(f"dev_ex_{level}", cell["ex"])
    for category, count in metrics["error_categories"].items():
        mlflow.log_metric(f"errors_{category.replace(' ', '_').replace('/', '_')}", count)
    # One EX per benchmark (the main one too), after each MCP step and by hardness / difficulty:
    # dev_ex/<benchmark>, dev_ex/<benchmark>/<step>, dev_ex/<benchmark>/<level>.
    for name, cell in metrics.get("benchmarks", {}).items():
        mlflow.log_metric(f"dev_ex/{name}", cell["ex"])
        for key, value in {**cell["by_step"], **cell["by_hardness"]}.items():
            mlflow.log_metric(f"dev_ex/{name}/{key}", value)


def load_metrics(out_dir: Path) -> dict:
    from routesql.errors import InputError

    path = out_dir / "metrics.json"
    if not path.is_file():
        raise InputError(out_dir, "no metrics.json: run the evaluate stage first (`routesql evaluate`)")
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(path, "not valid JSON: run the evaluate stage again") from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("ex"), (int, float)):
        raise InputError(path, "holds no dev EX ('ex'): run the evaluate stage again")
    return metrics


def model_template_version(model_dir: Path) -> str:
    """The prompt template version a trained model carries (its export's routesql.json)."""
    from routesql.errors import InputError

    manifest = model_dir / "routesql.json"
    if not model_dir.is_dir():
        raise InputError(model_dir, "model folder not found")
    if not manifest.is_file():
        raise InputError(model_dir, "no routesql.json: not a model exported by `routesql train`")
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("template_version")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        raise InputError(manifest, "not valid JSON: the export is damaged (train again)") from None
    if not isinstance(version, str):
        raise InputError(manifest, "has no template_version: the export is damaged (train again)")
    return version


def check_prompt_version(model_dir: Path, schema_style: str) -> str:
    """Refuse to run a model with prompts other than the ones it was trained on."""
    from transformers import AutoTokenizer

    from routesql.errors import InputError
    from routesql.llm.prompting import model_prompt_version
    from routesql.tasks.templates import prompt_version

    version = model_template_version(model_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir / "merged"))
    except (OSError, ValueError) as exc:
        raise InputError(
            model_dir / "merged", f"cannot load the model's tokenizer: {str(exc).splitlines()[0]}"
        ) from None
    expected = model_prompt_version(prompt_version(schema_style), tokenizer)
    if version != expected:
        raise InputError(
            model_dir,
            f"trained with prompts {version!r} but these settings render {expected!r}; "
            "use the schema style it was trained with (params schema.style), its own "
            "tokenizer (chat template) and the routesql version that trained it",
        )
    return version


def generator_from(params, model_dir: Path) -> Generator:
    """The generator params.yaml asks for: the local model folder, or an OpenAI-compatible server."""
    import os

    from routesql.llm.factory import make_generator

    g = params.generator
    if g.backend == "openai":
        # The chat endpoint renders the task messages with the served model's template, as training did.
        return make_generator(
            "openai",
            base_url=g.base_url,
            model=g.model or "routesql",
            api_key=os.environ.get(g.api_key_env),
            timeout_s=g.timeout_s,
            concurrency=g.concurrency,
            use_chat=True,
        )
    return local_generator(params, model_dir / "merged")


def local_generator(params, model_path: str | Path) -> Generator:  # params: routesql.config.Params
    """A model folder on the local backend, with generator.batch_size and model.dtype, showing a
    progress bar over each generation pass (minutes per MCP step on a CPU)."""
    from routesql.llm.factory import make_generator

    return make_generator(
        "local",
        model_path=model_path,
        batch_size=params.generator.batch_size,
        dtype=params.model.dtype,
        progress=True,
    )
