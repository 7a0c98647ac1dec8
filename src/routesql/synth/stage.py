"""The `synthesize` stage: a benchmark's training split → ROUTE / LR-SQL / SENSE training files.

Outputs (under `out_dir`): `sft.jsonl` (every SFT record), `preferences.jsonl` (SENSE pairs, empty
without a weak model) and `manifest.json` (a DVC metrics file: counts per task and corruption
type, kept/dropped with reasons, token-length percentiles, time). The data files are
byte-identical for the same seed and inputs; only the manifest's `seconds` varies.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tqdm import tqdm

from routesql.atomic import write_json_atomic, write_jsonl_atomic
from routesql.bench.example import Benchmark, Example, spread
from routesql.bench.loaders import load_benchmark, missing_databases
from routesql.db.limits import QueryLimits
from routesql.db.schema import approx_token_count, read_schema, render_schema
from routesql.errors import InputError
from routesql.metrics.matcher import MatchJob, match_many
from routesql.sqlkit.noise import CORRUPTIONS
from routesql.synth.manifest import build_manifest
from routesql.tasks.noise_correction import noise_record
from routesql.tasks.record import ExampleOutput, NoiseCandidate, TaskSettings, make_record
from routesql.tasks.registry import build_example
from routesql.tasks.slicing import slice_schema
from routesql.tasks.templates import prompt_version, text_to_sql_prompt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeakSettings:
    """SENSE weak sampling: the base model (`model_path`) answers synthetic questions.
    Built from params.yaml by `settings_from_params`; only the base folder is given at run time."""

    enabled: bool
    questions: int
    samples: int
    temperature: float
    max_new_tokens: int
    batch_size: int  # generator.batch_size
    dtype: str  # model.dtype
    model_path: str | None = None  # the base stage's folder (`routesql synthesize --base`)


@dataclass(frozen=True)
class SynthSettings:
    """The synthesize stage's settings, built from params.yaml by `settings_from_params`."""

    seed: int
    tasks: TaskSettings
    slice_token_budget: int
    strong_per_db: int  # 0 turns SENSE strong synthesis off
    workers: int
    limits: QueryLimits  # params.yaml's execution limits
    max_examples: int | None  # at most N training examples, spread evenly (quick runs, tests)
    strong_endpoint: str | None  # OpenAI-compatible server that rewrites strong questions
    api_key_env: str
    weak: WeakSettings
    spider_root: Path | None  # data.spider_root: Spider's databases, for Spider-Syn
    evidence: bool  # data.evidence: BIRD's evidence in the prompts
    tokenizer_path: str | None = None  # count tokens with this tokenizer instead of the estimate (`--tokenizer`)


@lru_cache(maxsize=4)
def token_counts(tokenizer_path: str | None) -> Callable[[list[str]], list[int]]:
    """The token counts of many texts, in one batch (see `encode_texts`), or the estimate."""
    if tokenizer_path is None:
        return lambda texts: [approx_token_count(text) for text in texts]
    from transformers import AutoTokenizer

    from routesql.train.encoding import encode_texts

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    return lambda texts: [len(ids) for ids in encode_texts(tokenizer, texts, add_special_tokens=False)]


def token_counter(tokenizer_path: str | None) -> Callable[[str], int]:
    """The token count of one text (schema slicing measures one slice at a time)."""
    counts = token_counts(tokenizer_path)
    return lambda text: counts([text])[0]


def _build_database_group(args: tuple[Path, list[Example], SynthSettings]) -> list[ExampleOutput]:
    db_path, examples, settings = args
    schema = read_schema(db_path, settings.tasks.sample_rows)
    schema_text = render_schema(schema, settings.tasks.sample_rows, style=settings.tasks.schema_style)
    slices = slice_schema(
        schema,
        settings.slice_token_budget,
        settings.tasks.sample_rows,
        token_counter(settings.tokenizer_path),
        style=settings.tasks.schema_style,
    )
    outputs = [
        build_example(ex, schema, schema_text, slices, settings.tasks, random.Random(f"{settings.seed}:{ex.id}"))
        for ex in examples
    ]
    add_token_counts([record for out in outputs for record in out.records], token_counts(settings.tokenizer_path))
    return outputs


