"""Full fine-tuning: every weight trained (an upper reference where the model is small)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apeopt.baselines.base import BaselineTrainer, BuildContext, Options
from apeopt.errors import UserError


@dataclass(frozen=True)
class FullFinetuneOptions(Options):
    """Refused above ``max_params`` parameters (AdamW keeps ~4 copies of the weights in memory)."""

    max_params: int = 600_000_000

    def __post_init__(self) -> None:
        if self.max_params < 1:
            raise UserError(f"full-finetune: 'max_params' must be >= 1, got {self.max_params}")


class FullFinetuneTrainer(BaselineTrainer):
    name = "full-finetune"
    kind = "full"
    default_lr = 5e-5
    options_cls = FullFinetuneOptions
    options: FullFinetuneOptions

    def check(self, model: Any) -> None:
        n = sum(p.numel() for p in model.parameters())
        if n > self.options.max_params:
            raise self.refuse(
                model,
                f"it has {n / 1e6:.0f}M parameters, more than max_params={self.options.max_params / 1e6:.0f}M "
                "for full fine-tuning; use lora",
            )

    def build(self, model: Any, ctx: BuildContext) -> Any:
        for p in model.parameters():
            p.requires_grad_(True)
        return model

    def save(self, trained: Any, folder: Any) -> None:
        trained.save_pretrained(str(folder))
