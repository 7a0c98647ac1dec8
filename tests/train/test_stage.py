"""train_model: where its checkpoints live, and what it resumes instead of training again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routesql.config import Params
from routesql.train.checkpoint import MANIFEST
from routesql.train.scratch import CHECKPOINTS_ENV, checkpoint_root
from routesql.train.stage import train_model

TINY_TRAINING = {"freeze_layers": 0, "batch_size": 2, "grad_accumulation": 1, "max_seq_len": 256}
TINY_TRAINING |= {"warmup_steps": 0, "checkpoint_every_n_steps": 1, "accelerator": "cpu", "devices": 1}


def params(dpo: bool, beta: float = 0.1) -> Params:
    return Params.model_validate(
        {
            "tasks": {"mix": {"text_to_sql": 1.0, "schema_linking": 0.0, "noise_correction": 0.0, "continuation": 0.0}},
            "train": {**TINY_TRAINING, "max_steps": 2, "lr": 5e-3},
            "dpo": {**TINY_TRAINING, "enabled": dpo, "max_steps": 1, "beta": beta, "lora": {"r": 4, "alpha": 8}},
        }
    )


def manifest(model_dir: Path) -> dict:
    return json.loads((model_dir / MANIFEST).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (None, Path("checkpoints")),
        ("", Path("checkpoints")),
        ("/scratch/routesql", Path("/scratch/routesql")),
    ],
)
def test_the_checkpoint_root_is_the_environments_or_the_working_directorys(
    monkeypatch: pytest.MonkeyPatch, env: str | None, expected: Path
) -> None:
    if env is None:
        monkeypatch.delenv(CHECKPOINTS_ENV, raising=False)
    else:
        monkeypatch.setenv(CHECKPOINTS_ENV, env)
    assert checkpoint_root() == expected


def test_a_finished_sft_is_resumed_not_trained_again_and_each_dpo_setting_runs_apart(
    sft_records: Path, preference_records: Path, tiny_base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    monkeypatch.setenv(CHECKPOINTS_ENV, str(shared))
    sft_only = train_model(params(dpo=False), sft_records, preference_records, str(tiny_base), tmp_path / "sft")
    (work,) = (shared / "train").iterdir()  # the SFT run's folder, under the environment's root
    assert manifest(sft_only)["kind"] == "sft" and manifest(sft_only)["resumed_from"] is None
    trained_for = manifest(sft_only)["training_seconds"]

    # as sense_dpo after sense_strong: the same SFT (settings, records, base), then DPO
    with_dpo = train_model(params(dpo=True), sft_records, preference_records, str(tiny_base), tmp_path / "dpo")
    assert [path.name for path in (shared / "train").iterdir()] == [work.name]
    assert manifest(work)["resumed_from"].endswith("step-000002.ckpt")  # at its last step: no SFT step ran
    assert manifest(work)["training_seconds"] >= trained_for > 0  # the first session's training still counts
    assert manifest(with_dpo)["kind"] == "dpo" and manifest(with_dpo)["base_model"] == str(work / "merged")

    # other DPO settings: a DPO run of their own (resuming the first one's checkpoints is refused)
    train_model(params(dpo=True, beta=0.5), sft_records, preference_records, str(tiny_base), tmp_path / "dpo2")
    assert len(list((work / "dpo").iterdir())) == 2


def test_the_base_model_counts_by_its_contents_not_its_place(tmp_path: Path) -> None:
    from routesql.train.stage import base_digest

    def model(folder: Path, weights: bytes) -> str:
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(weights)
        return str(folder)

    here = base_digest(model(tmp_path / "repo/models/base", b"weights"))
    assert base_digest(model(tmp_path / "experiment-copy/models/base", b"weights")) == here  # same model
    assert base_digest(model(tmp_path / "rebuilt/models/base", b"other weights")) != here
    assert base_digest("HuggingFaceTB/SmolLM2-135M-Instruct") != base_digest("HuggingFaceTB/SmolLM2-360M-Instruct")
