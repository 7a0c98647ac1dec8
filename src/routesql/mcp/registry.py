"""The MCP steps `mcp.steps` can name. A new step: its module, and one line here."""

from __future__ import annotations

from routesql.mcp.continuation import Continuation
from routesql.mcp.noise_correction import NoiseCorrection
from routesql.mcp.schema_linking import SchemaLinking
from routesql.mcp.self_consistency import SelfConsistency
from routesql.mcp.step import MCPStep

MCP_STEPS: dict[str, MCPStep] = {
    step.name: step
    for step in (
        SchemaLinking(),
        SelfConsistency(),
        NoiseCorrection(),
        Continuation(),
    )
}
