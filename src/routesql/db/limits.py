"""The limits every query runs under, and their defaults (params.yaml's `execution` section is
built on these; nothing else writes them down). No heavy imports: the CLI reads the defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from routesql.errors import InputError

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_ROW_CAP = 100_000
DEFAULT_RESULT_CAP_MB = 64


def check_limits(timeout_s: float, row_cap: int, result_cap_mb: float) -> None:
    """Raise InputError unless every limit is finite and positive (an infinite one never stops)."""
    for name, value in (("timeout_s", timeout_s), ("row_cap", row_cap), ("result_cap_mb", result_cap_mb)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise InputError(f"execution.{name}", f"must be a finite number > 0, got {value!r}")


class ExecutionLimits(Protocol):
    """What the runner needs from params.yaml's `execution` section (routesql.config.ExecutionSettings).

    Read-only members: the settings model is frozen, and the runner only reads them."""

    @property
    def timeout_s(self) -> float: ...

    @property
    def row_cap(self) -> int: ...

    @property
    def result_cap_mb(self) -> float: ...


@dataclass(frozen=True)
class QueryLimits:
    """The limits every query runs under; built from params with `QueryLimits.of(params.execution)`."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    row_cap: int = DEFAULT_ROW_CAP
    result_cap_mb: float = DEFAULT_RESULT_CAP_MB

    def __post_init__(self) -> None:
        check_limits(self.timeout_s, self.row_cap, self.result_cap_mb)

    @classmethod
    def of(cls, execution: ExecutionLimits) -> QueryLimits:
        return cls(execution.timeout_s, execution.row_cap, execution.result_cap_mb)
