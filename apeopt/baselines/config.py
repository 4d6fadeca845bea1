"""The comparison's settings: a frozen dataclass validated on construction, with mode defaults
(normal / ``quick``) filled in by :meth:`CompareConfig.value`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from apeopt.baselines import DEFAULT_METHODS, QUICK_METHODS, TRAINERS, Method, resolve_methods
from apeopt.baselines.base import SELECT_METRICS, TrainConfig
from apeopt.errors import UserError
from apeopt.models.spec import DEFAULT_SPEC


@dataclass(frozen=True)
class CompareConfig:
    """``None`` settings take the default of the mode (normal / ``quick``), see :meth:`resolved`."""

    task: str
    methods: tuple[str, ...] | None = None  # None: DEFAULT_METHODS (QUICK_METHODS with quick)
    model: str = DEFAULT_SPEC
    seed: int = 0
    split_seed: int = 0
    quick: bool = False
    steps: int | None = None  # training steps per tuning method (80; quick 8)
    batch_size: int | None = None  # 8 on CPU, 32 on CUDA
    eval_every: int | None = None  # dev selection every N steps (20; quick 4)
    select: str = "score"
    dev_limit: int | None = None  # dev examples for checkpoint selection and apeopt's search (50; quick 16)
    test_limit: int | None = None  # first N test (and test_shift) items (all; quick 30)
    apeopt_minutes: float | None = None  # apeopt search budget in minutes (8; quick: none, see apeopt_calls)
    apeopt_calls: int | None = None  # apeopt search budget in LM calls (none; quick 100: the same work at any load)
    apeopt_space: str = "fewshot"
    apeopt_prompt: str | None = None  # a best_prompt.json to use instead of searching
    device: str = "auto"
    use_cache: bool = True
    method_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from apeopt.field_types import check_field_types

        check_field_types(self)
        methods = self.methods if self.methods is not None else (QUICK_METHODS if self.quick else DEFAULT_METHODS)
        object.__setattr__(self, "methods", tuple(m.name for m in resolve_methods(methods)))
        for name in ("steps", "batch_size", "eval_every", "dev_limit", "test_limit"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise UserError(f"compare setting {name!r} must be >= 1, got {v!r}")
        if self.apeopt_minutes is not None and not self.apeopt_minutes > 0:
            raise UserError(f"compare setting 'apeopt_minutes' must be > 0, got {self.apeopt_minutes!r}")
        if self.apeopt_calls is not None and self.apeopt_calls < 1:
            raise UserError(f"compare setting 'apeopt_calls' must be >= 1, got {self.apeopt_calls!r}")
        if self.select not in SELECT_METRICS:
            raise UserError(f"compare setting 'select' must be one of {', '.join(SELECT_METRICS)}, got {self.select!r}")
        for name in self.method_options:
            if name not in (self.methods or ()) or name not in TRAINERS:
                raise UserError(f"method_options: {name!r} is not a chosen tuning method")

    @property
    def resolved(self) -> tuple[Method, ...]:
        return resolve_methods(self.methods or ())

    def value(self, name: str) -> Any:
        """A setting with its mode default filled in."""
        defaults = {
            "steps": (80, 8),
            "eval_every": (20, 4),
            "dev_limit": (50, 16),
            "test_limit": (None, 30),
            "apeopt_minutes": (8.0, None),
            "apeopt_calls": (None, 100),
        }
        v = getattr(self, name)
        if v is not None:
            return v
        if name in ("apeopt_minutes", "apeopt_calls") and (self.apeopt_minutes or self.apeopt_calls):
            return None  # a budget the user gave replaces the mode's default budget
        return defaults[name][int(self.quick)]

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.value("steps"),
            batch_size=self.batch_size,
            eval_every=self.value("eval_every"),
            select=self.select,
            dev_limit=self.value("dev_limit"),
            seed=self.seed,
        )

    def optimize_config(self) -> Any:
        from apeopt.optimizer.config import OptimizeConfig

        small: dict[str, Any] = (
            dict(rounds=1, subsamples=2, per_subsample=2, minibatch=8) if self.quick else dict(rounds=2)
        )
        return OptimizeConfig(
            task=self.task,
            model=self.model,
            space=self.apeopt_space,
            seed=self.seed,
            split_seed=self.split_seed,
            dev_limit=self.value("dev_limit"),
            few_shot_k=0,
            budget_minutes=self.value("apeopt_minutes"),
            budget_calls=self.value("apeopt_calls"),
            device=self.device,
            use_cache=self.use_cache,
            **small,
        )

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["methods"] = list(self.methods or ())
        d["effective"] = {
            k: self.value(k)
            for k in ("steps", "eval_every", "dev_limit", "test_limit", "apeopt_minutes", "apeopt_calls")
        }
        return d
