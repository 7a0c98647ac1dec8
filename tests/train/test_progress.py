"""StepProgress on real Lightning runs of a one-layer model: a bar on a terminal, plain lines in a log."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from routesql.train.progress import StepProgress
from support import Terminal


class OneLayer(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = self.layer(batch).pow(2).mean()
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(torch.randn(64, 4), batch_size=2)


def fit(stream: io.StringIO, max_steps: int, root: Path, resume: Path | None = None) -> pl.Trainer:
    trainer = pl.Trainer(
        max_steps=max_steps,
        accumulate_grad_batches=2,  # two micro-batches a step: the line comes once per step
        callbacks=[StepProgress("SFT training", stream)],
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
        default_root_dir=root,
        accelerator="cpu",
    )
    trainer.fit(OneLayer(), ckpt_path=resume)
    return trainer


def reported_steps(log: str) -> list[int]:
    return [int(step) for step in re.findall(r"SFT training: step (\d+)/25, loss \d+\.\d{3}, \d+:\d\d so far", log)]


@pytest.mark.parametrize(
    ("resume_at", "expected"),
    [
        (None, [3, 6, 9, 12, 15, 18, 21, 24, 25]),  # every ceil(25 / 10) steps, and the last
        (10, [12, 15, 18, 21, 24, 25]),  # a resumed run reports its own steps only
    ],
)
def test_a_log_gets_a_line_every_tenth_of_the_run(resume_at: int | None, expected: list[int], tmp_path: Path) -> None:
    checkpoint = None
    if resume_at is not None:
        first = fit(io.StringIO(), resume_at, tmp_path)
        checkpoint = tmp_path / "first.ckpt"
        first.save_checkpoint(checkpoint)
    log = io.StringIO()
    fit(log, 25, tmp_path, checkpoint)
    assert reported_steps(log.getvalue()) == expected
    assert log.getvalue().count("\n") == len(expected)  # nothing else: no bar redraws in a log


def test_a_terminal_gets_the_bar_and_no_lines(tmp_path: Path) -> None:
    screen = Terminal()
    fit(screen, 25, tmp_path)
    assert "25/25" in screen.getvalue() and "loss=" in screen.getvalue()
    assert reported_steps(screen.getvalue()) == []
