"""run_sft / run_dpo end to end: export, resume equivalence, DDP on 2 CPU processes, bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from peft import PeftModel
from pytorch_lightning.loggers import Logger
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

import routesql
from routesql.errors import InputError
from routesql.train.checkpoint import MANIFEST, latest_checkpoint
from routesql.train.run import run_dpo, run_sft
from routesql.train.settings import DPOSettings, LoraSettings, SFTSettings
from support import Terminal, write_jsonl

SFT = SFTSettings(
    freeze_layers=0,
    max_steps=4,
    batch_size=2,
    grad_accumulation=2,
    max_seq_len=256,
    warmup_steps=1,
    lr=5e-3,
    checkpoint_every_n_steps=2,
    accelerator="cpu",
    devices=1,
    lora=LoraSettings(r=4, alpha=8, dropout=0.1),  # dropout on: resume must reproduce its masks too
)


def read_manifest(model_dir: Path) -> dict:
    """The routesql.json of an exported model."""
    return json.loads((model_dir / MANIFEST).read_text(encoding="utf-8"))


def adapter(out_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(out_dir / "adapter" / "adapter_model.safetensors")


def losses(metrics_csv: Path) -> list[float]:
    with metrics_csv.open() as rows:
        return [float(row["train/loss"]) for row in csv.DictReader(rows) if row.get("train/loss")]


@pytest.fixture(scope="module")
def uninterrupted(sft_records: Path, tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_sft(sft_records, tiny_base, tmp_path_factory.mktemp("uninterrupted"), SFT)


def test_export_is_loadable_and_carries_the_template_version(uninterrupted: Path, tiny_base: Path) -> None:
    manifest = read_manifest(uninterrupted)
    assert manifest["template_version"] == "test-v1/plain"
    assert manifest["settings"]["lora"]["r"] == 4 and manifest["steps"] == 4
    # each database's records share their prompt prefix (train.share_prefix is on by default)
    assert manifest["records_per_shared_prefix"] and all(
        value > 1 for value in manifest["records_per_shared_prefix"].values()
    )
    merged = AutoModelForCausalLM.from_pretrained(uninterrupted / "merged").eval()
    tokenizer = AutoTokenizer.from_pretrained(uninterrupted / "merged")
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    with_adapter = PeftModel.from_pretrained(base, uninterrupted / "adapter")
    ids = tokenizer("Question: How many owners?\nSQL: ", return_tensors="pt").input_ids
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, with_adapter.eval()(ids).logits, atol=1e-5, rtol=0)


def test_checkpoints_hold_the_adapter_only(uninterrupted: Path, tiny_base: Path) -> None:
    checkpoint = torch.load(latest_checkpoint(uninterrupted), map_location="cpu", weights_only=True)
    assert checkpoint["state_dict"] and all("lora_" in key for key in checkpoint["state_dict"])
    assert checkpoint["optimizer_states"] and checkpoint["lr_schedulers"]
    assert checkpoint["routesql"]["micro_batches_done"] == 4 * SFT.grad_accumulation
    assert checkpoint["routesql"]["sampler"]["position"] > 0
    assert latest_checkpoint(uninterrupted).stat().st_size < (tiny_base / "model.safetensors").stat().st_size


class CrashAtStep(pl.Callback):
    """Dies mid-run after a checkpoint, losing the work since (as a killed job does)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            raise RuntimeError("simulated crash")


@pytest.mark.parametrize(
    ("interruption", "resume_from"),
    [
        ("stop_at_step_2", "step-000002.ckpt"),  # the periodic checkpoint
        ("stop_at_step_3", "step-000003.ckpt"),  # the end-of-session checkpoint
        ("crash_at_step_3", "step-000002.ckpt"),  # step 3's work is lost and redone
    ],
)
def test_resumed_run_ends_with_the_same_adapter(
    uninterrupted: Path, sft_records: Path, tiny_base: Path, tmp_path: Path, interruption: str, resume_from: str
) -> None:
    if interruption.startswith("stop_at_step_"):
        run_sft(sft_records, tiny_base, tmp_path, SFT, stop_at_step=int(interruption[-1]))
    else:
        with pytest.raises(RuntimeError, match="simulated crash"):
            run_sft(sft_records, tiny_base, tmp_path, SFT, callbacks=[CrashAtStep(3)])
    assert not (tmp_path / "merged").exists() and latest_checkpoint(tmp_path).name == resume_from
    run_sft(sft_records, tiny_base, tmp_path, SFT)
    expected, resumed = adapter(uninterrupted), adapter(tmp_path)
    assert expected.keys() == resumed.keys()
    for name in expected:
        torch.testing.assert_close(resumed[name], expected[name], atol=1e-6, rtol=0)
    assert read_manifest(tmp_path)["resumed_from"].endswith(resume_from)


