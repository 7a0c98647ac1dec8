"""Completion log-likelihoods on a real tiny model, checked against transformers' own loss over
the completion as training encodes it (`tokenize_pairs`: the rendered prompt, the completion, eos)."""

from __future__ import annotations

import pytest
import torch

from routesql.llm.local import TransformersGenerator
from routesql.llm.scoring import completion_log_likelihoods, completion_scorer
from routesql.train.packing import tokenize_pairs

COMPLETIONS = ["none", "owner", "SELECT name FROM owner WHERE city = 'Lyon'", ""]


@pytest.mark.parametrize("shared", [False, True])  # True: one prompt, its pass cached for every completion
def test_a_score_is_minus_the_model_s_loss_summed_over_the_completion_and_eos(
    tiny_generator: TransformersGenerator, prompts: list[str], shared: bool
) -> None:
    chosen = [prompts[0]] * len(COMPLETIONS) if shared else prompts[: len(COMPLETIONS)]
    scores = completion_log_likelihoods(tiny_generator, chosen, COMPLETIONS)
    for (prompt_ids, target), score in zip(tokenize_pairs(tiny_generator.tokenizer, chosen, COMPLETIONS), scores):
        labels = [-100] * len(prompt_ids) + target
        with torch.no_grad():
            loss = tiny_generator.model(torch.tensor([prompt_ids + target]), labels=torch.tensor([labels])).loss
        assert score == pytest.approx(-loss.item() * len(target), rel=1e-4)
        assert score < 0


def test_the_local_backend_scores_and_the_rest_cannot(tiny_generator: TransformersGenerator) -> None:
    assert completion_scorer(tiny_generator) is not None
    assert completion_scorer(object()) is None  # e.g. the HTTP backend


def test_prompts_and_completions_pair_up(tiny_generator: TransformersGenerator, prompts: list[str]) -> None:
    with pytest.raises(ValueError, match="1 completions for 2 prompts"):
        completion_log_likelihoods(tiny_generator, prompts[:2], ["none"])
