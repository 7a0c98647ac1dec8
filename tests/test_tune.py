"""Choosing the best tuning trial: EX first, then held-out validation loss, then the earliest."""

from __future__ import annotations

import optuna
import pytest

from routesql.tune import best_trial


def trial(number: int, ex: float, val_loss: float | None) -> optuna.trial.FrozenTrial:
    attrs = {"mix": {"text_to_sql": 1.0}} | ({} if val_loss is None else {"val_loss": val_loss})
    frozen = optuna.trial.create_trial(value=ex, user_attrs=attrs)
    frozen.number = number
    return frozen


# (trials as (number, EX, validation loss), the number of the best)
CASES = [
    ([(0, 0.2, 3.0), (1, 0.5, 9.0), (2, 0.1, 1.0)], 1),  # EX decides first
    ([(0, 0.0, 3.0), (1, 0.0, 2.5), (2, 0.0, 2.9)], 1),  # all EX tied (a small model early on): loss decides
    ([(0, 0.4, None), (1, 0.4, 2.0)], 1),  # a trial without a recorded loss loses the tie
    ([(0, 0.4, 2.0), (1, 0.4, 2.0)], 0),  # a full tie keeps the earliest
]


@pytest.mark.parametrize(("trials", "expected"), CASES)
def test_best_trial(trials: list[tuple[int, float, float | None]], expected: int) -> None:
    assert best_trial([trial(*t) for t in trials]).number == expected
