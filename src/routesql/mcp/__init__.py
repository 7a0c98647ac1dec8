"""Multitask Collaboration Prompting (ROUTE): the model drafts, then refines its SQL step by step.

Every step runs over all questions at once (one batched `generate` call per pass), never one
question at a time. Each question's trace keeps every step's output so the gain of each step
can be measured. Bad input never stops the run: a question whose database is missing, or that
is empty, fails with its reason and the others go on.

The draft (text-to-SQL on the full schema) always comes first; `mcp.steps` chooses and orders
the steps after it, so an ablation is a config change. The steps (`routesql.mcp.registry`):
  schema_linking    links and a reduced schema (their union with the draft's own tables; LR-SQL
                    slice linking when the schema exceeds the token budget), SQL regenerated on
                    it, kept unless it fails where the draft runs;              trace: "reduced"
  self_consistency  `mcp.self_consistency` samples on the current schema, voted by execution
                    result, kept unless it fails where the current SQL runs;    trace: "voted"
  noise_correction  a correction is kept only if the model rejects the SQL and the corrected
                    SQL executes, and, where the SQL ran, the model judges its correction
                    correct when shown it;                                      trace: "corrected"
  continuation      from ``SELECT `` when the SQL fails or touches 0 or 3+ tables, kept only if
                    it returns rows;                                            trace: "continued"

A new step is one module with a class that has `name`, `label` and `run(pipeline, work, traces)`
(see `routesql.mcp.step.MCPStep`), plus its line in `routesql.mcp.registry`.
"""
