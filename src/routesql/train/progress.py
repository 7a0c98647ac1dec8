"""A progress bar over optimizer steps for Lightning runs (SFT, DPO, tuning trials).

Lightning's own bar counts the batches of an epoch, and a stream that never ends has no epoch
length, so it could only show a count. This one shows step / max_steps, the time left and the
last logged loss. Like tqdm with `disable=None`, it stays silent when stderr is not a terminal
(CI logs, DVC output piped to a file), and only rank 0 draws it.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from tqdm import tqdm


class StepProgress(Callback):
    def __init__(self, description: str) -> None:
        self.description = description
        self.bar: tqdm | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            self.bar = tqdm(
                total=trainer.max_steps,
                initial=trainer.global_step,
                desc=self.description,
                unit="step",
                disable=None,
                dynamic_ncols=True,
            )

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.bar is None or trainer.global_step <= self.bar.n:
            return  # rank > 0, or a micro-batch inside gradient accumulation
        self.bar.update(trainer.global_step - self.bar.n)
        loss = trainer.callback_metrics.get(f"{getattr(pl_module, 'metric_prefix', 'train')}/loss")
        if loss is not None:
            self.bar.set_postfix(loss=f"{float(loss):.3f}", refresh=False)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
