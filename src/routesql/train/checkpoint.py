"""Periodic adapter-only checkpoints, finding the one to resume from, and the final export.

A checkpoint (`checkpoints/step-000050.ckpt`) is Lightning's: the trainable weights only (the
module drops the frozen base in `on_save_checkpoint`), optimizer and LR-scheduler state, loop
progress, and the data position (`routesql.micro_batches_done`, sampler state).

The export is what later stages read: `adapter/` (peft), `merged/` (a plain causal LM +
tokenizer, loadable with AutoModelForCausalLM) and `routesql.json` (prompt template version and
training settings, so the model is never evaluated with a different prompt than it learned).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from peft import PeftModel
from pytorch_lightning.callbacks import ModelCheckpoint
from transformers import PreTrainedModel, PreTrainedTokenizerBase

CHECKPOINT_DIR = "checkpoints"
MANIFEST = "routesql.json"
_STEP_FILE = re.compile(r"^step-(\d+)\.ckpt$")


def adapter_checkpoint_callback(out_dir: Path, every_n_steps: int, keep: int = 2) -> ModelCheckpoint:
    """Every `every_n_steps` optimizer steps; the `keep` most recent are kept (ranked by step)."""
    return ModelCheckpoint(
        dirpath=out_dir / CHECKPOINT_DIR,
        filename="step-{step:06d}",
        auto_insert_metric_name=False,
        every_n_train_steps=every_n_steps,
        save_top_k=keep,
        monitor="step",
        mode="max",
        save_on_train_epoch_end=False,
        enable_version_counter=False,
    )


def step_checkpoint_path(out_dir: Path, step: int) -> Path:
    return out_dir / CHECKPOINT_DIR / f"step-{step:06d}.ckpt"


def save_final_checkpoint(trainer: pl.Trainer, out_dir: Path, every_n_steps: int) -> None:
    """A checkpoint at the step a session ended on, so a stopped session (or a finished one run
    again) resumes without redoing steps. Every rank calls this and decides alike (saving is
    collective), so the decision uses the step only, never the file system."""
    if trainer.global_step > 0 and trainer.global_step % every_n_steps != 0:
        trainer.save_checkpoint(step_checkpoint_path(out_dir, trainer.global_step), weights_only=False)


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The checkpoint with the highest step under `out_dir/checkpoints`, if any."""
    folder = out_dir / CHECKPOINT_DIR
    if not folder.is_dir():
        return None
    found = [(int(match.group(1)), path) for path in folder.iterdir() if (match := _STEP_FILE.match(path.name))]
    return max(found)[1] if found else None


def export_model(
    model: PreTrainedModel | PeftModel,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: Path,
    manifest: dict[str, Any],
) -> Path:
    """Write adapter/ (LoRA runs), merged/ and routesql.json; the model is merged in place, so last."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(model, PeftModel):
        model.save_pretrained(str(out_dir / "adapter"))
        tokenizer.save_pretrained(out_dir / "adapter")
        merged = model.merge_and_unload()
    else:
        merged = model
    merged.save_pretrained(out_dir / "merged")
    tokenizer.save_pretrained(out_dir / "merged")
    manifest_path = out_dir / MANIFEST
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest_path
