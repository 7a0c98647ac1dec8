"""MCP throughput: the batched pipeline vs the same pipeline run question by question.

    .venv/bin/python benchmarks/mcp_throughput.py [--model models/trained] [--questions 64] [--batch-size 64]

Runs full MCP (schema linking + draft, generation on the reduced schema, noise correction,
continuation) greedily over the demo dev questions twice in one process: all questions at once
(one batched generate call per step), then one question per pipeline call. Prints both
wall times, the speed-up, and whether every final SQL (and every step's SQL) is identical.
Target: speed-up >= 5 with identical outputs. Without a trained model it builds a small
pretrained tiny model first (outputs are then poor SQL, but the comparison is the same).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch


def load_generator(model: Path, work: Path, batch_size: int):
    """(generator, schema style): the trained model with the style it was trained on, or a fresh tiny base."""
    from routesql.evaluate import model_template_version
    from routesql.llm.local import TransformersGenerator

    if (model / "merged").is_dir():
        style = model_template_version(model).split("/")[-1]
        return TransformersGenerator.load(model / "merged", batch_size=batch_size), style
    from routesql.train.base_stage import pretraining_texts
    from routesql.train.settings import TinyModelSettings
    from routesql.train.tiny import build_tiny_base

    base = build_tiny_base(
        pretraining_texts(work / "demo", "demo", 0, "compact"),
        work / "base",
        TinyModelSettings(pretrain_steps=40, hidden_size=192, intermediate_size=528, vocab_size=2000),
        seed=0,
    )
    return TransformersGenerator.load(base, batch_size=batch_size), "compact"


def main() -> None:
    from routesql.bench.demo import write_demo_benchmark
    from routesql.bench.loaders import load_benchmark
    from routesql.mcp.pipeline import MCPPipeline
    from routesql.mcp.settings import MCPSettings
    from routesql.mcp.work import MCPQuestion

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("models/trained"))
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument(
        "--batch-size", type=int, default=64, help="generation batch (default: all 64 questions at once)"
    )
    parser.add_argument("--sample-rows", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        write_demo_benchmark(work / "demo", seed=0)
        dev = load_benchmark(work / "demo", "dev", "demo")
        stride = max(1, len(dev.examples) // args.questions)
        examples = dev.examples[::stride][: args.questions]
        questions = [MCPQuestion(ex.id, ex.question, dev.db_path(ex.db_id)) for ex in examples]
        generator, style = load_generator(args.model, work, args.batch_size)
        settings = MCPSettings(sample_rows=args.sample_rows, schema_style=style)
        started = time.perf_counter()
        batched = MCPPipeline(generator, settings).run(questions)
        batched_s = time.perf_counter() - started
        started = time.perf_counter()
        single = [MCPPipeline(generator, settings).run([q])[0] for q in questions]
        single_s = time.perf_counter() - started
    same_final = sum(a.final == b.final for a, b in zip(batched, single))
    same_steps = sum(a.steps == b.steps for a, b in zip(batched, single))
    print(
        f"{len(questions)} demo dev questions, full MCP, greedy, batch size {args.batch_size}, "
        f"threads {torch.get_num_threads()}"
    )
    print(f"batched            : {batched_s:8.1f} s ({len(questions) / batched_s:.2f} questions/s)")
    print(f"question by question: {single_s:8.1f} s ({len(questions) / single_s:.2f} questions/s)")
    print(f"speed-up           : {single_s / batched_s:.2f}x (target >= 5)")
    print(f"identical final SQL: {same_final}/{len(questions)}; identical every step: {same_steps}/{len(questions)}")


if __name__ == "__main__":
    main()
