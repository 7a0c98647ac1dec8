"""SENSE weak-model preference pairs: the weak model's own execution-checked mistakes.

A weak model samples k SQL queries per training question (one batched `generate` call for all
questions). Each sample is executed against the gold query with the project's match semantics;
a sample whose result differs from gold, or that fails, becomes a DPO `rejected` answer next to
the gold `chosen` answer. The wrong samples are also returned for the noise-correction task,
which is better served by real mistakes than by synthetic corruptions alone.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from routesql.bench.example import Benchmark, Example
from routesql.errors import InputError
from routesql.llm.generator import GenerationSettings, Generator
from routesql.metrics.matcher import MatchJob, MatchOutcome, match_many
from routesql.sqlkit.extract import extract_sql
from routesql.synth.strong import normalize_sql


class PreferenceData(NamedTuple):
    pairs: list[dict]  # {prompt, chosen, rejected, db_id, example_id, rejected_error}
    stats: dict  # counts for the stage manifest
    wrong_samples: dict[str, list[str]]  # example id → distinct wrong or failing samples


def build_preference_pairs(
    examples: list[Example],
    prompts: list[str],
    generator: Generator,
    bench: Benchmark,
    *,
    k: int,
    temperature: float,
    seed: int,
    max_new_tokens: int,
    workers: int = 1,
    max_pairs_per_question: int = 2,
    semantics: str = "spider",
) -> PreferenceData:
    """Sample, execute, and pair every wrong sample with the gold SQL (≤ max_pairs per question).

    `prompts[i]` is the weak model's prompt for `examples[i]` and is stored with its pairs.
    Rejected samples prefer queries that run but give a wrong result over ones that fail, since
    those are the mistakes execution alone would not catch. Returns (pairs, stats, wrong_samples).
    """
    if len(prompts) != len(examples):
        raise InputError("prompts", f"{len(prompts)} prompts for {len(examples)} examples")
    if k < 1 or max_pairs_per_question < 1:
        raise InputError("synthesize.weak", "k and max_pairs_per_question must be >= 1")
    settings = GenerationSettings(n=k, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    completions = generator.generate(list(prompts), settings) if prompts else []
    if len(completions) != len(prompts):
        raise InputError("generator", f"returned {len(completions)} completion lists for {len(prompts)} prompts")
    samples = [[extract_sql(text, first_statement_only=True) for text in outputs] for outputs in completions]
    verdicts = _execute_distinct(examples, samples, bench, workers, semantics)
    return _assemble(examples, prompts, samples, verdicts, max_pairs_per_question)


def _execute_distinct(
    examples: list[Example], samples: list[list[str]], bench: Benchmark, workers: int, semantics: str
) -> list[dict[str, MatchOutcome]]:
    """Per example, the outcome of each distinct sample (by normalised text), run in one batch."""
    jobs: list[MatchJob] = []
    owners: list[tuple[int, str]] = []
    for index, (example, example_samples) in enumerate(zip(examples, samples)):
        for sql in dict.fromkeys(example_samples):
            jobs.append(MatchJob(bench.db_path(example.db_id), example.sql, sql))
            owners.append((index, sql))
    outcomes = match_many(jobs, semantics=semantics, workers=workers, progress=False)
    verdicts: list[dict[str, MatchOutcome]] = [{} for _ in examples]
    for (index, sql), outcome in zip(owners, outcomes):
        verdicts[index][sql] = outcome
    return verdicts


def _assemble(
    examples: list[Example],
    prompts: list[str],
    samples: list[list[str]],
    verdicts: list[dict[str, MatchOutcome]],
    max_pairs: int,
) -> PreferenceData:
    counts: Counter[str] = Counter()
    pairs: list[dict] = []
    wrong_samples: dict[str, list[str]] = {}
    for example, prompt, example_samples, verdict in zip(examples, prompts, samples, verdicts):
        counts["questions"] += 1
        for sql in example_samples:
            counts["samples"] += 1
            counts[_category(verdict[sql])] += 1
        rejected = _rejected_candidates(example, example_samples, verdict)
        wrong = [sql for sql, _ in rejected]
        if wrong:
            wrong_samples[example.id] = wrong
        chosen = rejected[:max_pairs]
        counts["questions_with_pairs"] += bool(chosen)
        for sql, outcome in chosen:
            pairs.append(
                {
                    "prompt": prompt,
                    "chosen": example.sql,
                    "rejected": sql,
                    "db_id": example.db_id,
                    "example_id": example.id,
                    "rejected_error": None if outcome.error_kind == "wrong_result" else outcome.error,
                }
            )
    stats = {
        key: counts[key]
        for key in ("questions", "samples", "correct", "wrong", "errors", "unscorable", "questions_with_pairs")
    }
    stats["pairs"] = len(pairs)
    return PreferenceData(pairs, stats, wrong_samples)


def _category(outcome: MatchOutcome) -> str:
    if outcome.exec_match is None:
        return "unscorable"  # missing database or failing gold: no verdict either way
    if outcome.exec_match:
        return "correct"
    return "wrong" if outcome.error_kind == "wrong_result" else "errors"


def _rejected_candidates(
    example: Example, samples: list[str], verdict: dict[str, MatchOutcome]
) -> list[tuple[str, MatchOutcome]]:
    """Distinct non-empty wrong samples: wrong results first, then failures, in sample order."""
    seen = {normalize_sql(example.sql)}
    wrong_results: list[tuple[str, MatchOutcome]] = []
    failures: list[tuple[str, MatchOutcome]] = []
    for sql in samples:
        outcome = verdict[sql]
        key = normalize_sql(sql)
        if not sql or outcome.exec_match is not False or key in seen:
            continue
        seen.add(key)
        bucket = wrong_results if outcome.error_kind == "wrong_result" else failures
        bucket.append((sql, outcome))
    return wrong_results + failures
