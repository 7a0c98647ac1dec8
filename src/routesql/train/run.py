"""Trainer assembly: `run_sft` and `run_dpo`, from a records file and a base model to an exported model.

Everything about distribution (strategy, devices, nodes, precision, accumulation) is handed to
`pl.Trainer` as configured; nothing here launches processes or syncs gradients by hand. With
`strategy="ddp"` Lightning re-runs the calling script once per extra device; every process calls
these functions and only global rank 0 writes the export.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import CSVLogger, Logger
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from routesql.errors import InputError
from routesql.llm.loading import load_base
from routesql.llm.prompting import model_prompt_version
from routesql.redact import redact_params
from routesql.tasks.registry import SFT_TASK_NAMES
from routesql.train.checkpoint import (
    adapter_checkpoint_callback,
    export_model,
    latest_checkpoint,
    save_final_checkpoint,
)
from routesql.train.dpo import DPOModule
from routesql.train.mix import normalise_mix
from routesql.train.packing import TokenizedRecord, share_prefixes, tokenize_pairs, tokenize_records
from routesql.train.progress import StepProgress
from routesql.train.records import SFTRecord, load_preference_records, load_sft_records, template_version_of
from routesql.train.settings import (
    DPOSettings,
    LoraSettings,
    SFTSettings,
    is_precision,
    settings_from_mapping,
)
from routesql.train.sft import SFTModule
from routesql.train.stream import TokenizedPair

# Weights are loaded in the dtype the precision flag computes in; "-mixed" keeps fp32 master weights.
_LOAD_DTYPE = {"bf16-true": "bfloat16", "16-true": "float16", "64-true": "float64"}


def prepare_model(
    base_path: str | Path, settings: SFTSettings | DPOSettings
) -> tuple[PreTrainedModel | PeftModel, PreTrainedTokenizerBase]:
    model, tokenizer = load_base(base_path, _LOAD_DTYPE.get(settings.precision, "float32"))
    model.config.use_cache = False
    if settings.gradient_checkpointing:
        enable_activation_checkpointing(model)
    layers = decoder_layers(model)
    if settings.freeze_layers >= len(layers):
        raise InputError(
            "train.freeze_layers", f"must be below the model's {len(layers)} layers, got {settings.freeze_layers}"
        )
    if settings.freeze_layers:
        model.get_input_embeddings().requires_grad_(False)  # tied to the output head in most small models
        for layer in layers[: settings.freeze_layers]:
            layer.requires_grad_(False)
    return with_lora(model, settings.lora, first_layer=settings.freeze_layers), tokenizer


def decoder_layers(model: PreTrainedModel) -> torch.nn.ModuleList:
    """The stack of transformer blocks of a causal LM (`model.model.layers` in Llama/Qwen2)."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if not isinstance(layers, torch.nn.ModuleList):
        raise InputError("train.freeze_layers", f"{type(model).__name__} has no model.layers to freeze")
    return layers