def add_token_counts(records: list[dict], counts: Callable[[list[str]], list[int]]) -> None:
    """Prompt and completion token counts on the records that have none yet, counted in one batch."""
    uncounted = [record for record in records if "prompt_tokens" not in record]
    texts = [record["prompt"] for record in uncounted] + [record["completion"] for record in uncounted]
    counted = counts(texts)
    for record, prompt_tokens, completion_tokens in zip(uncounted, counted, counted[len(uncounted) :]):
        record["prompt_tokens"] = prompt_tokens
        record["completion_tokens"] = completion_tokens


def build_all(
    bench: Benchmark, examples: list[Example], settings: SynthSettings, progress: bool
) -> list[ExampleOutput]:
    """Run the task builders for every example, one database per job; results in example order."""
    by_db: dict[str, list[int]] = defaultdict(list)
    for index, ex in enumerate(examples):
        by_db[ex.db_id].append(index)
    groups = sorted(by_db.items(), key=lambda item: -len(item[1]))  # big groups first balance the pool
    jobs = [(bench.db_path(db), [examples[i] for i in idx], settings) for db, idx in groups]
    outputs: list[ExampleOutput | None] = [None] * len(examples)
    bar = tqdm(total=len(examples), desc="building tasks", unit="example", disable=not progress, leave=False)
    results: Iterator[list[ExampleOutput]]
    if settings.workers <= 1:
        results = map(_build_database_group, jobs)
    else:
        pool = ProcessPoolExecutor(settings.workers, mp_context=multiprocessing.get_context("spawn"))
        results = pool.map(_build_database_group, jobs)
    for (_, idx), group_out in zip(groups, results):
        for i, out in zip(idx, group_out):
            outputs[i] = out
        bar.update(len(idx))
    bar.close()
    if settings.workers > 1:
        pool.shutdown()
    return [o for o in outputs if o is not None]


def run_synthesize(
    root: Path, out_dir: Path, settings: SynthSettings, fmt: str | None = None, progress: bool = True
) -> dict:
    started = time.monotonic()
    _check_weak(settings.weak)
    bench = load_benchmark(root, "train", fmt, settings.spider_root, settings.evidence)
    missing = missing_databases(bench)
    examples = spread([ex for ex in bench.examples if ex.db_id not in missing], settings.max_examples)
    outputs = build_all(bench, examples, settings, progress)
    log.info("built task records in %.1f s", time.monotonic() - started)
    kept, dropped, noise_stats = execute_and_select(bench, examples, outputs, settings, progress)
    log.info("executed gold and noise by %.1f s", time.monotonic() - started)
    strong_records, strong_stats = strong_synthesis(root, bench, settings, fmt)
    log.info("strong synthesis done by %.1f s", time.monotonic() - started)
    preferences, weak_stats = weak_preferences(bench, strong_records, settings)
    log.info("weak sampling done by %.1f s", time.monotonic() - started)
    strong_stats["weak"] = weak_stats
    records = [r for out in kept for r in out] + strong_records
    version = prompt_version(settings.tasks.schema_style)
    for record in records + preferences:
        record["template_version"] = version
    add_token_counts(records, token_counts(settings.tokenizer_path))  # NC and strong records
    log.info("counted tokens by %.1f s", time.monotonic() - started)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(out_dir / "sft.jsonl", records)
    write_jsonl_atomic(out_dir / "preferences.jsonl", preferences)
    dropped["missing_database"] = sum(1 for ex in bench.examples if ex.db_id in missing)
    manifest = build_manifest(
        records,
        outputs,
        dropped,
        noise_stats,
        strong_stats,
        n_examples=len(bench.examples),
        template_version=version,
        seconds=time.monotonic() - started,
    )
    write_json_atomic(out_dir / "manifest.json", manifest)
    return manifest


