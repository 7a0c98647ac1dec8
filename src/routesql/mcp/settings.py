"""How MCP runs: which steps in which order, decoding and the schema view; defaults from params.yaml."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from routesql.config import MCP_STEP_SWITCHES, Params, load_params
from routesql.errors import InputError
from routesql.mcp.registry import MCP_STEPS
from routesql.settings_reads import peek, untraced

# Defaults come from routesql.config (params.yaml's `mcp`, `schema`, `execution` and `seed`).
# Read untraced: taking defaults is no use of the user's settings (routesql.settings_reads).
with untraced():
    _DEFAULTS = Params()
    _MCP, _SCHEMA, _EXECUTION = (dict(vars(s)) for s in (_DEFAULTS.mcp, _DEFAULTS.schema_, _DEFAULTS.execution))
    _SEED = _DEFAULTS.seed
DRAFT = "draft"  # the trace label of the text-to-SQL draft every run starts with


@dataclass(frozen=True)
class MCPSettings:
    steps: tuple[str, ...] = tuple(_MCP["steps"])  # after the draft, in this order (routesql.mcp.registry)
    self_consistency: int = _MCP["self_consistency"]  # samples voted by the self_consistency step
    # SQL-writing steps may name only the schema's tables and columns (local backend only)
    constrain_names: bool = _MCP["constrain_names"]
    # with constrain_names: string literals must be text of the question (or evidence), numbers
    # ones it states (or 0, 1); off for benchmarks whose values are not in their questions
    constrain_values: bool = _MCP["constrain_values"]
    # with constrain_names: a query may end only where it compiles on (an empty copy of) the schema
    compile_check: bool = _MCP["compile_check"]
    sample_temperature: float = _MCP["sample_temperature"]
    max_new_tokens: int = _MCP["max_new_tokens"]
    sample_rows: int = _SCHEMA["sample_rows"]
    schema_style: str = _SCHEMA["style"]  # as the model was trained (routesql.db.schema.SCHEMA_STYLES)
    token_budget: int = _SCHEMA["token_budget"]  # a full schema above this is linked slice by slice
    timeout_s: float = _EXECUTION["timeout_s"]
    row_cap: int = _EXECUTION["row_cap"]
    result_cap_mb: float = _EXECUTION["result_cap_mb"]
    seed: int = _SEED

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))  # a list from JSON or YAML
        check_steps(self.steps, self.self_consistency)

    @classmethod
    def from_params(cls, params: Params) -> MCPSettings:
        """The MCP settings params.yaml asks for."""
        m = params.mcp
        return cls(
            steps=tuple(m.steps),
            self_consistency=m.self_consistency,
            constrain_names=m.constrain_names,
            constrain_values=m.constrain_values,
            compile_check=m.compile_check,
            sample_temperature=m.sample_temperature,
            max_new_tokens=m.max_new_tokens,
            sample_rows=params.schema_.sample_rows,
            schema_style=params.schema_.style,
            token_budget=params.schema_.token_budget,
            timeout_s=params.execution.timeout_s,
            row_cap=params.execution.row_cap,
            result_cap_mb=params.execution.result_cap_mb,
            seed=params.seed,
        )

    @classmethod
    def from_saved(cls, saved: dict) -> MCPSettings:
        """The settings a registered model was saved with (`mcp_settings.json`). Models saved
        before `steps` existed hold one switch per step; they become the same steps in the order
        those versions ran them (voting was then part of the regeneration after linking)."""
        saved = dict(saved)
        if "steps" not in saved:
            switches = [name for name in MCP_STEP_SWITCHES if saved.pop(name, False)]
            votes = ["self_consistency"] if saved.get("self_consistency", 1) > 1 else []
            saved["steps"] = switches[:1] + votes + switches[1:] if "schema_linking" in switches else votes + switches
        return cls(**saved)

    @property
    def labels(self) -> tuple[str, ...]:
        """The trace keys a run records, in order: the draft, then each step's label."""
        return (DRAFT, *(MCP_STEPS[name].label for name in self.steps))


def check_steps(steps: tuple[str, ...], self_consistency: int) -> None:
    """mcp.steps names known steps, each once; mcp.self_consistency is used exactly when voting runs."""
    for name in steps:
        if name not in MCP_STEPS:
            raise InputError("mcp.steps", f"unknown step {name!r} (known: {', '.join(MCP_STEPS)})")
    if len(set(steps)) != len(steps):
        raise InputError("mcp.steps", f"a step is listed twice: {list(steps)}")
    votes = "self_consistency" in steps
    if votes and self_consistency < 2:
        raise InputError(
            "mcp.self_consistency", f"the self_consistency step needs 2 or more samples, got {self_consistency}"
        )
    if not votes and self_consistency != 1:
        raise InputError(
            "mcp.self_consistency", f"{self_consistency} samples, but self_consistency is not in mcp.steps (add it)"
        )


def load_checked_params(path: Path) -> Params:
    """params.yaml validated, with what only this layer knows checked too (the names in
    mcp.steps), so a typo stops the first command that reads it, not the evaluation after training."""
    loaded = load_params(path)
    section = peek(loaded, "mcp")  # checked here, used (and recorded as read) where MCP runs
    try:
        check_steps(tuple(peek(section, "steps")), peek(section, "self_consistency"))
    except InputError as error:
        raise InputError(path, str(error)) from None
    return loaded


def text_to_sql_only(settings: MCPSettings) -> MCPSettings:
    """The same decoding (constraints included) with no step after the draft: what the zero-shot
    baseline and tuning trials are scored with."""
    return replace(settings, steps=(), self_consistency=1)
