"""A progress bar over optimizer steps for Lightning runs (SFT, DPO, tuning trials).

Lightning's own bar counts the batches of an epoch, and a stream that never ends has no epoch
length, so it could only show a count. This one shows step / max_steps, the time left and the
last logged loss. When stderr is not a terminal (CI logs, `dvc exp run` output piped to a file) a
redrawn bar would be noise, so it writes a plain line at every tenth of the run instead: a log of a
run that trains for half an hour still shows it moving. Only rank 0 reports.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from tqdm import tqdm

LINES_PER_RUN = 10  # plain lines a run writes when stderr is not a terminal


class StepProgress(Callback):
    def __init__(self, description: str, stream: TextIO | None = None) -> None:
        self.description = description
        self.stream = stream  # None: stderr, looked up when training starts
        self.bar: tqdm | None = None
        self.line_every = 0  # > 0: plain lines every this many steps instead of a bar
        self._started = 0.0
        self._first_step = self._last_reported = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        stream = self.stream if self.stream is not None else sys.stderr
        if stream.isatty():
            self.bar = tqdm(
                total=trainer.max_steps,
                initial=trainer.global_step,
                desc=self.description,
                unit="step",
                dynamic_ncols=True,
                file=stream,
            )
        else:
            self.stream = stream
            self.line_every = max(1, math.ceil(trainer.max_steps / LINES_PER_RUN))
            self._started = time.perf_counter()
            self._first_step = self._last_reported = trainer.global_step

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = trainer.callback_metrics.get(f"{getattr(pl_module, 'metric_prefix', 'train')}/loss")
        if self.bar is not None and trainer.global_step > self.bar.n:  # not inside gradient accumulation
            self.bar.update(trainer.global_step - self.bar.n)
            if loss is not None:
                self.bar.set_postfix(loss=f"{float(loss):.3f}", refresh=False)
        elif self.line_every and self._is_reported_step(trainer):
            self._write_line(trainer, None if loss is None else float(loss))

    def _is_reported_step(self, trainer: pl.Trainer) -> bool:
        step = trainer.global_step
        if step <= self._last_reported:  # a micro-batch inside gradient accumulation, or a resumed start
            return False
        return step % self.line_every == 0 or step == trainer.max_steps

    def _write_line(self, trainer: pl.Trainer, loss: float | None) -> None:
        step, total = trainer.global_step, trainer.max_steps
        self._last_reported = step
        elapsed = time.perf_counter() - self._started
        left = elapsed / (step - self._first_step) * (total - step)
        shown_loss = "" if loss is None else f", loss {loss:.3f}"
        assert self.stream is not None
        self.stream.write(
            f"{self.description}: step {step}/{total}{shown_loss}, {tqdm.format_interval(elapsed)} so far, about "
            f"{tqdm.format_interval(left)} left\n"
        )
        self.stream.flush()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.line_every = 0