def execute_and_select(
    bench: Benchmark, examples: list[Example], outputs: list[ExampleOutput], settings: SynthSettings, progress: bool
) -> tuple[list[list[dict]], dict, dict]:
    """Execute every gold query and noise candidate at once; keep what the rules allow.

    An example whose gold query fails is dropped whole (with SQLite's reason); a noise candidate
    is kept only when its result differs from gold or it fails.
    """
    jobs: list[MatchJob] = []
    owners: list[tuple[int, NoiseCandidate | None]] = []  # (example, its noise candidate or None for gold)
    for i, (ex, out) in enumerate(zip(examples, outputs)):
        jobs.append(MatchJob(bench.db_path(ex.db_id), ex.sql, ex.sql))
        owners.append((i, None))
        for noisy in out.noise:
            jobs.append(MatchJob(bench.db_path(ex.db_id), ex.sql, noisy.sql))
            owners.append((i, noisy))
    outcomes = match_many(
        jobs,
        semantics="spider",
        workers=settings.workers,
        limits=settings.limits,
        progress=progress,
        description="executing gold and noise",
    )
    gold_failed = {i: o.error for (i, cand), o in zip(owners, outcomes) if cand is None and o.exec_match is None}
    per_kind: dict[str, Counter] = {kind: Counter() for kind in CORRUPTIONS}
    kept: list[list[dict]] = [[] if i in gold_failed else list(out.records) for i, out in enumerate(outputs)]
    for (i, candidate), outcome in zip(owners, outcomes):
        if candidate is None or i in gold_failed:
            continue
        stats = per_kind[candidate.kind]
        stats["candidates"] += 1
        if outcome.exec_match is False:
            stats["kept_error" if outcome.error_kind != "wrong_result" else "kept_wrong_result"] += 1
            error = outcome.error if outcome.error_kind != "wrong_result" else None
            schema_text = _schema_text(
                bench.db_path(examples[i].db_id), settings.tasks.sample_rows, settings.tasks.schema_style
            )
            kept[i].append(noise_record(examples[i], schema_text, candidate, error))
        else:
            stats["dropped_same_result"] += 1
    dropped = {"gold_failed": len(gold_failed)}
    reasons = Counter(f"{task}: {reason.split(':')[0]}" for out in outputs for task, reason in out.skipped.items())
    dropped.update(sorted(reasons.items()))
    gold_errors = [{"example_id": examples[i].id, "error": err} for i, err in sorted(gold_failed.items())]
    return kept, dropped, {"per_kind": {k: dict(v) for k, v in per_kind.items()}, "gold_failures": gold_errors}


@lru_cache(maxsize=64)
def _schema_text(db_path: Path, sample_rows: int, style: str) -> str:
    return render_schema(read_schema(db_path, sample_rows), sample_rows, style=style)


def strong_synthesis(root: Path, bench: Benchmark, settings: SynthSettings, fmt: str | None) -> tuple[list[dict], dict]:
    """SENSE strong data: new executable (question, SQL) pairs over the training databases."""
    if settings.strong_per_db <= 0:
        return [], {"enabled": False}
    from routesql.synth.strong import synthesize_strong

    avoid = [ex.sql for ex in bench.examples]
    with contextlib.suppress(InputError):  # a benchmark without a dev split: its train split alone
        avoid += [ex.sql for ex in load_benchmark(root, "dev", fmt, settings.spider_root).examples]
    pairs, stats = synthesize_strong(
        bench, avoid, per_db=settings.strong_per_db, seed=settings.seed, question_writer=_endpoint_writer(settings)
    )
    records = []
    for number, pair in enumerate(pairs):
        example = Example(
            id=f"strong/{pair.db_id}/{number}",
            db_id=pair.db_id,
            question=pair.question,
            sql=pair.sql,
            source="sense-strong",
        )
        prompt = text_to_sql_prompt(
            _schema_text(bench.db_path(pair.db_id), settings.tasks.sample_rows, settings.tasks.schema_style),
            pair.question,
        )
        records.append(make_record(prompt, pair.sql, example, origin="sense_strong", pattern=pair.pattern))
    return records, {"enabled": True, **stats}


