"""Where training keeps its resumable checkpoints: scratch space outside DVC's outputs."""

from __future__ import annotations

import os
from pathlib import Path

CHECKPOINTS_ENV = "ROUTESQL_CHECKPOINTS"


def checkpoint_root() -> Path:
    """$ROUTESQL_CHECKPOINTS when set, else `checkpoints` in the working directory.

    `routesql ablations` sets it to the project's own folder. Its experiments run in temporary
    copies of the repository; with one shared folder, a variant whose SFT is another's (same
    settings, records and base model) resumes that finished run instead of training it again, and
    a call that was killed resumes its variant's training from the last checkpoint.
    """
    return Path(os.environ.get(CHECKPOINTS_ENV) or "checkpoints")
