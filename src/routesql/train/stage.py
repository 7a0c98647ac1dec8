"""The `train` stage: multitask SFT on the synthesized records (+ DPO when enabled), tracked in MLflow."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from routesql.errors import InputError
from routesql.train.run import run_dpo, run_sft
from routesql.train.settings import SFTSettings, settings_from_mapping


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


def run_key(settings, sft_path: Path, base: str) -> str:
    """Names the checkpoint folder: the same settings, records and base resume the same run."""
    digest = hashlib.sha256()
    digest.update(json.dumps(settings.model_dump(mode="json"), sort_keys=True).encode())
    digest.update(hashlib.sha256(sft_path.read_bytes()).digest() if sft_path.is_file() else b"")
    digest.update(base.encode())
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
    work_root: Path = Path("checkpoints/train"),
) -> Path:
    """SFT then optional DPO; returns out_dir holding the final model's adapter/, merged/, routesql.json.

    Checkpoints live in work_root/<run key>, outside DVC's outputs (DVC deletes outputs before a
    rerun), so a killed run restarted with the same settings and records resumes where it stopped.
    """
    settings = sft_settings(params, effective_mix(params, best_mix_path))
    work = work_root / run_key(settings, sft_path, base)
    final = run_sft(sft_path, base, work, settings, logger=logger, stop_at_step=stop_at_step)
    if params.dpo.enabled:
        if not preferences_path.is_file() or not preferences_path.read_text().strip():
            raise InputError(
                preferences_path, "dpo.enabled is true but there are no preference pairs (turn on synthesize.weak)"
            )
        dpo_settings = params.dpo.model_copy(update={})
        data = {k: v for k, v in dpo_settings.model_dump().items() if k != "enabled"}
        from routesql.train.settings import DPOSettings

        final = run_dpo(
            preferences_path,
            final / "merged",
            work / "dpo",
            settings_from_mapping(DPOSettings, data, "dpo"),
            logger=logger,
        )
    return publish(final, out_dir)
