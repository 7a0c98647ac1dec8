"""A self-contained HTML evaluation report: EX by hardness, by MCP step, error categories."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence


def _bar_chart(title: str, labels: list[str], values: list[float], ylabel: str, as_share: bool) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.2), dpi=110)
    bars = ax.bar(labels, values, color="#4a78a8")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if as_share:
        ax.set_ylim(0, 1)
    for bar, value in zip(bars, values):
        ax.annotate(
            f"{value:.3f}" if as_share else f"{value:g}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _zero_shot_cell(zero_shot: dict | None, level: str) -> str:
    value = (zero_shot or {}).get("by_hardness", {}).get(level)
    return "n/a" if value is None else f"{value:.4f}"


def _share_cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _benchmark_tables(metrics: dict) -> str:
    """ROUTE's table shape: a column per benchmark, a row per stage of the method (zero-shot base
    on the main benchmark, then each MCP step); then each benchmark's hardness / difficulty EX."""
    benchmarks = metrics.get("benchmarks") or {}
    if not benchmarks:
        return ""
    names = list(benchmarks)
    steps = list(dict.fromkeys(step for cell in benchmarks.values() for step in cell["by_step"]))
    zero_shot = metrics.get("zero_shot")
    method_rows = []
    if zero_shot:
        method_rows.append(
            [f"zero-shot (base, {zero_shot['n_scored']} questions)"]
            + [_share_cell(zero_shot["ex"] if i == 0 else None) for i in range(len(names))]
        )
    method_rows += [[step] + [_share_cell(benchmarks[n]["by_step"].get(step)) for n in names] for step in steps]
    method_rows.append(["final"] + [_share_cell(benchmarks[n]["ex"]) for n in names])
    method_rows.append(
        ["scored / unscorable"] + [f"{benchmarks[n]['n_scored']} / {benchmarks[n]['n_unscorable']}" for n in names]
    )
    method_rows.append(["minutes"] + [f"{benchmarks[n]['seconds'] / 60:.1f}" for n in names])
    levels = list(dict.fromkeys(level for cell in benchmarks.values() for level in cell["by_hardness"]))
    level_rows = [
        [n, benchmarks[n]["format"], benchmarks[n]["breakdown"]]
        + [_share_cell(benchmarks[n]["by_hardness"].get(level)) for level in levels]
        for n in names
    ]
    return (
        f"<h2>EX by benchmark</h2>{_table(['EX', *names], method_rows)}"
        f"{_table(['benchmark', 'format', 'by', *levels], level_rows)}"
    )


def render_report(metrics: dict, rows: list[dict], max_failures: int = 25) -> str:
    hardness = metrics["by_hardness"]
    zero_shot = metrics.get("zero_shot")
    # The base model before fine-tuning first: what fine-tuning and each MCP step added to it.
    steps = {**({"zero-shot (base)": zero_shot["ex"]} if zero_shot else {}), **metrics["by_step"]}
    errors = metrics["error_categories"]
    figures = [
        _bar_chart("EX by hardness", list(hardness), [c["ex"] for c in hardness.values()], "execution accuracy", True),
        _bar_chart("EX after each MCP step", list(steps), list(steps.values()), "execution accuracy", True),
    ]
    benchmarks = metrics.get("benchmarks") or {}
    if len(benchmarks) > 1:
        figures.append(
            _bar_chart(
                "EX by benchmark", list(benchmarks), [c["ex"] for c in benchmarks.values()], "execution accuracy", True
            )
        )
    if errors:
        figures.append(_bar_chart("Error categories", list(errors), list(errors.values()), "questions", False))
    failures = [r for r in rows if r["exec_match"] is False][:max_failures]
    failure_rows = [[r["index"], r["db_id"], r["question"], r["final"], r["gold"], r["error"] or ""] for r in failures]
    summary_rows = [
        ["EX", f"{metrics['ex']:.4f}"],
        ["scored", metrics["n_scored"]],
        ["unscorable", metrics["n_unscorable"]],
        ["questions/s", metrics["questions_per_second"]],
        ["prompt template", metrics["template_version"]],
    ]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>routesql evaluation</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:72em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.25em .5em;font-size:.9em;text-align:left;vertical-align:top}}
.figures img{{margin:.5em;border:1px solid #eee}}</style></head>
<body><h1>routesql evaluation</h1>
{_table(["metric", "value"], summary_rows)}
<h2>Figures</h2><div class="figures">{"".join(figures)}</div>
{_benchmark_tables(metrics)}
<h2>EX by hardness ({html.escape(metrics.get("benchmark", "dev"))})</h2>{
        _table(
            ["hardness", "EX (fine-tuned + MCP)", "EX zero-shot (base)", "n"],
            [[h, f"{c['ex']:.4f}", _zero_shot_cell(zero_shot, h), c["n"]] for h, c in hardness.items()],
        )
    }
<h2>EX after each MCP step</h2>{_table(["step", "EX"], [[s, f"{v:.4f}"] for s, v in steps.items()])}
<h2>Error categories</h2>{_table(["category", "questions"], [[k, v] for k, v in errors.items()])}
<h2>First failures</h2>{_table(["#", "database", "question", "predicted", "gold", "error"], failure_rows)}
</body></html>
"""
