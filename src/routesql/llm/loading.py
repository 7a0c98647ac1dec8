"""Loading a causal LM and its tokenizer from a folder (or hub id): the one loader of the project.

Training (`routesql.train.run`), the local generator (`routesql.llm.local`) and tuning all load
through here, so a model folder fails the same way, with one line naming it, wherever it is used.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from routesql.errors import InputError

# The dtypes a model can be loaded in, by the names params.yaml and the CLI use.
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "float64": torch.float64,
}
# Files of which at least one marks a folder as holding a tokenizer Auto classes can load.
TOKENIZER_FILES: tuple[str, ...] = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """ "auto": bfloat16 on a GPU that supports it (float16 otherwise), float32 on CPU."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if dtype not in DTYPES:
        raise InputError("generator.dtype", f"unknown dtype {dtype!r} (one of auto, {', '.join(DTYPES)})")
    return DTYPES[dtype]


def _looks_local(name_or_path: str) -> bool:
    """A path, not a hub id ("org/name"): absolute, relative with ./ or ../, or under ~."""
    return Path(name_or_path).is_absolute() or name_or_path.startswith(("./", "../", "~", "."))


def has_tokenizer_files(folder: Path) -> bool:
    return any((folder / name).is_file() for name in TOKENIZER_FILES)


def load_tokenizer(name_or_path: str | Path) -> PreTrainedTokenizerBase:
    """The tokenizer of a base model; a pad token is set to eos when the model has none (Llama)."""
    where = str(name_or_path)
    if _looks_local(where) and not Path(where).expanduser().exists():
        raise InputError(where, "base model folder not found")
    if Path(where).is_dir() and not has_tokenizer_files(Path(where)):
        raise InputError(where, f"base model folder has no tokenizer (none of {', '.join(TOKENIZER_FILES)})")
    try:
        tokenizer = AutoTokenizer.from_pretrained(where)
    except (OSError, ValueError) as exc:
        raise InputError(where, f"cannot load a tokenizer: {str(exc).splitlines()[0]}") from None
    if tokenizer.eos_token_id is None:
        raise InputError(where, "the tokenizer has no eos token, needed to end completions")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(name_or_path: str | Path, dtype: torch.dtype) -> PreTrainedModel:
    """The weights of a causal LM, via the Auto classes; a folder must hold a config.json."""
    where = str(name_or_path)
    if _looks_local(where) and not Path(where).expanduser().exists():
        raise InputError(where, "model folder not found")
    if Path(where).is_dir() and not (Path(where) / "config.json").is_file():
        raise InputError(where, "not a model folder (no config.json)")
    try:
        return AutoModelForCausalLM.from_pretrained(where, dtype=dtype)
    except Exception as exc:  # transformers raises many kinds for a damaged folder; each is one line here
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(where, f"cannot load a causal LM: {first_line}") from None


def load_base(
    name_or_path: str | Path, dtype: str | torch.dtype = "float32"
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Any causal LM (hub id or local folder) with its tokenizer, in `dtype` (a name of DTYPES or "auto")."""
    tokenizer = load_tokenizer(name_or_path)
    return load_causal_lm(name_or_path, resolve_dtype(dtype, torch.device("cpu"))), tokenizer