def test_resume_with_other_settings_is_refused(
    uninterrupted: Path, sft_records: Path, tiny_base: Path, tmp_path: Path
) -> None:
    shutil.copytree(uninterrupted / "checkpoints", tmp_path / "checkpoints")
    with pytest.raises(InputError, match="other training settings"):
        run_sft(sft_records, tiny_base, tmp_path, SFT.model_copy(update={"lr": 1e-3}))


DPO = DPOSettings(
    freeze_layers=0,
    grad_accumulation=1,
    max_steps=2,
    batch_size=2,
    max_seq_len=256,
    warmup_steps=0,
    accelerator="cpu",
    devices=1,
    checkpoint_every_n_steps=1,
    lora=LoraSettings(r=4, alpha=8),
)


def test_dpo_run_exports(preference_records: Path, uninterrupted: Path, tmp_path: Path) -> None:
    out = run_dpo(preference_records, uninterrupted / "merged", tmp_path, DPO)
    assert read_manifest(out)["kind"] == "dpo" and read_manifest(out)["template_version"] == "test-v1/plain"
    assert AutoModelForCausalLM.from_pretrained(out / "merged") is not None


class RecordingLogger(Logger):
    """Any Lightning logger works (the pipeline passes MLFlowLogger); this one keeps what it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.hyperparameters: dict = {}
        self.metrics: list[tuple[int, dict]] = []

    @property
    def name(self) -> str:
        return "recording"

    @property
    def version(self) -> str:
        return "0"

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        self.hyperparameters.update(params)

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        self.metrics.append((step, metrics))


def test_any_lightning_logger_gets_hyperparameters_and_step_metrics(
    sft_records: Path, tiny_base: Path, tmp_path: Path
) -> None:
    logger = RecordingLogger()
    run_sft(sft_records, tiny_base, tmp_path, SFT.model_copy(update={"max_steps": 2}), logger=logger)
    assert logger.hyperparameters["template_version"] == "test-v1/plain"
    assert logger.hyperparameters["settings"]["mix"] == SFT.mix
    assert [step for step, _ in logger.metrics] == [0, 1]
    expected = {"train/loss", "train/tokens_per_s", "train/peak_memory_mb", "train/lr", "train/non_padding_share"}
    for _, metrics in logger.metrics:
        assert expected <= metrics.keys()
        assert any(key.startswith("train/loss_") for key in metrics)
        assert 0 < metrics["train/non_padding_share"] <= 1 and metrics["train/peak_memory_mb"] > 0


def test_sft_then_dpo_log_to_one_mlflow_run(preference_records: Path, uninterrupted: Path, tmp_path: Path) -> None:
    """The train stage's SFT and DPO share one MLflow run, which refuses to change a logged param
    and would draw both runs' steps on one curve if their metrics had the same names."""
    from mlflow import MlflowClient
    from pytorch_lightning.loggers import MLFlowLogger

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = MLFlowLogger(experiment_name="train", tracking_uri=uri)
    logger.log_hyperparams({"kind": "sft", "records": "data/synth/sft.jsonl"})  # as run_sft logged them
    logger.log_metrics({"train/loss": 0.5}, step=0)
    dpo = DPO.model_copy(update={"max_steps": 1})
    run_dpo(preference_records, uninterrupted / "merged", tmp_path / "dpo", dpo, logger=logger)
    client = MlflowClient(uri)
    logged = client.get_run(logger.run_id).data.params
    assert logged["kind"] == "sft" and logged["records"] == "data/synth/sft.jsonl"
    assert logged["dpo/kind"] == "dpo" and logged["dpo/settings/beta"] == str(dpo.beta)
    assert [m.value for m in client.get_metric_history(logger.run_id, "train/loss")] == [0.5]  # SFT's alone
    for name in ("dpo/loss", "dpo/peak_memory_mb", "dpo/reward_margin", "dpo/preference_accuracy"):
        assert len(client.get_metric_history(logger.run_id, name)) == dpo.max_steps, name


