"""Multitask SFT as a LightningModule: packed records, loss on completion tokens only.

The loss is normalised by the number of scored tokens in the whole optimizer step (all ranks, all
accumulated micro-batches), which the deterministic stream knows in advance. The gradient is then
the token-mean over the global batch however it is split, so 1 process x batch 2B and 2 processes x
batch B train the same model (up to float summation order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from peft import PeftModel
from torch.utils.data import DataLoader
from transformers import PreTrainedModel

from routesql.errors import InputError
from routesql.tasks.registry import SFT_TASK_NAMES
from routesql.train.attention import PACKED_ATTENTION, use_packed_attention
from routesql.train.base import TrainingModule
from routesql.train.mix import TaskMixSampler
from routesql.train.packing import TokenizedRecord, causal_lm, completion_token_losses
from routesql.train.settings import SFTSettings
from routesql.train.stream import SFTStream, StreamLayout


class SFTModule(TrainingModule[PreTrainedModel | PeftModel, SFTSettings]):
    kind = "sft"

    def __init__(
        self,
        model: PreTrainedModel | PeftModel,
        settings: SFTSettings,
        by_task: Mapping[str, Sequence[TokenizedRecord]],
        pad_id: int,
    ) -> None:
        super().__init__(model, settings)
        self.by_task, self.pad_id = by_task, pad_id
        self.sampler_position = 0
        self._task_sums = torch.zeros(len(SFT_TASK_NAMES), dtype=torch.float64)
        self._task_counts = torch.zeros(len(SFT_TASK_NAMES), dtype=torch.float64)
        self._slots, self._real = 0, 0

    # ---- attention ----------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        # Record-by-record causal attention instead of a block mask over the row (same result,
        # cheaper); flash-attention builds keep their own varlen kernel, which reads position_ids
        # too, but not the jumps of records that share a prefix: those need ours.
        self._restore_attention = causal_lm(self.model).config._attn_implementation
        if self._restore_attention in ("sdpa", "eager") or self.settings.share_prefix:
            use_packed_attention(self.model)

    def on_fit_end(self) -> None:
        if causal_lm(self.model).config._attn_implementation == PACKED_ATTENTION:
            causal_lm(self.model).set_attn_implementation(self._restore_attention)

    # ---- data ---------------------------------------------------------------------------------
    def make_stream(self) -> SFTStream:
        layout = StreamLayout(
            batch_size=self.settings.batch_size,
            accumulation=self.accumulation,
            world_size=self.trainer.world_size,
            rank=self.trainer.global_rank,
        )
        return SFTStream(
            self.by_task,
            self.settings.mix,
            self.settings.seed,
            self.settings.max_seq_len,
            layout,
            self.pad_id,
            start_micro_batch=self.resume_micro_batch,
        )

    def train_dataloader(self) -> DataLoader:
        stream = self.make_stream()
        if self.resumed_state:
            # The replay must land where the checkpoint says the sampler was, or the data changed.
            replayed = stream.replayed(self.resume_micro_batch).sampler
            saved = TaskMixSampler(self.settings.mix, self.settings.seed)
            saved.load_state_dict(self.resumed_state["sampler"])
            if replayed.position != saved.position:
                raise InputError("checkpoint", "training records changed since the checkpoint; cannot resume")
            self.sampler_position = saved.position
        # The stream yields whole micro-batches; collation in the main process keeps it deterministic.
        return DataLoader(stream, batch_size=None, num_workers=0)

    def extra_checkpoint_state(self) -> dict[str, Any]:
        sampler = TaskMixSampler(self.settings.mix, self.settings.seed)
        sampler.position = self.sampler_position
        return {"sampler": sampler.state_dict()}

    # ---- step ---------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        micro_batch = int(batch["micro_batch"])
        self.reseed(micro_batch)
        losses, scored = completion_token_losses(self.model, batch)
        loss_sum = (losses * scored).sum()
        step_tokens = batch["step_label_tokens"].to(loss_sum.dtype)
        # Lightning divides by the accumulation count and DDP averages over ranks; undo both so the
        # gradient is sum(token losses in the global step) / (scored tokens in the global step).
        objective = loss_sum / step_tokens * (self.accumulation * self.trainer.world_size)

        self.micro_batches_done = micro_batch + 1
        self.sampler_position = int(batch["sampler_position"])
        self.add_to_step(loss_sum / step_tokens, int(batch["global_real_tokens"]))
        self.add_task_losses(losses.detach(), batch["task_ids"][:, 1:])
        self._slots += batch["input_ids"].numel()
        self._real += int(batch["real_tokens"])
        if self.is_last_micro_batch(micro_batch):
            self.log_task_losses()
            # How much of the compute went to real tokens rather than padding (this rank).
            self.log("train/non_padding_share", self._real / self._slots, on_step=True, on_epoch=False, batch_size=1)
            self._slots, self._real = 0, 0
            self.log_step()
        return objective

    def add_task_losses(self, losses: torch.Tensor, task_ids: torch.Tensor) -> None:
        scored = task_ids >= 0
        indices = task_ids[scored].cpu()
        self._task_sums.index_add_(0, indices, losses[scored].double().cpu())
        self._task_counts.index_add_(0, indices, torch.ones_like(indices, dtype=torch.float64))

    def log_task_losses(self) -> None:
        """Token-mean loss per task over the step, on this rank (tasks absent from the step are skipped)."""
        metrics = {
            f"train/loss_{task}": float(self._task_sums[index] / self._task_counts[index])
            for index, task in enumerate(SFT_TASK_NAMES)
            if self._task_counts[index] > 0
        }
        if metrics:
            self.log_dict(metrics, on_step=True, on_epoch=False, batch_size=1)
        self._task_sums.zero_()
        self._task_counts.zero_()