def _endpoint_writer(settings: SynthSettings):  # -> EndpointQuestionWriter | None
    """SENSE's strong model: an OpenAI-compatible server that writes the questions of sampled SQL."""
    if settings.strong_endpoint is None:
        return None
    import os

    from routesql.llm.http import OpenAIHTTPGenerator
    from routesql.synth.openai_questions import EndpointQuestionWriter

    generator = OpenAIHTTPGenerator(
        settings.strong_endpoint, "strong", api_key=os.environ.get(settings.api_key_env), use_chat=True
    )
    return EndpointQuestionWriter(generator)


_WEAK_NEEDS_BASE = "weak sampling needs the base model: run `routesql synthesize --base models/base`"


def _check_weak(weak: WeakSettings) -> None:
    if weak.enabled and weak.model_path is None:
        raise InputError("synthesize.weak.enabled", _WEAK_NEEDS_BASE)


def weak_preferences(bench: Benchmark, strong_records: list[dict], settings: SynthSettings) -> tuple[list[dict], dict]:
    """SENSE weak pairs: the base model samples SQL for synthetic questions; execution against the
    question's SQL tells right from wrong, and each wrong sample is a DPO `rejected` next to it.
    `run_synthesize` has checked that the base model (`weak.model_path`) is named."""
    weak = settings.weak
    if not weak.enabled:
        return [], {"enabled": False}
    chosen = spread([r for r in strong_records if r["task"] == "text_to_sql"], weak.questions)
    if not chosen:
        return [], {"enabled": True, "questions": 0, "pairs": 0}
    from routesql.llm.local import TransformersGenerator
    from routesql.synth.weak import build_preference_pairs

    examples = [
        Example(id=r["example_id"], db_id=r["db_id"], question="", sql=r["completion"], source="sense-strong")
        for r in chosen
    ]
    if weak.model_path is None:  # run_synthesize checks first (_check_weak); a direct caller gets the same error
        raise InputError("synthesize.weak.enabled", _WEAK_NEEDS_BASE)
    generator = TransformersGenerator.load(weak.model_path, batch_size=weak.batch_size, dtype=weak.dtype)
    data = build_preference_pairs(
        examples,
        [r["prompt"] for r in chosen],
        generator,
        bench,
        k=weak.samples,
        temperature=weak.temperature,
        seed=settings.seed,
        workers=settings.workers,
        max_new_tokens=weak.max_new_tokens,
    )
    pairs = [{key: value for key, value in pair.items() if key != "rejected_error"} for pair in data.pairs]
    return pairs, {"enabled": True, **data.stats}


def settings_from_params(params) -> SynthSettings:  # params: routesql.config.Params
    synth = params.synthesize
    tasks = TaskSettings(
        sample_rows=params.schema_.sample_rows,
        schema_style=params.schema_.style,
        noise_per_example=synth.noise_per_example,
        correct_share=synth.correct_share,
        continuation_per_example=synth.continuation_per_example,
    )
    weak = WeakSettings(
        enabled=synth.weak.enabled,
        questions=synth.weak.questions,
        samples=synth.weak.samples,
        temperature=synth.weak.temperature,
        max_new_tokens=synth.weak.max_new_tokens,
        batch_size=params.generator.batch_size,
        dtype=params.model.dtype,
    )
    return SynthSettings(
        seed=params.seed,
        tasks=tasks,
        slice_token_budget=synth.slice_token_budget,
        strong_per_db=synth.strong.per_db,
        workers=params.execution.workers,
        limits=QueryLimits.of(params.execution),
        max_examples=synth.max_examples,
        strong_endpoint=synth.strong.endpoint,
        api_key_env=params.generator.api_key_env,
        weak=weak,
        evidence=params.data.evidence,
        spider_root=params.data.spider_root_path(),
    )
