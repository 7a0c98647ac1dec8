"""What the SFT and DPO LightningModules share: optimiser and schedule, adapter-only checkpoints,
resumable randomness, and the throughput/memory figures logged every step."""

from __future__ import annotations

import math
import resource
import time
from typing import Any, Generic, TypeVar

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.types import OptimizerLRSchedulerConfig

from routesql.errors import InputError
from routesql.train.settings import DPOSettings, SFTSettings


def warmup_cosine(warmup_steps: int, max_steps: int, floor: float = 0.1):
    """Linear warm-up to the base LR, then cosine decay to `floor` x base LR at `max_steps`."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory so far: allocated CUDA memory on GPU, the process's max RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def trainable_names(model: torch.nn.Module, prefix: str = "model.") -> set[str]:
    return {prefix + name for name, parameter in model.named_parameters() if parameter.requires_grad}


ModelT = TypeVar("ModelT", bound=torch.nn.Module)
TrainSettingsT = TypeVar("TrainSettingsT", bound=SFTSettings | DPOSettings)


class TrainingModule(pl.LightningModule, Generic[ModelT, TrainSettingsT]):
    """Base of SFTModule and DPOModule. Subclasses set `kind` and implement the step and the data;
    they name the model they train (a DPO model is always a peft model) and their settings.
    `metric_prefix` names their logged figures: SFT then DPO log to the train stage's one MLflow run,
    where one name for both would draw two runs' steps on one curve."""

    kind = "base"
    metric_prefix = "train"

    def __init__(self, model: ModelT, settings: TrainSettingsT) -> None:
        super().__init__()
        self.model = model.train()  # from_pretrained returns eval mode; LoRA dropout needs train mode
        self.settings = settings
        # Checkpoints hold the trainable (adapter) weights only; the frozen base comes from base_path.
        self.strict_loading = False
        self.resume_micro_batch = 0
        self.micro_batches_done = 0
        self.resumed_state: dict[str, Any] = {}
        # Seconds in the training loop before this session (from the checkpoint resumed; None when
        # that checkpoint predates the count), so a resumed run reports its whole training time.
        self.seconds_before_session: float | None = 0.0
        self._session_started = time.perf_counter()
        self._step_started = time.perf_counter()
        self._step_loss = torch.zeros(())
        self._step_tokens = 0

    # ---- optimisation -------------------------------------------------------------------------
    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        parameters = [parameter for parameter in self.model.parameters() if parameter.requires_grad]
        optimizer = torch.optim.AdamW(parameters, lr=self.settings.lr, weight_decay=self.settings.weight_decay)
        factor = warmup_cosine(self.settings.warmup_steps, self.settings.max_steps)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def reseed(self, micro_batch: int) -> None:
        """Dropout masks as a function of (seed, micro-batch, rank): a resumed run draws the same ones
        without carrying RNG state, which Lightning's own iterator setup would perturb anyway."""
        torch.manual_seed((self.settings.seed * 1_000_003 + micro_batch * 1_009 + self.global_rank) % 2**63)

    @property
    def accumulation(self) -> int:
        return self.trainer.accumulate_grad_batches

    def is_last_micro_batch(self, micro_batch: int) -> bool:
        return (micro_batch + 1) % self.accumulation == 0

    # ---- per-step figures ---------------------------------------------------------------------
    def add_to_step(self, loss_share: torch.Tensor, global_tokens: int) -> None:
        """Accumulate this micro-batch's share of the step loss and the step's token count."""
        self._step_loss = self._step_loss.to(loss_share.device) + loss_share.detach()
        self._step_tokens += global_tokens

    def log_step(self) -> None:
        """At a step's last micro-batch: the step loss over all ranks, tokens/s, peak memory, LR."""
        loss = self.trainer.strategy.reduce(self._step_loss, reduce_op="sum")  # collective: every rank calls
        now = time.perf_counter()
        prefix = self.metric_prefix
        metrics = {
            f"{prefix}/loss": loss,
            f"{prefix}/tokens_per_s": self._step_tokens / max(now - self._step_started, 1e-9),
            f"{prefix}/peak_memory_mb": peak_memory_mb(self.device),
            f"{prefix}/lr": self.trainer.optimizers[0].param_groups[0]["lr"],
        }
        self.log_dict(metrics, on_step=True, on_epoch=False, prog_bar=False, batch_size=1)
        self._step_started, self._step_loss, self._step_tokens = now, torch.zeros(()), 0

    def on_train_start(self) -> None:
        self._session_started = self._step_started = time.perf_counter()

    def training_seconds(self) -> float | None:
        """Seconds in the training loop over every session of this run so far."""
        if self.seconds_before_session is None:
            return None
        return self.seconds_before_session + time.perf_counter() - self._session_started

    # ---- checkpoints: adapter + optimizer + scheduler + data position --------------------------
    def extra_checkpoint_state(self) -> dict[str, Any]:
        return {}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        keep = trainable_names(self.model)
        checkpoint["state_dict"] = {key: value for key, value in checkpoint["state_dict"].items() if key in keep}
        checkpoint["routesql"] = {
            "kind": self.kind,
            "micro_batches_done": self.micro_batches_done,
            "training_seconds": self.training_seconds(),
            "settings": self.settings.model_dump(mode="json"),
            **self.extra_checkpoint_state(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("routesql")
        if not state or state.get("kind") != self.kind:
            raise InputError("checkpoint", f"not a routesql {self.kind} checkpoint")
        if state["settings"] != self.settings.model_dump(mode="json"):
            raise InputError("checkpoint", "was written with other training settings; use a new output folder")
        expected, saved = trainable_names(self.model), set(checkpoint["state_dict"])
        if saved != expected:
            differing = len(saved ^ expected)
            raise InputError("checkpoint", f"adapter weights do not match the model ({differing} names differ)")
        self.resume_micro_batch = int(state["micro_batches_done"])
        self.micro_batches_done = self.resume_micro_batch
        self.seconds_before_session = state.get("training_seconds")
        self.resumed_state = state
