"""The synthesis manifest: what was made, what was dropped and why, how long prompts are."""

from __future__ import annotations

from collections import Counter, defaultdict

from routesql.tasks.record import ExampleOutput

PERCENTILES = (50, 90, 99, 100)


def percentile(sorted_values: list[int], q: int) -> int:
    """Nearest-rank percentile of an ascending list (q=100 is the maximum)."""
    if not sorted_values:
        return 0
    rank = max(1, -(-q * len(sorted_values) // 100))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def token_percentiles(records: list[dict]) -> dict[str, dict[str, dict[str, int]]]:
    lengths: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"prompt": [], "total": []})
    for record in records:
        lengths[record["task"]]["prompt"].append(record["prompt_tokens"])
        lengths[record["task"]]["total"].append(record["prompt_tokens"] + record["completion_tokens"])
    result = {}
    for task in sorted(lengths):
        result[task] = {
            kind: {f"p{q}": percentile(sorted(values), q) for q in PERCENTILES}
            for kind, values in lengths[task].items()
        }
    return result


def build_manifest(
    records: list[dict],
    outputs: list[ExampleOutput],
    dropped: dict,
    noise_stats: dict,
    strong_stats: dict,
    n_examples: int,
    template_version: str,
    seconds: float,
) -> dict:
    per_task = Counter(r["task"] for r in records)
    per_origin = Counter(r["origin"] for r in records)
    nc_verdicts = Counter(r.get("noise_kind", "") for r in records if r["task"] == "noise_correction")
    tokens = token_percentiles(records)
    full = tokens.get("text_to_sql", {}).get("prompt", {}).get("p100", 0)
    sliced = tokens.get("slice_linking", {}).get("prompt", {}).get("p100", 0)
    return {
        "template_version": template_version,
        "n_examples": n_examples,
        "n_records": len(records),
        "records_per_task": dict(sorted(per_task.items())),
        "records_per_origin": dict(sorted(per_origin.items())),
        "noise": {"records_per_kind": dict(sorted(nc_verdicts.items())), **noise_stats},
        "dropped": dropped,
        "strong": strong_stats,
        "tokens": tokens,
        "lr_sql": {
            "longest_full_schema_prompt": full,
            "longest_slice_prompt": sliced,
            "ratio": round(sliced / full, 4) if full else None,
        },
        "seconds": round(seconds, 2),
    }
