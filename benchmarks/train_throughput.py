"""Training throughput: our packed SFT module vs TRL's SFTTrainer, same model, records and steps.

    .venv/bin/python benchmarks/train_throughput.py [--model tiny|smollm2] [--steps 20] [--batch-size 4] [--max-len 512]
        [--no-share-prefix]

Both train the same model (`tiny`: a small Qwen2 built offline; `smollm2`: the packaged
SmolLM2-135M-Instruct, exported as the base stage exports it) with the same LoRA
settings, on the same demo-benchmark multitask SFT records (all ROUTE tasks and LR-SQL slices, as
the train stage uses them; our task mix is set to the tasks' shares of the records, the
distribution TRL's shuffle sees), for the same number of optimizer steps; both
count real (non-padding) tokens. TRL gets the prompts as our trainer feeds them to the model
(`render_prompt`: through the chat template for SmolLM2), so both see the same tokens. Also printed:
our training FLOP/s (6 x non-embedding parameters per token, the usual estimate) as a share of the
fp32 matmul peak measured on this machine in the same run. TRL runs with its defaults for prompt/completion data (loss on
completions, padding to the longest record in the batch), as peers use it, except precision and
gradient checkpointing, which are set like ours (fp32, off) so only the training loop differs. Printed: tokens/s of
each, their ratio, and our non-padding share. Target: ratio >= 1.3 and share >= 0.95.

Ours shares each database's prompt prefix between its records (`train.share_prefix`, the default),
so it computes fewer tokens than the records hold. Its tokens/s are counted both ways: the tokens
it computed (what the FLOP share uses) and the records' own tokens, each record counted in full as
TRL computes it (what the ratio uses: the same data per second). `--no-share-prefix` turns sharing
off, to compare the training loops alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch


class _Timer(pl.Callback):
    def __init__(self) -> None:
        self.started = self.seconds = 0.0
        self.real = self.slots = self.record_tokens = 0

    def on_train_start(self, trainer, pl_module) -> None:
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.real += int(batch["real_tokens"])
        self.record_tokens += int(batch["record_tokens"])
        self.slots += batch["input_ids"].numel()

    def on_train_end(self, trainer, pl_module) -> None:
        self.seconds = time.perf_counter() - self.started


def matmul_peak_flops(size: int = 1536, repeats: int = 10) -> float:
    """The machine's fp32 matmul FLOP/s, best of `repeats` square products."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def training_flops_per_token(base: Path) -> float:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    embedding = model.get_input_embeddings().weight.numel()
    return 6.0 * (sum(p.numel() for p in model.parameters()) - embedding)


def prepare(work: Path, model: str = "tiny") -> tuple[Path, Path]:
    from routesql.bench.demo import write_demo_benchmark
    from routesql.config import Params
    from routesql.synth.stage import run_synthesize, settings_from_params
    from routesql.train.base_stage import pretraining_texts
    from routesql.train.settings import TinyModelSettings
    from routesql.train.tiny import build_tiny_base

    write_demo_benchmark(work / "demo", seed=0)
    # params.yaml's defaults (no sample rows, compact schemas) on every training example, with no
    # SENSE synthesis (strong or weak): the measured records are the benchmark's own.
    defaults = settings_from_params(Params())
    settings = dataclasses.replace(
        defaults, strong_per_db=0, max_examples=None, weak=dataclasses.replace(defaults.weak, enabled=False)
    )
    run_synthesize(
        work / "demo",
        work / "synth",
        settings,
        fmt="demo",
        progress=False,
    )
    if model == "smollm2":
        from routesql.llm.packaged import export_packaged_model

        export_packaged_model("smollm2-135m-instruct", work / "base")
        return work / "synth" / "sft.jsonl", work / "base"
    base = build_tiny_base(
        pretraining_texts(work / "demo", "demo", 0, "compact"),
        work / "base",
        TinyModelSettings(pretrain_steps=0, hidden_size=192, intermediate_size=528, vocab_size=2000),
        seed=0,
    )
    return work / "synth" / "sft.jsonl", base


