"""Choosing in-context demonstrations from the train split."""

from __future__ import annotations

import random
from typing import Sequence

from apeopt.prompts.prompt import Demo
from apeopt.tasks.task import Example


def sample_demo_ids(n: int, k: int, seed: int = 0) -> tuple[int, ...]:
    """``k`` distinct indices into a split of ``n`` examples, deterministic for a seed."""
    if k <= 0:
        return ()
    if k > n:
        from apeopt.errors import UserError

        raise UserError(f"asked for {k} demos but the train split has only {n} examples")
    return tuple(random.Random(seed).sample(range(n), k))


def demos_at(train: Sequence[Example], ids: Sequence[int]) -> tuple[Demo, ...]:
    return tuple(Demo(train[i].input, train[i].target) for i in ids)


def sample_demos(train: Sequence[Example], k: int, seed: int = 0) -> tuple[Demo, ...]:
    """``k`` demos drawn from ``train`` without replacement, deterministic for a seed."""
    return demos_at(train, sample_demo_ids(len(train), k, seed))


def demo_pool(train: Sequence[Example]) -> tuple[Demo, ...]:
    """Every train example as a demo: the pool a retrieving prompt picks from."""
    return demos_at(train, range(len(train)))
