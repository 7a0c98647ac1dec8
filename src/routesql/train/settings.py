"""Typed, validated training settings (the `train:` part of params.yaml is composed from these).

Every model forbids unknown keys, and every error names its key: `settings_from_mapping` turns a
pydantic ValidationError into one `InputError` line such as `train.mix.foo: unknown task`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeGuard, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from routesql.errors import InputError
from routesql.settings_reads import ReadTrackedModel
from routesql.tasks.registry import SFT_TASK_NAMES, SFT_TASKS

# Lightning precision flags (trainer `precision=`); listed so a typo fails at config time.
Precision = Literal[
    "64-true",
    "32-true",
    "16-true",
    "bf16-true",
    "16-mixed",
    "bf16-mixed",
    "transformer-engine",
    "transformer-engine-float16",
]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)

SettingsT = TypeVar("SettingsT", bound=BaseModel)


def is_precision(value: str) -> TypeGuard[Precision]:
    """`value` is one of Lightning's precision flags (PRECISIONS)."""
    return value in PRECISIONS


def _key_error(key: str, problem: str, value: object) -> ValidationError:
    """A ValidationError located at `key` inside the field being validated (pydantic prefixes the field)."""
    detail = InitErrorDetails(type=PydanticCustomError("routesql", problem), loc=(key,), input=value)
    return ValidationError.from_exception_data("settings", [detail])


def known_strategies() -> list[str]:
    """Strategy names Lightning knows (imported lazily: Lightning is slow to import)."""
    from pytorch_lightning.strategies import StrategyRegistry

    return ["auto", *sorted(StrategyRegistry.available_strategies())]


def known_accelerators() -> list[str]:
    from pytorch_lightning.accelerators import AcceleratorRegistry

    return ["auto", *sorted(AcceleratorRegistry.available_accelerators())]


class _Settings(ReadTrackedModel):
    model_config = ConfigDict(extra="forbid")


class TinyModelSettings(_Settings):
    """The embedded tiny base: a byte-level BPE tokenizer and a small Qwen2 trained from scratch."""

    vocab_size: int = Field(2000, ge=300, le=65536)
    hidden_size: int = Field(192, ge=16)
    num_layers: int = Field(4, ge=1)
    num_heads: int = Field(4, ge=1)
    num_kv_heads: int = Field(2, ge=1)
    intermediate_size: int = Field(528, ge=16)
    max_positions: int = Field(2048, ge=64)
    pretrain_steps: int = Field(400, ge=0)
    pretrain_batch_size: int = Field(8, ge=1)
    pretrain_seq_len: int = Field(256, ge=16)
    pretrain_lr: float = Field(1e-3, gt=0)


class LoraSettings(_Settings):
    enabled: bool = True  # dpo.lora's default (DPO's reference is the adapter off); train.lora's is below
    r: int = Field(16, ge=1)
    alpha: float = Field(32.0, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        min_length=1,
    )


class _TrainerSettings(_Settings):
    """What every Lightning run shares: optimisation, precision and how it is distributed.

    These defaults are params.yaml's `train:` (tests/test_config.py pins the file to them); DPO
    overrides its own below.
    """

    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(2, ge=0)
    max_steps: int = Field(80, ge=1)
    batch_size: int = Field(1, ge=1)
    grad_accumulation: int = Field(4, ge=1)
    max_seq_len: int = Field(1024, ge=16)
    precision: str = "32-true"
    gradient_checkpointing: bool = False
    # The embeddings and the bottom N decoder layers stay as they are: backward stops above them.
    freeze_layers: int = Field(20, ge=0)
    checkpoint_every_n_steps: int = Field(8, ge=1)
    seed: int = 0
    strategy: str = "auto"
    accelerator: str = "auto"
    devices: int | str | list[int] = "auto"
    num_nodes: int = Field(1, ge=1)
    lora: LoraSettings = Field(default_factory=LoraSettings)

    @field_validator("precision")
    @classmethod
    def _known_precision(cls, value: str) -> str:
        if not is_precision(value):
            raise ValueError(f"unknown precision {value!r} (known: {', '.join(PRECISIONS)})")
        return value

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        known = known_strategies()
        if value not in known:
            raise ValueError(f"Lightning does not know strategy {value!r} (known: {', '.join(known)})")
        return value

    @field_validator("accelerator")
    @classmethod
    def _known_accelerator(cls, value: str) -> str:
        known = known_accelerators()
        if value not in known:
            raise ValueError(f"Lightning does not know accelerator {value!r} (known: {', '.join(known)})")
        return value


def default_mix() -> dict[str, float]:
    """The task mix `tasks.mix` defaults to, each task's own default ratio: 2 CPU cores have time
    for text-to-SQL and the continuation MCP uses (README, "Training SmolLM2 on 2 CPU cores")."""
    return {task.name: task.default_ratio for task in SFT_TASKS}


def mix_problem(mix: Mapping[str, float]) -> tuple[str | None, str] | None:
    """What is wrong with a task mix, as (the task at fault or None for the whole mix, the problem);
    None when nothing is. The one set of rules for params (validate_mix) and callers (normalise_mix)."""
    for task, ratio in mix.items():
        if task not in SFT_TASK_NAMES:
            return task, f"unknown task (known: {', '.join(SFT_TASK_NAMES)})"
        if not ratio >= 0:  # also NaN
            return task, f"ratio must be a number >= 0, got {ratio}"
    total = sum(mix.values())
    if not total > 0:
        return None, f"ratios must sum to a positive number, got {total}"
    return None


def validate_mix(mix: dict[str, float]) -> dict[str, float]:
    """A task mix's checks, for every model holding one (train.mix here, tasks.mix in params)."""
    problem = mix_problem(mix)
    if problem is None:
        return mix
    task, text = problem
    if task is None:
        raise ValueError(text)
    raise _key_error(task, text, mix[task])


class SFTSettings(_TrainerSettings):
    """Multitask SFT: `mix` maps task name to sampling ratio (normalised; zero leaves a task out)."""

    mix: dict[str, float] = Field(default_factory=default_mix)
    lora: LoraSettings = Field(default_factory=lambda: LoraSettings(enabled=False))  # full fine-tuning
    # Records of one task and database are packed as their common prompt prefix once and each
    # record's rest (packing.share_prefixes): the same loss, about 2.9x the records per token on the
    # demo's rows of 1024.
    share_prefix: bool = True

    @field_validator("mix")
    @classmethod
    def _valid_mix(cls, mix: dict[str, float]) -> dict[str, float]:
        return validate_mix(mix)


class DPOSettings(_TrainerSettings):
    """DPO on preference pairs; the reference is the same model with its adapter switched off."""

    beta: float = Field(0.1, gt=0)
    lr: float = Field(5e-5, gt=0)
    # 16 pairs a step (batch_size x grad_accumulation): synthesize.weak's 64 pairs twice over.
    max_steps: int = Field(8, ge=1)
    batch_size: int = Field(4, ge=1)
    max_seq_len: int = Field(512, ge=16)  # one prompt and completion per sequence, no packing


def settings_from_mapping(model: type[SettingsT], data: Mapping[str, Any], where: str) -> SettingsT:
    """Validate `data` as `model`; the first problem becomes `InputError('<where>.<key>', problem)`."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise validation_input_error(exc, where) from None


def validation_input_error(exc: ValidationError, where: str) -> InputError:
    """One clear line for the first error: the dotted key path, then pydantic's message."""
    first = exc.errors(include_url=False)[0]
    path = ".".join([where, *(str(part) for part in first["loc"])]) if first["loc"] else where
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return InputError(path, message)
