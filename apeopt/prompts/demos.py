"""Choosing in-context demonstrations from the train split."""

from __future__ import annotations

import random
from typing import Sequence

from apeopt.prompts.prompt import Demo
from apeopt.tasks.task import Example


def sample_demos(train: Sequence[Example], k: int, seed: int = 0) -> tuple[Demo, ...]:
    """``k`` demos drawn from ``train`` without replacement, deterministic for a seed."""
    if k <= 0:
        return ()
    if k > len(train):
        from apeopt.errors import UserError

        raise UserError(f"asked for {k} demos but the train split has only {len(train)} examples")
    picked = random.Random(seed).sample(range(len(train)), k)
    return tuple(Demo(train[i].input, train[i].target) for i in picked)
