"""The `tune` stage: an Optuna study over the task-mix ratios (optionally LR and LoRA rank).

Each trial is a short SFT run plus a text-to-SQL evaluation. Tuning never looks at the dev split: the
last `validation_databases` training databases are held out, trials train on the others and are
scored (EX) on questions from the held-out ones, as dev is scored on unseen databases. A trial is
pruned on the loss of held-out text-to-SQL records. Each trial is a nested MLflow run under the
tuning run. The storage is a SQLite file by default or a PostgreSQL URL, so several processes (or
machines) can work on one study; the study stops at `n_trials` finished trials in total.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import optuna
import pytorch_lightning as pl
import torch

from routesql.atomic import write_json_atomic, write_jsonl_atomic
from routesql.bench.loaders import load_benchmark
from routesql.evaluate import local_generator, score_with, scoring_options_from
from routesql.mcp.settings import MCPSettings
from routesql.redact import redact_params
from routesql.study import StudyLock, open_study, run_study
from routesql.train.settings import SFTSettings, settings_from_mapping


class ValidationLossPruning(pl.Callback):
    """Every `every` steps: loss of held-out completions → `trial.report`; prune if Optuna says so."""

    def __init__(self, trial: optuna.Trial, tokenizer, held_out: list[dict], every: int) -> None:
        from routesql.train.packing import tokenize_pairs

        self.trial, self.every = trial, every
        # Encoded as training encodes them (chat template, eos), once for all validations.
        self.held_out = tokenize_pairs(tokenizer, [r["prompt"] for r in held_out], [r["completion"] for r in held_out])
        self.last_loss: float | None = None
        self.validated_step = 0

    @torch.no_grad()
    def validation_loss(self, model) -> float:
        was_training = model.training
        model.eval()
        total, count = 0.0, 0
        for prompt, answer in self.held_out:
            ids = torch.tensor([prompt + answer], device=model.device)
            labels = ids.clone()
            labels[0, : len(prompt)] = -100
            total += float(model(input_ids=ids, labels=labels).loss) * len(answer)
            count += len(answer)
        model.train(was_training)
        return total / max(count, 1)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        # With gradient accumulation this hook runs for every micro-batch, and a step's later
        # micro-batches see the same weights: each step is validated (and reported) once.
        if step == 0 or step % self.every or step == self.validated_step or not trainer.is_global_zero:
            return
        self.validated_step = step
        loss = self.last_loss = self.validation_loss(pl_module.model)
        self.trial.report(-loss, step)  # the study maximises; lower loss is better
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"validation loss {loss:.4f} at step {step}")


def split_for_tuning(sft_path: Path, held_out_dbs: set[str], work_dir: Path) -> tuple[Path, list[dict]]:
    """Trial records (held-out databases removed) and held-out text-to-SQL records for pruning."""
    records = [json.loads(line) for line in sft_path.read_text().splitlines() if line.strip()]
    train = [r for r in records if r["db_id"] not in held_out_dbs]
    held = [
        r
        for r in records
        if r["db_id"] in held_out_dbs and r["task"] == "text_to_sql" and r.get("origin") == "benchmark"
    ]
    path = write_jsonl_atomic(work_dir / "trial_records.jsonl", train)
    return path, held[:24]


def suggest(trial: optuna.Trial, params) -> tuple[dict[str, float], dict]:  # params: routesql.config.Params
    mix = dict(params.tasks.mix)
    low, high = params.tune.ratio_range
    for task in params.tune.tasks:
        mix[task] = trial.suggest_float(f"mix.{task}", low, high)
    extra: dict[str, object] = {}
    if params.tune.tune_lr:
        extra["lr"] = trial.suggest_float("lr", params.train.lr / 4, params.train.lr * 4, log=True)
    if params.tune.tune_lora_rank:
        extra["lora"] = {**params.train.lora.model_dump(), "r": trial.suggest_categorical("lora_r", [4, 8, 16, 32])}
    return mix, extra


def make_objective(params, base: str, trial_records: Path, held_out: list[dict], questions, work_dir: Path):
    from routesql.llm.loading import load_tokenizer
    from routesql.mcp.pipeline import MCPPipeline
    from routesql.mcp.settings import text_to_sql_only
    from routesql.train.run import run_sft

    tokenizer = load_tokenizer(base)
    # Trials are scored on text-to-SQL alone, with the configured decoding (constraints): the MCP
    # steps after it are the same for every mix and would multiply each trial's generation time.
    trial_settings = text_to_sql_only(MCPSettings.from_params(params))
    # One trial at a time already fills the cores: its few held-out queries run in-process.
    trial_scoring = dataclasses.replace(scoring_options_from(params), workers=1)

    def objective(trial: optuna.Trial) -> float:
        import mlflow

        mix, extra = suggest(trial, params)
        data = {
            **params.train.model_dump(),
            **extra,
            "max_steps": params.tune.max_steps,
            "mix": {t: r for t, r in mix.items() if r > 0} or {"text_to_sql": 1.0},
            "checkpoint_every_n_steps": params.tune.max_steps + 1,
        }
        settings = settings_from_mapping(SFTSettings, data, "tune")
        out = work_dir / f"trial-{trial.number}"
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.log_params(redact_params({f"mix.{k}": round(v, 4) for k, v in mix.items()}))
            pruner = ValidationLossPruning(trial, tokenizer, held_out, every=max(1, params.tune.max_steps // 4))
            try:
                run_sft(trial_records, base, out, settings, callbacks=[pruner])
            except optuna.TrialPruned:
                mlflow.set_tag("state", "pruned")
                raise
            generator = local_generator(params, out / "merged")
            bench, mcp_questions = questions
            traces = MCPPipeline(generator, trial_settings).run(mcp_questions)
            report = score_with(bench, [t.final for t in traces], trial_scoring, progress=False)
            value = report["summary"]["ex"]
            mlflow.log_metric("val_ex", value)
            mlflow.set_tag("state", "complete")
        shutil.rmtree(out, ignore_errors=True)  # trial models are not kept; the best mix is
        trial.set_user_attr("mix", mix)
        if pruner.last_loss is not None:
            trial.set_user_attr("val_loss", pruner.last_loss)
        return value

    return objective


def best_trial(complete: list[optuna.trial.FrozenTrial]) -> optuna.trial.FrozenTrial:
    """Highest EX; among equal EX the lowest held-out validation loss, then the earliest trial.

    A short trial of a small model often scores the same EX as its neighbours (0.0 for all, early
    on); the validation loss still tells the mixes apart.
    """
    return max(complete, key=lambda t: (t.value, -t.user_attrs.get("val_loss", float("inf")), -t.number))


def tuning_questions(params, root: Path):
    """Held-out training databases and up to eval_limit of their questions, spread over patterns."""
    from routesql.mcp.work import MCPQuestion

    bench = load_benchmark(root, "train", params.data.format, params.data.spider_root_path(), params.data.evidence)
    databases = sorted({ex.db_id for ex in bench.examples if bench.db_path(ex.db_id).is_file()})
    held_out = set(databases[-params.tune.validation_databases :])
    pool = [ex for ex in bench.examples if ex.db_id in held_out]
    stride = max(1, len(pool) // params.tune.eval_limit)
    chosen = pool[::stride][: params.tune.eval_limit]
    subset = dataclasses.replace(bench, examples=chosen)
    return held_out, (subset, [MCPQuestion(ex.id, ex.question, bench.db_path(ex.db_id), ex.evidence) for ex in chosen])


def study_name(params, sft_path: Path, base: str) -> str:
    """The configured name plus a digest of everything a trial depends on.

    Processes (or a restarted run) with the same settings and records join one study; changing a
    ratio, a training setting or the records starts a fresh study instead of reusing old trials.
    """
    import hashlib

    tune = params.tune.model_dump(mode="json", exclude={"storage", "study"})
    relevant = {
        "tasks": params.tasks.model_dump(mode="json"),
        "train": params.train.model_dump(mode="json"),
        "tune": tune,
        "mcp": params.mcp.model_dump(mode="json"),
        "seed": params.seed,
        "base": base,
    }
    digest = hashlib.sha256(json.dumps(relevant, sort_keys=True).encode())
    digest.update(hashlib.sha256(sft_path.read_bytes()).digest())
    return f"{params.tune.study}-{digest.hexdigest()[:12]}"


def run_tuning(params, root: Path, sft_path: Path, base: str, out_path: Path, work_dir: Path) -> dict:
    """Run (or join) the study and write the best mix; with tuning off, write the configured mix."""
    if not params.tune.enabled:
        result = {"mix": dict(params.tasks.mix), "tuned": False}
        write_json_atomic(out_path, result)
        return result
    import mlflow

    held_out, questions = tuning_questions(params, root)
    work_dir.mkdir(parents=True, exist_ok=True)
    trial_records, held_records = split_for_tuning(sft_path, held_out, work_dir)
    name = study_name(params, sft_path, base)
    study = open_study(params, name)
    objective = make_objective(params, base, trial_records, held_records, questions, work_dir)
    mlflow.set_tracking_uri(params.tracking.uri)
    mlflow.set_experiment(params.tracking.experiment)
    with mlflow.start_run(run_name="tune"):
        mlflow.log_params(
            redact_params(
                {
                    "tune.n_trials": params.tune.n_trials,
                    "tune.max_steps": params.tune.max_steps,
                    "tune.held_out": ",".join(sorted(held_out)),
                }
            )
        )
        ran = run_study(study, objective, params.tune.n_trials, StudyLock(params.tune.storage, name))
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not complete:
            raise RuntimeError("no tuning trial completed (all pruned or failed)")
        best = best_trial(complete)
        assert best.value is not None  # optuna: a COMPLETE trial always holds its objective value
        mlflow.log_metric("best_val_ex", best.value)
    result = {
        "mix": best.user_attrs["mix"],
        "value": best.value,
        "trial": best.number,
        "tuned": True,
        "study": name,
        "trials_run_here": ran,
        "held_out_databases": sorted(held_out),
    }
    write_json_atomic(out_path, result)
    return result