@pytest.mark.parametrize("is_terminal", [True, False])
def test_training_shows_its_steps_as_a_bar_in_a_terminal_and_as_lines_in_a_log(
    sft_records: Path, tiny_base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, is_terminal: bool
) -> None:
    stderr = Terminal() if is_terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    run_sft(sft_records, tiny_base, tmp_path, SFT.model_copy(update={"max_steps": 2, "grad_accumulation": 2}))
    shown = stderr.getvalue()
    lines = re.findall(r"SFT training: step (\d)/2, loss \d+\.\d{3}", shown)
    if is_terminal:
        assert "SFT training" in shown and "2/2" in shown and "loss=" in shown, shown
        assert lines == []
    else:
        assert lines == ["1", "2"] and shown.count("SFT training") == 2, shown  # a log: lines, no redraws


DDP_DRIVER = """
import sys
from pathlib import Path
from routesql.train.run import run_sft
from routesql.train.settings import SFTSettings
records, base, out, settings = sys.argv[1:5]
run_sft(Path(records), base, Path(out), SFTSettings.model_validate_json(Path(settings).read_text()))
"""


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_matches_one_process(sft_records: Path, tiny_base: Path, tmp_path: Path) -> None:
    """Global batch 4 = 2 processes x 2 packs (gloo) vs 1 process x 4 packs: same curve, same adapter.

    Tolerance 1e-4 (observed ~1e-6): only the float summation order differs.
    """
    common = {"max_steps": 3, "batch_size": 4, "grad_accumulation": 1, "lora": LoraSettings(r=4, alpha=8, dropout=0.0)}
    single = run_sft(sft_records, tiny_base, tmp_path / "single", SFT.model_copy(update=common))
    ddp_settings = SFT.model_copy(update={**common, "batch_size": 2, "strategy": "ddp", "devices": 2})
    (tmp_path / "settings.json").write_text(ddp_settings.model_dump_json())
    (tmp_path / "driver.py").write_text(DDP_DRIVER)
    src = str(Path(routesql.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    command = [
        sys.executable,
        str(tmp_path / "driver.py"),
        str(sft_records),
        str(tiny_base),
        str(tmp_path / "ddp"),
        str(tmp_path / "settings.json"),
    ]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    single_curve = losses(single / "logs" / "version_0" / "metrics.csv")
    ddp_curve = losses(tmp_path / "ddp" / "logs" / "version_0" / "metrics.csv")
    assert len(single_curve) == len(ddp_curve) == 3
    assert ddp_curve == pytest.approx(single_curve, abs=1e-4)
    for name, weight in adapter(single).items():
        torch.testing.assert_close(adapter(tmp_path / "ddp")[name], weight, atol=1e-4, rtol=0)


def _without_tokenizer(base: Path, target: Path) -> Path:
    shutil.copytree(base, target)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (target / name).unlink()
    return target


@pytest.mark.parametrize(
    ("case", "where", "problem"),
    [
        ("empty_corpus", "empty.jsonl", "no records"),
        ("unknown_task_in_mix", "train.mix.sql_golf", "unknown task"),
        ("ratios_sum_to_zero", "train.mix", "positive number"),
        ("task_without_records", "train.mix.slice_linking", "has no 'slice_linking' record"),
        ("base_without_tokenizer", "no_tokenizer", "has no tokenizer"),
        ("base_missing", "absent_model", "folder not found"),
        ("unknown_strategy", "train.strategy", "Lightning does not know strategy 'ddpp'"),
    ],
)
def test_bad_input_stops_before_training(
    case: str, where: str, problem: str, sft_records: Path, tiny_base: Path, tmp_path: Path
) -> None:
    records, base, settings = sft_records, tiny_base, SFT
    if case == "empty_corpus":
        records = write_jsonl([], tmp_path / "empty.jsonl")
    elif case == "unknown_task_in_mix":
        settings = SFT.model_copy(update={"mix": {"sql_golf": 1.0}})
    elif case == "ratios_sum_to_zero":
        settings = SFT.model_copy(update={"mix": {"text_to_sql": 0.0}})
    elif case == "task_without_records":
        settings = SFT.model_copy(update={"mix": {"text_to_sql": 1.0, "slice_linking": 1.0}})
    elif case == "base_without_tokenizer":
        base = _without_tokenizer(tiny_base, tmp_path / "no_tokenizer")
    elif case == "base_missing":
        base = tmp_path / "absent_model"
    elif case == "unknown_strategy":
        settings = SFT.model_copy(update={"strategy": "ddpp"})
    with pytest.raises(InputError) as caught:
        run_sft(records, base, tmp_path / "out", settings)
    assert caught.value.where.endswith(where)
    assert problem in caught.value.problem
    assert not (tmp_path / "out" / "checkpoints").exists()
