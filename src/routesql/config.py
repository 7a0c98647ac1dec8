"""params.yaml → typed, validated settings. An unknown or mistyped key is an error naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from routesql.errors import InputError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSettings(Section):
    benchmark: str = Field("demo", description="'demo' (the built-in benchmark) or a benchmark folder")
    format: Literal["spider", "spider-syn", "spider-dk", "spider-realistic", "bird"] | None = None
    demo_seed: int = 0
    out: str = "data/benchmark"


class SchemaSettings(Section):
    sample_rows: int = Field(3, ge=0)
    token_budget: int = Field(1024, gt=0)


class ExecutionSettings(Section):
    timeout_s: float = Field(30.0, gt=0)
    row_cap: int = Field(100_000, gt=0)
    workers: int = Field(2, ge=1)


class ScoringSettings(Section):
    semantics: Literal["spider", "bird"] = "spider"
    keep_distinct: bool = False


class StrongSynthesisSettings(Section):
    per_db: int = Field(20, ge=0, description="new (question, SQL) pairs per training database; 0 = off")
    endpoint: str | None = Field(None, description="OpenAI-compatible base URL that writes the questions")


class WeakSamplingSettings(Section):
    enabled: bool = False
    samples: int = Field(4, ge=1)
    temperature: float = Field(0.8, ge=0)


class SynthesizeSettings(Section):
    out: str = "data/synth"
    slice_token_budget: int = Field(512, gt=0)
    noise_per_example: int = Field(2, ge=0)
    correct_share: float = Field(0.25, ge=0, le=1)
    continuation_per_example: int = Field(1, ge=0)
    strong: StrongSynthesisSettings = StrongSynthesisSettings()
    weak: WeakSamplingSettings = WeakSamplingSettings()


class TrackingSettings(Section):
    uri: str = "sqlite:///mlflow.db"
    experiment: str = "routesql"


class Params(Section):
    seed: int = 0
    data: DataSettings = DataSettings()
    schema_: SchemaSettings = Field(SchemaSettings(), alias="schema")
    execution: ExecutionSettings = ExecutionSettings()
    scoring: ScoringSettings = ScoringSettings()
    synthesize: SynthesizeSettings = SynthesizeSettings()
    tracking: TrackingSettings = TrackingSettings()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; a missing file gives the defaults.

    Raises InputError naming the file and the first offending key, e.g.
    ``params.yaml: data.benchmrk: unknown key``.
    """
    source = Path(path)
    if not source.exists():
        return Params()
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(source, f"not valid YAML{where}") from None
    except UnicodeDecodeError:
        raise InputError(source, "not UTF-8 text") from None
    if not isinstance(raw, dict):
        raise InputError(source, "expected a mapping of sections at the top level")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise InputError(source, describe_validation_error(error)) from None


def describe_validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    given = first.get("input")
    shown = f" (got {given!r})" if given is not None and not isinstance(given, dict) else ""
    more = f"; and {len(error.errors()) - 1} more problem(s)" if len(error.errors()) > 1 else ""
    return f"{key}: {first['msg']}{shown}{more}"