def task_shares(records: Path) -> dict[str, float]:
    """Mix ratios equal to each task's share of the records: the distribution TRL's shuffle sees."""
    from collections import Counter

    counts = Counter(json.loads(line)["task"] for line in records.read_text().splitlines())
    return {task: count / sum(counts.values()) for task, count in counts.items()}


def ours(records: Path, base: Path, out: Path, args) -> tuple[float, float, float]:
    """Computed tokens/s, the records' own tokens/s, and the non-padding share."""
    from routesql.train.run import run_sft
    from routesql.train.settings import LoraSettings, SFTSettings

    timer = _Timer()
    settings = SFTSettings(
        max_steps=args.steps,
        batch_size=args.batch_size,
        max_seq_len=args.max_len,
        mix=task_shares(records),
        lora=LoraSettings(r=16, alpha=32, dropout=0.0),
        checkpoint_every_n_steps=args.steps + 1,
        warmup_steps=2,
        share_prefix=not args.no_share_prefix,
        freeze_layers=0,  # TRL's LoRA trains every layer, so ours does too (the train default freezes 20)
    )
    run_sft(records, base, out, settings, callbacks=[timer])
    return timer.real / timer.seconds, timer.record_tokens / timer.seconds, timer.real / max(timer.slots, 1)


def trl(records: Path, base: Path, out: Path, args) -> float:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from routesql.llm.prompting import render_prompt

    tokenizer = AutoTokenizer.from_pretrained(base)
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    rows = [{"prompt": render_prompt(tokenizer, r["prompt"]), "completion": r["completion"]} for r in rows]
    timing = {}

    class Timer(TrainerCallback):
        def on_train_begin(self, *a, **k):
            timing["start"] = time.perf_counter()

        def on_train_end(self, *a, **k):
            timing["seconds"] = time.perf_counter() - timing["start"]

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    config = SFTConfig(
        output_dir=str(out),
        max_steps=args.steps,
        per_device_train_batch_size=args.batch_size,
        max_length=args.max_len,
        learning_rate=2e-4,
        warmup_steps=2,
        logging_steps=args.steps,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        dataloader_num_workers=0,
        seed=0,
        # TRL defaults to bf16 and gradient checkpointing; ours runs fp32 without
        # checkpointing here, so TRL gets the same for a like-for-like comparison.
        bf16=False,
        fp16=False,
        gradient_checkpointing=False,
    )
    lora = LoraConfig(
        r=16,
        lora_alpha=32,
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[Timer()],
    )
    trainer.train()
    return trainer._total_train_tokens / timing["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("tiny", "smollm2"), default="tiny")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-len", type=int, default=512)
    parser.add_argument("--no-share-prefix", action="store_true", help="ours packs every record whole, as TRL does")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        records, base = prepare(work, args.model)
        peak = matmul_peak_flops()
        flops_per_token = training_flops_per_token(base)
        ours_tps, ours_record_tps, share = ours(records, base, work / "ours", args)
        trl_tps = trl(records, base, work / "trl", args)
    print(
        f"model {args.model}, steps {args.steps}, batch {args.batch_size}, max length {args.max_len}, "
        f"threads {torch.get_num_threads()}, prefix sharing {'off' if args.no_share_prefix else 'on'}"
    )
    print(f"routesql SFT module : {ours_record_tps:8.0f} tokens/s of records  (non-padding share {share:.3f})")
    print(f"                      {ours_tps:8.0f} tokens/s computed (records share their prompt prefix)")
    print(f"TRL SFTTrainer      : {trl_tps:8.0f} tokens/s of records (each computed in full)")
    print(
        f"ratio               : {ours_record_tps / trl_tps:.2f}x  (target >= 1.5 on smollm2, 1.3 on tiny; share >= 0.95)"
    )
    print(
        f"our training FLOP/s : {ours_tps * flops_per_token / 1e9:.1f} GFLOP/s = {ours_tps * flops_per_token / peak:.2f} "
        f"of this machine's fp32 matmul peak ({peak / 1e9:.1f} GFLOP/s)"
    )


if __name__ == "__main__":
    main()
