"""What an MCP step is: a named pass over every question's current SQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from routesql.mcp.work import MCPTrace, QuestionWork

if TYPE_CHECKING:
    from routesql.mcp.pipeline import MCPPipeline


class MCPStep(Protocol):
    """A step of `mcp.steps`. `run` may change `work[i].sql` and write `traces[i].notes`; the
    pipeline then records every question's SQL under `label` in its trace."""

    name: str  # its name in mcp.steps
    label: str  # its key in MCPTrace.steps and in the report (dev_ex/<label>)

    def run(self, pipeline: MCPPipeline, work: dict[int, QuestionWork], traces: list[MCPTrace]) -> None: ...
