"""DPO (Rafailov et al., 2023) as a LightningModule, the reference being the policy with its LoRA
adapter switched off (peft `disable_adapter()`), so no second model copy sits in memory.

loss = -log sigmoid(beta * ((log pi(y_w|x) - log ref(y_w|x)) - (log pi(y_l|x) - log ref(y_l|x))))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from peft import PeftModel
from torch.utils.data import DataLoader
from transformers import PreTrainedModel

from routesql.errors import InputError
from routesql.train.base import TrainingModule
from routesql.train.packing import IGNORE_INDEX
from routesql.train.settings import DPOSettings
from routesql.train.stream import PairStream, StreamLayout, TokenizedPair


def sequence_log_probs(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of log-probabilities of each row's completion tokens (labels != IGNORE_INDEX)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
    logits, labels = logits[:, :-1, :].float(), batch["labels"][:, 1:]
    scored = labels != IGNORE_INDEX
    token_log_probs = torch.gather(torch.log_softmax(logits, dim=-1), 2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (token_log_probs * scored).sum(dim=-1)


def dpo_terms(
    policy: torch.Tensor, reference: torch.Tensor, beta: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-pair loss, chosen reward, rejected reward); rows are chosen first, then rejected."""
    pairs = policy.shape[0] // 2
    chosen_reward = beta * (policy[:pairs] - reference[:pairs])
    rejected_reward = beta * (policy[pairs:] - reference[pairs:])
    loss = -torch.nn.functional.logsigmoid(chosen_reward - rejected_reward)
    return loss, chosen_reward.detach(), rejected_reward.detach()


class DPOModule(TrainingModule[PeftModel, DPOSettings]):
    kind = "dpo"
    metric_prefix = "dpo"

    def __init__(
        self, model: PreTrainedModel | PeftModel, settings: DPOSettings, pairs: Sequence[TokenizedPair], pad_id: int
    ) -> None:
        if not isinstance(model, PeftModel):
            raise InputError("dpo.lora.enabled", "DPO needs a LoRA adapter: its reference is the adapter off")
        super().__init__(model, settings)
        self.pairs, self.pad_id = pairs, pad_id

    def train_dataloader(self) -> DataLoader:
        layout = StreamLayout(
            batch_size=self.settings.batch_size,
            accumulation=self.accumulation,
            world_size=self.trainer.world_size,
            rank=self.trainer.global_rank,
        )
        stream = PairStream(self.pairs, self.settings.seed, layout, self.pad_id, self.resume_micro_batch)
        return DataLoader(stream, batch_size=None, num_workers=0)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        micro_batch = int(batch["micro_batch"])
        self.reseed(micro_batch)
        policy = sequence_log_probs(self.model, batch)
        with torch.no_grad(), self.model.disable_adapter():
            self.model.eval()  # the reference is the frozen model as it predicts: no dropout
            reference = sequence_log_probs(self.model, batch)
            self.model.train()
        loss, chosen, rejected = dpo_terms(policy, reference, self.settings.beta)
        objective = loss.mean()

        self.micro_batches_done = micro_batch + 1
        world = self.trainer.world_size
        self.add_to_step(objective / (self.accumulation * world), int(batch["real_tokens"]) * world)
        prefix = self.metric_prefix
        self.log_dict(
            {
                f"{prefix}/reward_chosen": chosen.mean(),
                f"{prefix}/reward_rejected": rejected.mean(),
                f"{prefix}/reward_margin": (chosen - rejected).mean(),
                f"{prefix}/preference_accuracy": (chosen > rejected).float().mean(),
            },
            on_step=True,
            on_epoch=False,
            batch_size=1,
        )
        if self.is_last_micro_batch(micro_batch):
            self.log_step()
        return objective
