"""The task-mix sampler: ratios, determinism, resumption, and bad mixes."""

from __future__ import annotations

from collections import Counter

import pytest

from routesql.errors import InputError
from routesql.train.mix import TaskMixSampler, normalise_mix

DRAWS = 4000


@pytest.mark.parametrize(
    "ratios",
    [
        {"text_to_sql": 1.0, "schema_linking": 1.0},
        {"text_to_sql": 3.0, "schema_linking": 1.0, "noise_correction": 0.5, "continuation": 0.5},
        {"text_to_sql": 0.2, "slice_linking": 0.8, "continuation": 0.0},
    ],
)
def test_draws_follow_the_normalised_ratios(ratios: dict[str, float]) -> None:
    sampler = TaskMixSampler(ratios, seed=7)
    counts = Counter(sampler.next() for _ in range(DRAWS))
    total = sum(ratios.values())
    for task, ratio in ratios.items():
        # Binomial standard deviation at 4000 draws is <= 0.008; 0.03 is ~4 sigma.
        assert counts[task] / DRAWS == pytest.approx(ratio / total, abs=0.03)
    assert set(counts) == {task for task, ratio in ratios.items() if ratio > 0}


def test_same_seed_same_draws_other_seed_other_draws() -> None:
    mix = {"text_to_sql": 1.0, "schema_linking": 1.0, "continuation": 1.0}
    first = [TaskMixSampler(mix, seed=1).task_at(i) for i in range(200)]
    again = [TaskMixSampler(mix, seed=1).task_at(i) for i in range(200)]
    other = [TaskMixSampler(mix, seed=2).task_at(i) for i in range(200)]
    assert first == again
    assert first != other


def test_key_order_of_the_mix_does_not_change_draws() -> None:
    one = TaskMixSampler({"text_to_sql": 1.0, "continuation": 2.0}, seed=3)
    two = TaskMixSampler({"continuation": 2.0, "text_to_sql": 1.0}, seed=3)
    assert [one.next() for _ in range(100)] == [two.next() for _ in range(100)]


def test_resumed_sampler_continues_the_sequence() -> None:
    mix = {"text_to_sql": 2.0, "noise_correction": 1.0}
    uninterrupted = TaskMixSampler(mix, seed=5)
    expected = [uninterrupted.next() for _ in range(100)]
    first_half = TaskMixSampler(mix, seed=5)
    drawn = [first_half.next() for _ in range(37)]
    resumed = TaskMixSampler(mix, seed=5)
    resumed.load_state_dict(first_half.state_dict())
    assert drawn + [resumed.next() for _ in range(63)] == expected


def test_state_from_another_mix_is_refused() -> None:
    saved = TaskMixSampler({"text_to_sql": 1.0}, seed=5).state_dict()
    with pytest.raises(InputError, match="another seed or mix"):
        TaskMixSampler({"text_to_sql": 1.0, "continuation": 1.0}, seed=5).load_state_dict(saved)


@pytest.mark.parametrize(
    ("ratios", "where", "problem"),
    [
        ({"sql_golf": 1.0}, "train.mix.sql_golf", "unknown task"),
        ({"text_to_sql": 0.0}, "train.mix", "positive number"),
        ({}, "train.mix", "positive number"),
        ({"text_to_sql": -0.5, "continuation": 1.0}, "train.mix.text_to_sql", ">= 0"),
        ({"text_to_sql": float("nan")}, "train.mix.text_to_sql", ">= 0"),
    ],
)
def test_bad_mix_is_an_input_error(ratios: dict[str, float], where: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        normalise_mix(ratios)
    assert caught.value.where == where
    assert problem in caught.value.problem


def test_normalised_mix_sums_to_one_and_drops_zero_tasks() -> None:
    assert normalise_mix({"text_to_sql": 3.0, "continuation": 1.0, "schema_linking": 0.0}) == {
        "text_to_sql": 0.75,
        "continuation": 0.25,
    }
