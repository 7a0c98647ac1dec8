"""The task-mix sampler: which SFT task the next training record comes from.

Draw i is a pure function of (seed, i), so the sampler's whole state is one counter: saving it in a
checkpoint and loading it back continues the exact sequence an uninterrupted run would draw.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping
from typing import Any

from routesql.errors import InputError
from routesql.tasks.registry import SFT_TASK_NAMES
from routesql.train.settings import mix_problem


def normalise_mix(ratios: Mapping[str, float], where: str = "train.mix") -> dict[str, float]:
    """Ratios scaled to sum to 1, zero-ratio tasks dropped; bad names or sums raise InputError."""
    problem = mix_problem(ratios)
    if problem is not None:
        task, text = problem
        raise InputError(where if task is None else f"{where}.{task}", text)
    total = sum(ratios.values())
    # Sorted by the canonical task order so the same mix gives the same draws however it was written.
    return {task: ratios[task] / total for task in SFT_TASK_NAMES if ratios.get(task, 0) > 0}


class TaskMixSampler:
    """Draws task names with the given (normalised) probabilities, deterministically from `seed`."""

    def __init__(self, ratios: Mapping[str, float], seed: int) -> None:
        self.probabilities = normalise_mix(ratios)
        self.tasks = list(self.probabilities)
        self.seed = seed
        self.position = 0
        cumulative, running = [], 0.0
        for task in self.tasks:
            running += self.probabilities[task]
            cumulative.append(running)
        cumulative[-1] = 1.0  # guard against rounding leaving a gap at the top
        self._cumulative = cumulative

    def task_at(self, position: int) -> str:
        # A string seed is hashed with SHA-512 by `random`, so draws do not depend on PYTHONHASHSEED.
        uniform = random.Random(f"routesql-mix:{self.seed}:{position}").random()
        return self.tasks[bisect.bisect_right(self._cumulative, uniform)]

    def next(self) -> str:
        task = self.task_at(self.position)
        self.position += 1
        return task

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "position": self.position, "probabilities": dict(self.probabilities)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state["seed"] != self.seed or dict(state["probabilities"]) != self.probabilities:
            raise InputError("checkpoint", "task-mix sampler state was saved with another seed or mix")
        self.position = int(state["position"])
