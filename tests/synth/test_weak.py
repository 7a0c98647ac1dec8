"""Weak preference pairs: SQL extraction from completions, and pairs whose verdicts hold up when
the chosen and rejected queries are executed again here."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from routesql.bench.example import Benchmark, Example
from routesql.bench.loaders import load_benchmark
from routesql.db.execute import QueryRunner
from routesql.db.schema import read_schema
from routesql.errors import InputError
from routesql.llm.generator import GenerationSettings
from routesql.sqlkit.noise import corrupt
from routesql.synth.weak import build_preference_pairs

PETS_EXAMPLES = [
    ("SELECT name FROM owner WHERE city = 'Lyon'", "Which owners live in Lyon?"),
    ("SELECT count(*) FROM pet WHERE kind = 'cat'", "How many cats are there?"),
    (
        "SELECT T1.name FROM owner AS T1 JOIN pet AS T2 ON T1.id = T2.owner_id WHERE T2.age > 2",
        "Who owns a pet older than 2?",
    ),
    ("SELECT kind, avg(age) FROM pet GROUP BY kind", "Average age per kind?"),
    ("SELECT name FROM owner ORDER BY name DESC", "Owner names, reverse order."),
]
MISTAKES = ("wrong_literal", "wrong_column", "dropped_condition", "wrong_aggregate", "wrong_table")


class MixedQualityGenerator:
    """A deterministic Generator standing in for a weak model: for each prompt it returns, in
    turn, the gold SQL in a code fence, a realistic mistake (sqlkit.noise), a syntax error, the
    gold SQL followed by chatter, and the same mistake again. Records its calls."""

    def __init__(self, gold_by_prompt: dict[str, str], db_by_prompt: dict[str, Path]) -> None:
        self.gold_by_prompt = gold_by_prompt
        self.db_by_prompt = db_by_prompt
        self.calls: list[tuple[int, GenerationSettings]] = []

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        self.calls.append((len(prompts), settings))
        rng = random.Random(settings.seed)
        outputs = []
        for prompt in prompts:
            gold = self.gold_by_prompt[prompt]
            wrong = self._mistake(gold, read_schema(self.db_by_prompt[prompt]).to_mapping(), rng)
            variants = [
                f"```sql\n{gold};\n```",
                wrong,
                gold.replace(" FROM ", " FORM ", 1),  # a syntax error
                f"SQL: {gold}\n\nQuestion: and what else?",
                f"{wrong};",
            ]
            outputs.append([variants[i % len(variants)] for i in range(settings.n)])
        return outputs

    @staticmethod
    def _mistake(gold: str, schema: dict, rng: random.Random) -> str:
        for kind in MISTAKES:
            wrong = corrupt(gold, schema, kind, rng)
            if wrong is not None:
                return wrong
        return f"SELECT * FROM ({gold}) LIMIT 0"


def _prompt(example: Example) -> str:
    return f"-- database: {example.db_id}\n-- question: {example.question}\nSQL:"


def _generator_for(examples: list[Example], bench: Benchmark) -> MixedQualityGenerator:
    return MixedQualityGenerator(
        {_prompt(e): e.sql for e in examples}, {_prompt(e): bench.db_path(e.db_id) for e in examples}
    )


def _same_result(db: Path, gold: str, pred: str) -> bool | None:
    """Executed here, independently of the matcher: None when `pred` fails."""
    runner = QueryRunner(timeout_s=10)
    expected, got = runner.run(db, gold), runner.run(db, pred)
    assert expected.ok, expected.error
    if not got.ok:
        return None
    if "order by" in gold.lower():
        return list(expected.rows or ()) == list(got.rows or ())
    return Counter(expected.rows or ()) == Counter(got.rows or ())


def _check_pairs_by_execution(pairs: list[dict], bench: Benchmark, examples: list[Example]) -> None:
    by_id = {example.id: example for example in examples}
    for pair in pairs:
        example = by_id[pair["example_id"]]
        db = bench.db_path(example.db_id)
        assert pair["chosen"] == example.sql and pair["prompt"] == _prompt(example)
        assert _same_result(db, example.sql, pair["chosen"]) is True
        verdict = _same_result(db, example.sql, pair["rejected"])
        assert verdict is not True, pair
        assert (pair["rejected_error"] is None) == (verdict is False), pair


# --- pairs ---------------------------------------------------------------------------------------


@pytest.fixture()
def pets_bench(pets_db: Path) -> Benchmark:
    examples = [Example(f"pets/train/{i}", "pets", question, sql) for i, (sql, question) in enumerate(PETS_EXAMPLES)]
    return Benchmark("spider", "train", examples, pets_db.parent.parent)


def test_pairs_on_a_small_database(pets_bench: Benchmark) -> None:
    examples = pets_bench.examples
    generator = _generator_for(examples, pets_bench)
    pairs, stats, wrong = build_preference_pairs(
        examples,
        [_prompt(e) for e in examples],
        generator,
        pets_bench,
        k=5,
        temperature=0.8,
        seed=3,
        workers=1,
        max_new_tokens=48,
    )
    assert generator.calls == [(len(examples), GenerationSettings(n=5, temperature=0.8, seed=3, max_new_tokens=48))]
    _check_pairs_by_execution(pairs, pets_bench, examples)
    assert stats["samples"] == 25
    assert stats["samples"] == stats["correct"] + stats["wrong"] + stats["errors"] + stats["unscorable"]
    assert stats["correct"] >= 10 and stats["errors"] >= 5 and stats["pairs"] == len(pairs)
    # Every question gets its syntax error as a pair; a realistic mistake that changes the result
    # comes first; the repeated mistake is not paired twice.
    per_question = Counter(pair["example_id"] for pair in pairs)
    assert set(per_question) == {e.id for e in examples} and max(per_question.values()) <= 2
    assert len({(p["example_id"], p["rejected"]) for p in pairs}) == len(pairs)
    assert any(p["rejected_error"] is None for p in pairs)
    assert all(p["rejected_error"] for p in pairs if p["rejected"].startswith("SELEC "))
    for example_id, samples in wrong.items():
        assert all(pair["rejected"] in samples for pair in pairs if pair["example_id"] == example_id)


@pytest.mark.parametrize(("max_pairs", "expected_per_question"), [(1, 1), (2, 2)])
def test_pairs_per_question_cap(pets_bench: Benchmark, max_pairs: int, expected_per_question: int) -> None:
    examples = pets_bench.examples[:2]  # both have a result-changing mistake and a syntax error
    pairs, _, _ = build_preference_pairs(
        examples,
        [_prompt(e) for e in examples],
        _generator_for(examples, pets_bench),
        pets_bench,
        k=5,
        temperature=1.0,
        seed=0,
        max_new_tokens=48,
        max_pairs_per_question=max_pairs,
    )
    assert Counter(p["example_id"] for p in pairs) == {e.id: expected_per_question for e in examples}


def test_failing_gold_is_unscorable_not_a_pair(pets_bench: Benchmark) -> None:
    broken = Example("pets/train/x", "pets", "?", "SELECT no_such_column FROM owner")
    generator = MixedQualityGenerator(
        {_prompt(broken): "SELECT name FROM owner"}, {_prompt(broken): pets_bench.db_path("pets")}
    )
    pairs, stats, wrong = build_preference_pairs(
        [broken], [_prompt(broken)], generator, pets_bench, k=3, temperature=1.0, seed=0, max_new_tokens=48
    )
    assert (pairs, wrong, stats["unscorable"]) == ([], {}, 3)


@pytest.mark.parametrize(("prompts", "k"), [(["only one"], 2), (["a", "b"], 0)])
def test_bad_arguments_are_input_errors(pets_bench: Benchmark, prompts: list[str], k: int) -> None:
    examples = pets_bench.examples[:2]
    with pytest.raises(InputError):
        build_preference_pairs(
            examples,
            prompts,
            _generator_for(examples, pets_bench),
            pets_bench,
            k=k,
            temperature=1.0,
            seed=0,
            max_new_tokens=48,
        )


def test_pairs_on_real_spider_questions(spider_dir: Path) -> None:
    train = load_benchmark(spider_dir, "train")
    wanted = ("college_2", "flight_4", "hr_1")
    examples = [e for db_id in wanted for e in [x for x in train.examples if x.db_id == db_id][:6]]
    generator = _generator_for(examples, train)
    pairs, stats, wrong = build_preference_pairs(
        examples,
        [_prompt(e) for e in examples],
        generator,
        train,
        k=4,
        temperature=0.7,
        seed=1,
        workers=1,
        max_new_tokens=48,
    )
    assert len(generator.calls) == 1
    assert stats["samples"] == 4 * len(examples) and stats["pairs"] >= len(examples)
    _check_pairs_by_execution(pairs, train, examples)
    assert set(wrong) == {p["example_id"] for p in pairs}
