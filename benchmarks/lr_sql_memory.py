"""LR-SQL's memory claim: peak training memory of schema linking on token-budgeted slices against
schema linking on whole schemas, on Spider's largest databases, same model and token budget.

    ROUTESQL_BENCHMARKS=../shared/benchmarks .venv/bin/python benchmarks/lr_sql_memory.py \\
        [--model smollm2|tiny] [--databases 4] [--steps 3] [--step-tokens 8192] [--slice-budget 512]
        [--style ddl|compact] [--sample-rows 3]

The records are the synthesize stage's own (`schema_linking`: the whole schema in the prompt, the
linked tables and columns as the completion; `slice_linking`: one record per slice of at most
`--slice-budget` schema tokens), built for the dev questions of the `--databases` Spider databases
with the longest schemas (rendered as the README advises for Spider: CREATE TABLE with 3 example
rows; only the databases present under ROUTESQL_BENCHMARKS count). Each task trains `--steps`
optimizer steps in a fresh process, in rows as long as the task's longest record (the trainer packs
records into them, without prefix sharing: the row length is what LR-SQL's slices shorten, and it
sets the activation memory), one row per micro-batch, accumulated to at most `--step-tokens` token
slots per step. Printed per task: the longest record (text tokens, before the chat template), the
process's peak RSS, and the peak above a process that only loaded the model and records (the
training's own memory); then the ratio slices / whole. The goal LR-SQL reports is about 0.6.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import resource
import sys
import tempfile
from pathlib import Path


def build_records(
    spider: Path, databases: int, slice_budget: int, style: str, rows: int, tokenizer: Path, out: Path
) -> dict[str, int]:
    """SL and slice-linking records for the dev questions of the largest databases → out; their
    longest record (tokens) per task."""
    from routesql.bench.loaders import load_benchmark, missing_databases
    from routesql.config import Params
    from routesql.db.schema import read_schema, render_schema
    from routesql.synth.stage import build_all, settings_from_params, token_counter
    from routesql.tasks.templates import prompt_version

    bench = load_benchmark(spider, "dev")
    count = token_counter(str(tokenizer))
    present = sorted({ex.db_id for ex in bench.examples} - missing_databases(bench))
    sizes = {db: count(render_schema(read_schema(bench.db_path(db), rows), rows, style=style)) for db in present}
    largest = sorted(sizes, key=lambda db: -sizes[db])[:databases]
    print("databases (schema tokens): " + ", ".join(f"{db} ({sizes[db]})" for db in largest))
    examples = [ex for ex in bench.examples if ex.db_id in largest]
    defaults = settings_from_params(Params())
    settings = dataclasses.replace(
        defaults,
        tasks=dataclasses.replace(defaults.tasks, schema_style=style, sample_rows=rows),
        slice_token_budget=slice_budget,
        workers=1,
        tokenizer_path=str(tokenizer),
        max_examples=None,
    )
    version = prompt_version(style)
    records = [
        {**record, "db_id": ex.db_id, "template_version": version}
        for ex, output in zip(examples, build_all(bench, examples, settings, progress=False))
        for record in output.records
        if record["task"] in ("schema_linking", "slice_linking")
    ]
    out.write_text("".join(json.dumps(record) + "\n" for record in records))
    longest: dict[str, int] = {}
    for record in records:
        length = record["prompt_tokens"] + record["completion_tokens"]
        longest[record["task"]] = max(longest.get(record["task"], 0), length)
    return longest


def train_task(
    task: str, records: Path, base: Path, out: Path, row: int, steps: int, step_tokens: int, freeze: int, queue
) -> None:
    """In a fresh process: train `task` alone; report the process's peak RSS (MB)."""
    from routesql.train.run import run_sft
    from routesql.train.settings import SFTSettings

    if task != "load only":
        settings = SFTSettings(
            max_steps=steps,
            batch_size=1,
            grad_accumulation=max(1, step_tokens // row),
            max_seq_len=row + 64,  # + the chat template (system message, turn markers, end of turn)
            mix={task: 1.0},
            share_prefix=False,
            checkpoint_every_n_steps=steps + 1,
            warmup_steps=1,
            freeze_layers=freeze,
        )
        run_sft(records, base, out, settings)
    else:
        import torch

        from routesql.llm.loading import load_causal_lm

        load_causal_lm(str(base), torch.float32)
        records.read_text()
    queue.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def measure(task: str, records: Path, base: Path, work: Path, row: int, args) -> float:
    freeze = 20 if args.model == "smollm2" else 0  # the train default; the tiny model has 4 layers
    queue = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(
        target=train_task,
        args=(task, records, base, work / task.replace(" ", "_"), row, args.steps, args.step_tokens, freeze, queue),
    )
    process.start()
    process.join()
    if process.exitcode != 0:
        sys.exit(f"{task}: the training process failed (exit {process.exitcode})")
    return float(queue.get())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("smollm2", "tiny"), default="smollm2")
    parser.add_argument("--databases", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--step-tokens", type=int, default=8192)
    parser.add_argument("--slice-budget", type=int, default=512)
    parser.add_argument("--style", choices=("ddl", "compact"), default="ddl", help="schema style (ddl suits Spider)")
    parser.add_argument("--sample-rows", type=int, default=3, help="example rows under each table")
    args = parser.parse_args()
    root = os.environ.get("ROUTESQL_BENCHMARKS")
    if not root or not (Path(root) / "spider" / "dev.json").is_file():
        sys.exit("set ROUTESQL_BENCHMARKS to the folder holding spider/ (e.g. ../shared/benchmarks)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.model == "smollm2":
            from routesql.llm.packaged import export_packaged_model

            export_packaged_model("smollm2-135m-instruct", work / "base")
            base = work / "base"
        else:
            sys.path.insert(0, str(Path(__file__).parent))
            from train_throughput import prepare

            _, base = prepare(work, "tiny")
        records = work / "records.jsonl"
        longest = build_records(
            Path(root) / "spider", args.databases, args.slice_budget, args.style, args.sample_rows, base, records
        )
        loaded = measure("load only", records, base, work, 0, args)
        peaks = {
            task: measure(task, records, base, work, longest[task], args)
            for task in ("schema_linking", "slice_linking")
        }
    print(
        f"model {args.model}; {args.steps} steps of at most {args.step_tokens} token slots; rows as long as each task's longest record"
    )
    print(f"  model and records loaded: peak RSS {loaded:,.0f} MB")
    for task, peak in peaks.items():
        print(
            f"  {task:<15} longest record {longest[task]:>5} tokens: peak RSS {peak:,.0f} MB ({peak - loaded:,.0f} MB above loading)"
        )
    whole, sliced = peaks["schema_linking"], peaks["slice_linking"]
    print(
        f"slices / whole schemas: {sliced / whole:.2f} of peak RSS, {(sliced - loaded) / max(whole - loaded, 1):.2f} of the training's own"
    )


if __name__ == "__main__":
    main()
