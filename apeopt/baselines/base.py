"""The comparison's building blocks: methods, training settings and the tuning-method interface.

A *method* is one route to a task answer on the same base model: a prompt route (no training:
zero-shot, the human instruction, k-shot demos, the apeopt winner) or a tuning route (a PEFT
method, or full fine-tuning) trained on the task's train split. Every config is a frozen
dataclass validated on construction: a bad value is a one-line UserError.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from apeopt.errors import UserError

SELECT_METRICS = ("score", "loss")


@dataclass(frozen=True)
class Method:
    """One row of the comparison. ``family`` is "prompt" or "tuning"; ``k`` is the demo count of
    a k-shot route; ``trainer`` names the tuning implementation ("module:Class")."""

    name: str
    family: str
    description: str
    k: int = 0
    trainer: str = ""


@dataclass(frozen=True)
class TrainConfig:
    """Shared training settings. ``None`` means: the method's default (lr), or the device's
    default (batch size: 8 on CPU, 32 on CUDA)."""

    steps: int = 80
    batch_size: int | None = None
    lr: float | None = None
    warmup: float = 0.1  # fraction of steps with a linear warm-up, then linear decay to 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    eval_every: int = 20  # dev evaluation (checkpoint selection) every N steps, plus step 0 and the end
    select: str = "score"  # "score": the task scorer on dev (dev loss breaks ties); "loss": dev loss
    dev_limit: int | None = 50  # dev examples used for selection (None: all)
    max_length: int = 256  # longest training sequence (prompt cut on the left)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "eval_every", "max_length"):
            if getattr(self, name) < 1:
                raise UserError(f"training setting {name!r} must be >= 1, got {getattr(self, name)!r}")
        for name in ("batch_size", "dev_limit"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise UserError(f"training setting {name!r} must be >= 1, got {v!r}")
        if self.lr is not None and not self.lr > 0:
            raise UserError(f"training setting 'lr' must be > 0, got {self.lr!r}")
        if not 0 <= self.warmup < 1:
            raise UserError(f"training setting 'warmup' must be in [0, 1), got {self.warmup!r}")
        if self.weight_decay < 0 or self.max_grad_norm <= 0:
            raise UserError("training settings 'weight_decay' must be >= 0 and 'max_grad_norm' > 0")
        if self.select not in SELECT_METRICS:
            raise UserError(
                f"training setting 'select' must be one of {', '.join(SELECT_METRICS)}, got {self.select!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BuildContext:
    """What a tuning method may need besides the model: the human instruction (text
    initialisation) and where PEFT can reload the model's tokenizer."""

    instruction: str
    tokenizer_path: str
    tokenizer_kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    """Base class of each method's own hyper-parameters (validated by subclasses)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class BaselineTrainer(ABC):
    """A tuning method: checks it applies to a model, then wraps the model for training.

    ``build`` returns the model whose ``requires_grad`` parameters are trained (a PeftModel, or
    the model itself for full fine-tuning); :mod:`apeopt.models.tuned` turns it into an
    HFBackend for scoring, and ``save`` writes it with ``save_pretrained``.
    """

    name: ClassVar[str]
    kind: ClassVar[str] = "peft"  # "peft" or "full"
    default_lr: ClassVar[float]
    options_cls: ClassVar[type[Options]] = Options

    def __init__(self, options: Options | None = None, **overrides: Any) -> None:
        if options is None:
            known = {f.name for f in dataclasses.fields(self.options_cls)}
            unknown = sorted(set(overrides) - known)
            if unknown:
                raise UserError(
                    f"{self.name}: unknown option {unknown[0]!r} (valid: {', '.join(sorted(known)) or 'none'})"
                )
            options = self.options_cls(**overrides)
        self.options = options

    def check(self, model: Any) -> None:
        """Raise a one-line UserError if this method cannot tune ``model``."""

    @abstractmethod
    def build(self, model: Any, ctx: BuildContext) -> Any:
        """Wrap (or prepare) ``model`` for training; only the tuned parameters require grad."""

    def save(self, trained: Any, folder: Any) -> None:
        trained.save_pretrained(str(folder))

    def refuse(self, model: Any, why: str) -> UserError:
        return UserError(f"method {self.name!r} does not apply to model {model_label(model)!r}: {why}")


def model_label(model: Any) -> str:
    config = getattr(model, "config", None)
    return str(getattr(config, "model_type", None) or type(model).__name__)


def module_names(model: Any) -> set[str]:
    """The last component of every submodule name (``q_proj``, ``down_proj`` ...)."""
    return {name.rsplit(".", 1)[-1] for name, _ in model.named_modules() if name}


def require_modules(trainer: BaselineTrainer, model: Any, targets: tuple[str, ...]) -> None:
    missing = [t for t in targets if t not in module_names(model)]
    if missing:
        raise trainer.refuse(
            model, f"it has no {', '.join(missing)} modules (set target_modules for this architecture)"
        )


def count_trainable(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
