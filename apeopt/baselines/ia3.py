"""IA3 (Liu et al. 2022) through HF PEFT: learned rescaling of keys, values and FFN activations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apeopt.baselines.base import BaselineTrainer, BuildContext, Options, require_modules
from apeopt.baselines.lora import default_targets


@dataclass(frozen=True)
class IA3Options(Options):
    """``target_modules``/``feedforward_modules`` None: PEFT's defaults for the architecture
    (k_proj, v_proj, down_proj on Llama, down_proj as feed-forward)."""

    target_modules: tuple[str, ...] | None = None
    feedforward_modules: tuple[str, ...] | None = None


class IA3Trainer(BaselineTrainer):
    name = "ia3"
    default_lr = 1e-2
    options_cls = IA3Options
    options: IA3Options

    def modules(self, model: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        targets = self.options.target_modules or default_targets(
            model, "TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING"
        )
        ff = self.options.feedforward_modules
        if ff is None:
            ff = default_targets(model, "TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING") or ()
        if not targets:
            raise self.refuse(model, "PEFT has no default IA3 target modules for this architecture")
        return targets, tuple(m for m in ff if m in targets)

    def check(self, model: Any) -> None:
        require_modules(self, model, self.modules(model)[0])

    def build(self, model: Any, ctx: BuildContext) -> Any:
        from peft import IA3Config, TaskType, get_peft_model

        targets, ff = self.modules(model)
        config = IA3Config(task_type=TaskType.CAUSAL_LM, target_modules=list(targets), feedforward_modules=list(ff))
        return get_peft_model(model, config)
