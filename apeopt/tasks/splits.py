"""Deterministic, disjoint train/dev/test splits and the shifted test split."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Mapping

from apeopt.errors import UserError
from apeopt.tasks.task import Example

MAIN_SPLITS = ("train", "dev", "test")
DEFAULT_SPLITS = {"train": 0.5, "dev": 0.25, "test": 0.25}


@dataclass(frozen=True)
class SplitSpec:
    """Split sizes: all counts (ints) or all fractions (floats summing to <= 1)."""

    sizes: Mapping[str, int | float]
    seed: int = 0

    @property
    def fractional(self) -> bool:
        return any(isinstance(v, float) for v in self.sizes.values())


def parse_split_spec(raw: Any, where: str, partial: bool = False) -> SplitSpec:
    """Validate the YAML ``splits`` mapping (``where`` is the YAML file for messages).

    ``partial`` (per-split sources): any split may be left out (given splits are then kept whole),
    and no ``splits`` at all gives no sizes."""
    if raw is None:
        return SplitSpec({} if partial else dict(DEFAULT_SPLITS))
    if not isinstance(raw, dict):
        raise UserError(f"{where}: splits: expected a mapping like {{train: 200, dev: 100, test: 100}}")
    for key in raw:
        if key not in (*MAIN_SPLITS, "seed"):
            raise UserError(f"{where}: splits.{key}: unknown split; valid: train, dev, test, seed")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UserError(f"{where}: splits.seed: expected an integer, got {seed!r}")
    sizes: dict[str, int | float] = {}
    for name in MAIN_SPLITS:
        if name not in raw:
            if partial:
                continue
            raise UserError(f"{where}: splits.{name}: missing (give a count or a fraction)")
        v = raw[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise UserError(f"{where}: splits.{name}: bad split size {v!r} (expected a count or a fraction)")
        if isinstance(v, int) and v < 1:
            raise UserError(f"{where}: splits.{name}: bad split size {v} (a count must be at least 1)")
        if isinstance(v, float) and not 0 < v <= 1:
            raise UserError(f"{where}: splits.{name}: bad split size {v} (a fraction must be in (0, 1])")
        sizes[name] = v
    kinds = {type(v) for v in sizes.values()}
    if len(kinds) > 1:
        raise UserError(f"{where}: splits: bad split sizes {sizes} (use all counts or all fractions)")
    if float in kinds and not partial and sum(sizes.values()) > 1 + 1e-9:
        raise UserError(f"{where}: splits: bad split sizes: fractions {sizes} sum to more than 1")
    return SplitSpec(sizes, seed)


def resolve_sizes(spec: SplitSpec, available: int, where: str, origin: str) -> dict[str, int]:
    """Counts per split for a pool of ``available`` unique examples."""
    if spec.fractional:
        sizes = {k: math.floor(v * available + 1e-9) for k, v in spec.sizes.items()}
        for name, count in sizes.items():
            if count == 0:
                raise UserError(
                    f"{where}: splits.{name}: empty split ({spec.sizes[name]} of {available} examples"
                    f" from {origin} is 0)"
                )
        return sizes
    sizes = {k: int(v) for k, v in spec.sizes.items()}
    need = sum(sizes.values())
    if need > available:
        parts = " + ".join(f"{k} {v}" for k, v in sizes.items())
        raise UserError(
            f"{where}: splits: too few examples: need {need} ({parts}) but {origin} has only {available} unique inputs"
        )
    return sizes


def make_splits(pool: list[Example], sizes: Mapping[str, int], seed: int) -> dict[str, tuple[Example, ...]]:
    """Shuffle ``pool`` with ``seed`` and cut consecutive, disjoint train/dev/test splits."""
    return cut_splits(pool, {name: sizes[name] for name in MAIN_SPLITS}, seed)


def cut_splits(pool: list[Example], sizes: Mapping[str, int], seed: int) -> dict[str, tuple[Example, ...]]:
    """Shuffle ``pool`` with ``seed`` and cut consecutive, disjoint splits, in the order of ``sizes``."""
    order = list(range(len(pool)))
    random.Random(seed).shuffle(order)
    out: dict[str, tuple[Example, ...]] = {}
    start = 0
    for name, k in sizes.items():
        out[name] = tuple(pool[i] for i in order[start : start + k])
        start += k
    return out


def shift_split(
    shift: list[Example], in_distribution: list[Example], size: int | None, where: str, origin: str
) -> tuple[tuple[Example, ...], int]:
    """The shifted test split: drop inputs that occur in distribution, keep source order.

    Returns the split (first ``size`` left, or all) and the number of overlaps dropped."""
    seen = {ex.input for ex in in_distribution}
    kept = [ex for ex in shift if ex.input not in seen]
    dropped = len(shift) - len(kept)
    if not kept:
        raise UserError(
            f"{where}: test_shift: empty split (all {len(shift)} inputs from {origin} also occur in"
            " the in-distribution data)"
        )
    if size is not None:
        if size > len(kept):
            raise UserError(
                f"{where}: test_shift.size: too few examples: need {size} but {origin} has only"
                f" {len(kept)} unique inputs not seen in distribution"
            )
        kept = kept[:size]
    return tuple(kept), dropped
