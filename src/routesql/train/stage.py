"""The `train` stage: multitask SFT on the synthesized records (+ DPO when enabled), tracked in MLflow."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from routesql.errors import InputError
from routesql.train.run import run_dpo, run_sft
from routesql.train.scratch import checkpoint_root
from routesql.train.settings import DPOSettings, SFTSettings, settings_from_mapping


def effective_mix(params, best_mix_path: Path | None) -> dict[str, float]:  # params: routesql.config.Params
    """The task mix to train with: the tuner's best mix when tuning is on and has run, else params."""
    mix = dict(params.tasks.mix)
    if params.tune.enabled and best_mix_path is not None:
        if not best_mix_path.is_file():
            raise InputError(best_mix_path, "tuning is enabled but its best mix is missing; run the tune stage")
        best = json.loads(best_mix_path.read_text())
        mix.update(best["mix"])
    return mix


def sft_settings(params, mix: dict[str, float]) -> SFTSettings:
    data = params.train.model_dump()
    data["mix"] = {task: ratio for task, ratio in mix.items() if ratio > 0}
    return settings_from_mapping(SFTSettings, data, "train")


EXPORTED = ("adapter", "merged", "routesql.json")


def base_digest(base: str) -> bytes:
    """What the base model is, not where it is: its files' contents (a folder or one file), else its
    name. A rebuilt base (other model.tiny settings, say) with the same folder name is another model;
    the same one in another copy of the repository (a DVC experiment's) is the same model."""
    path = Path(base)
    if path.is_dir():
        files = sorted(file for file in path.rglob("*") if file.is_file())
    else:
        files = [path] if path.is_file() else []
    if not files:
        return hashlib.sha256(base.encode()).digest()
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with file.open("rb") as stream:
            digest.update(hashlib.file_digest(stream, "sha256").digest())
    return digest.digest()


def run_key(settings, sft_path: Path, base: str) -> str:
    """Names the checkpoint folder: the same settings, records and base model resume the same run."""
    digest = hashlib.sha256()
    digest.update(json.dumps(settings.model_dump(mode="json"), sort_keys=True).encode())
    digest.update(hashlib.sha256(sft_path.read_bytes()).digest() if sft_path.is_file() else b"")
    digest.update(base_digest(base))
    return digest.hexdigest()[:16]


def publish(export_dir: Path, out_dir: Path) -> Path:
    """Copy a finished export to out_dir in one rename, so out_dir is never half-written."""
    staging = out_dir.with_name(out_dir.name + ".part")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in EXPORTED:
        source = export_dir / name
        if source.is_dir():
            shutil.copytree(source, staging / name)
        elif source.is_file():
            shutil.copy2(source, staging / name)
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    return out_dir


def train_model(
    params,
    sft_path: Path,
    preferences_path: Path,
    base: str,
    out_dir: Path,
    best_mix_path: Path | None = None,
    logger=None,
    stop_at_step: int | None = None,
    work_root: Path | None = None,
) -> Path:
    """SFT then optional DPO; returns out_dir holding the final model's adapter/, merged/, routesql.json.

    Checkpoints live in work_root/<SFT run key> (default: `checkpoint_root()/train`), outside DVC's
    outputs (DVC deletes outputs before a rerun), so a killed run restarted with the same settings
    and records resumes where it stopped, and a finished SFT is not trained again. DPO's live in
    <SFT run key>/dpo/<DPO run key>: other DPO settings or pairs start a run of their own.
    """
    settings = sft_settings(params, effective_mix(params, best_mix_path))
    work = (work_root or checkpoint_root() / "train") / run_key(settings, sft_path, base)
    final = run_sft(sft_path, base, work, settings, logger=logger, stop_at_step=stop_at_step)
    if params.dpo.enabled:
        if not preferences_path.is_file() or not preferences_path.read_text().strip():
            raise InputError(
                preferences_path, "dpo.enabled is true but there are no preference pairs (turn on synthesize.weak)"
            )
        data = {k: v for k, v in params.dpo.model_dump().items() if k != "enabled"}
        dpo_settings = settings_from_mapping(DPOSettings, data, "dpo")
        dpo_work = work / "dpo" / run_key(dpo_settings, preferences_path, work.name)
        final = run_dpo(preferences_path, final / "merged", dpo_work, dpo_settings, logger=logger)
    return publish(final, out_dir)