def enable_activation_checkpointing(model: PreTrainedModel) -> None:
    """Recompute layer activations in backward. Non-reentrant checkpointing works with frozen
    inputs, so LoRA needs no input-grad hook. (transformers >= 5.x renamed the method.)"""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def with_lora(model: PreTrainedModel, lora: LoraSettings, first_layer: int = 0) -> PreTrainedModel | PeftModel:
    """LoRA adapters on `lora.target_modules`, in the decoder layers from `first_layer` up."""
    if not lora.enabled:
        return model
    config = LoraConfig(
        r=lora.r,
        # peft annotates lora_alpha as int but only divides by it (scaling = alpha / r): a float alpha is meant
        lora_alpha=lora.alpha,  # type: ignore[arg-type]
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        layers_to_transform=list(range(first_layer, len(decoder_layers(model)))) if first_layer else None,
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise InputError("train.lora.target_modules", str(exc).splitlines()[0]) from None


def build_trainer(
    settings: SFTSettings | DPOSettings,
    out_dir: Path,
    logger: Logger | None,
    max_steps: int,
    kind: str,
    callbacks: Sequence[Callback] = (),
) -> pl.Trainer:
    precision = settings.precision
    assert is_precision(precision)  # the settings model's validator accepts nothing else
    return pl.Trainer(
        accelerator=settings.accelerator,
        strategy=settings.strategy,
        devices=settings.devices,
        num_nodes=settings.num_nodes,
        precision=precision,
        accumulate_grad_batches=settings.grad_accumulation,
        gradient_clip_val=1.0,
        max_steps=max_steps,
        max_epochs=-1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        callbacks=[
            adapter_checkpoint_callback(out_dir, settings.checkpoint_every_n_steps),
            StepProgress(f"{kind.upper()} training"),
            *callbacks,
        ],
        logger=logger if logger is not None else CSVLogger(out_dir, name="logs"),  # version_N per session
        default_root_dir=out_dir,
        enable_progress_bar=False,  # StepProgress: steps of max_steps, not batches of an endless epoch
        enable_model_summary=False,
        use_distributed_sampler=False,  # the streams shard by rank themselves (see stream.py)
    )


def _fit(
    module: SFTModule | DPOModule,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: Path,
    settings: SFTSettings | DPOSettings,
    logger: Logger | None,
    stop_at_step: int | None,
    manifest: dict[str, Any],
    callbacks: Sequence[Callback],
) -> Path:
    """Fit (resuming from the latest checkpoint if any); export once `settings.max_steps` is reached."""
    max_steps = settings.max_steps if stop_at_step is None else min(stop_at_step, settings.max_steps)
    trainer = build_trainer(settings, out_dir, logger, max_steps, module.kind, callbacks)
    assert trainer.logger is not None  # build_trainer always gives one (a CSVLogger by default)
    hyperparameters = {"kind": module.kind, **manifest, "settings": settings.model_dump(mode="json")}
    # SFT then DPO log to the train stage's one run, and MLflow refuses to change a logged param:
    # DPO's go under `dpo/`.
    trainer.logger.log_hyperparams(
        redact_params(hyperparameters if module.kind == "sft" else {module.kind: hyperparameters})
    )
    started = time.perf_counter()
    resume_from = latest_checkpoint(out_dir)
    # weights_only: our checkpoints hold tensors and plain values only, so the safe unpickler suffices.
    trainer.fit(module, ckpt_path=str(resume_from) if resume_from else None, weights_only=True)
    save_final_checkpoint(trainer, out_dir, settings.checkpoint_every_n_steps)
    if trainer.global_step < settings.max_steps or not trainer.is_global_zero:
        return out_dir
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    manifest = {
        **manifest,
        "kind": module.kind,
        "steps": trainer.global_step,
        "resumed_from": str(resume_from) if resume_from else None,
        "wall_seconds_last_session": round(time.perf_counter() - started, 3),
        "training_seconds": None if (seconds := module.training_seconds()) is None else round(seconds, 3),
        "final_metrics": metrics,
        "settings": settings.model_dump(mode="json"),
    }
    export_model(module.model, tokenizer, out_dir, manifest)
    return out_dir


def tokenize_sft(
    records: Sequence[SFTRecord], tokenizer: PreTrainedTokenizerBase, max_len: int, share_prefix: bool, seed: int
) -> tuple[dict[str, list[TokenizedRecord]], int]:
    """Records by task; records longer than `max_len` are dropped (a cut-off schema teaches wrong SQL).

    With `share_prefix`, the records of one task and database are joined to rows of at most
    `max_len` tokens that hold their common prompt prefix once (`share_prefixes`).
    """
    tokenized = tokenize_records(
        tokenizer,
        [record.prompt for record in records],
        [record.completion for record in records],
        [SFT_TASK_NAMES.index(record.task) for record in records],
    )
    by_task: dict[str, list[TokenizedRecord]] = {task: [] for task in SFT_TASK_NAMES}
    databases: dict[str, list[str]] = {task: [] for task in SFT_TASK_NAMES}
    dropped = 0
    for record, source in zip(tokenized, records):
        if len(record) > max_len:
            dropped += 1
        else:
            by_task[source.task].append(record)
            databases[source.task].append(source.db_id)
    if share_prefix:
        by_task = {task: share_prefixes(by_task[task], databases[task], max_len, seed) for task in SFT_TASK_NAMES}
    return by_task, dropped


def run_sft(
    records_path: Path,
    base_path: str | Path,
    out_dir: Path,
    settings: SFTSettings,
    logger: Logger | None = None,
    stop_at_step: int | None = None,
    callbacks: Sequence[Callback] = (),
) -> Path:
    """Multitask SFT of `base_path` on the records; returns `out_dir` holding adapter/, merged/, routesql.json.

    `stop_at_step` ends this session early (as a kill would, minus the lost work); calling again
    resumes from the latest checkpoint. The LR schedule always spans `settings.max_steps`.
    `callbacks` are extra Lightning callbacks (e.g. an Optuna pruning callback).
    """
    settings = settings_from_mapping(SFTSettings, settings.model_dump(), "train")  # also catch model_copy edits
    records = load_sft_records(records_path)
    mix = normalise_mix(settings.mix)
    pl.seed_everything(settings.seed, verbose=False)  # LoRA's initial weights
    model, tokenizer = prepare_model(base_path, settings)
    template_version = model_prompt_version(template_version_of(records, records_path), tokenizer)
    by_task, dropped = tokenize_sft(records, tokenizer, settings.max_seq_len, settings.share_prefix, settings.seed)
    for task in mix:
        if not by_task[task]:
            raise InputError(f"train.mix.{task}", f"ratio > 0 but {records_path} has no '{task}' record that fits")
    manifest = {
        "template_version": template_version,
        "base_model": str(base_path),
        "records": str(records_path),
        "records_used": sum(record.records for task_records in by_task.values() for record in task_records),
        # how many records one copy of a prompt prefix serves, per trained task (1.0: no sharing)
        "records_per_shared_prefix": {
            task: round(sum(record.records for record in by_task[task]) / len(by_task[task]), 2) for task in mix
        },
        "records_dropped_too_long": dropped,
    }
    module = SFTModule(model, settings, by_task, tokenizer.pad_token_id)
    return _fit(module, tokenizer, out_dir, settings, logger, stop_at_step, manifest, callbacks)


def tokenize_preferences(
    prompts: Sequence[str], chosen: Sequence[str], rejected: Sequence[str], tokenizer: PreTrainedTokenizerBase
) -> list[TokenizedPair]:
    chosen_ids = tokenize_pairs(tokenizer, prompts, chosen)
    rejected_ids = tokenize_pairs(tokenizer, prompts, rejected)
    return [
        TokenizedPair(tuple(prompt), tuple(good), tuple(bad))
        for (prompt, good), (_, bad) in zip(chosen_ids, rejected_ids)
    ]


def run_dpo(
    records_path: Path,
    base_path: str | Path,
    out_dir: Path,
    settings: DPOSettings,
    logger: Logger | None = None,
    stop_at_step: int | None = None,
    callbacks: Sequence[Callback] = (),
) -> Path:
    """DPO of `base_path` (typically the SFT `merged/` model) on preference pairs; same export as SFT."""
    settings = settings_from_mapping(DPOSettings, settings.model_dump(), "dpo")
    records = load_preference_records(records_path)
    if not settings.lora.enabled:
        raise InputError("dpo.lora.enabled", "DPO needs a LoRA adapter: the reference is the adapter off")
    pl.seed_everything(settings.seed, verbose=False)  # LoRA's initial weights
    model, tokenizer = prepare_model(base_path, settings)
    template_version = model_prompt_version(template_version_of(records, records_path), tokenizer)
    pairs = tokenize_preferences(
        [record.prompt for record in records],
        [record.chosen for record in records],
        [record.rejected for record in records],
        tokenizer,
    )
    longest = settings.max_seq_len
    fitting = [pair for pair in pairs if len(pair.prompt) + max(len(pair.chosen), len(pair.rejected)) <= longest]
    if not fitting:
        raise InputError(records_path, f"no preference pair fits max_seq_len={settings.max_seq_len}")
    manifest = {
        "template_version": template_version,
        "base_model": str(base_path),
        "records": str(records_path),
        "records_used": len(fitting),
        "records_dropped_too_long": len(pairs) - len(fitting),
    }
    module = DPOModule(model, settings, fitting, tokenizer.pad_token_id)
    return _fit(module, tokenizer, out_dir, settings, logger, stop_at_step, manifest, callbacks)
