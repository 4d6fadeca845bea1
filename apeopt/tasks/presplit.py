"""Pre-split data: one source per split (``source: {train: …, dev: …, test: …}``), or a dataset
whose own train/validation/test become the task's splits.

Nothing is reshuffled across splits: a given split keeps its own examples (a seeded subsample in
source order when its size caps it). Overlaps (the same input in two given splits) are dropped
from the later split (train before dev before test) and counted. A split not given (dev, test)
is a seeded cut of ``source.train``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from apeopt.errors import UserError
from apeopt.registry import did_you_mean
from apeopt.tasks.examples import FieldSpec, dedupe, record_examples
from apeopt.tasks.provenance import CUT, GIVEN, SplitOrigin
from apeopt.tasks.sources import SourceData, check_source_spec, hf_split_names, load_source
from apeopt.tasks.splits import MAIN_SPLITS, SplitSpec, cut_splits
from apeopt.tasks.task import Example

# a dataset's own split names -> the task's splits
DATASET_SPLITS = {"train": "train", "validation": "dev", "valid": "dev", "val": "dev", "dev": "dev", "test": "test"}
CUT_DEFAULT = 0.25  # share of source.train cut for each split not given, when `splits` sets no sizes


@dataclass(frozen=True)
class SourcePlan:
    """Where a task's examples come from: one pool to cut (``pool``) or one source per split (``given``)."""

    pool: dict[str, Any] | None = None
    given: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def per_split(self) -> bool:
        return self.pool is None


@dataclass(frozen=True)
class GivenSplits:
    splits: dict[str, tuple[Example, ...]]
    origins: dict[str, SplitOrigin]
    labels: tuple[str, ...] | None
    in_distribution: list[Example]  # every example of every given source (what test_shift must avoid)
    data: dict[str, SourceData]


def parse_plan(raw: Any, where: str) -> SourcePlan:
    """Validate the YAML ``source``: one source mapping, or a mapping of split name -> source."""
    if isinstance(raw, dict) and "type" in raw and any(k in raw for k in MAIN_SPLITS):
        raise UserError(
            f"{where}: source: give either one source (with type) or one source per split (train, dev, test), not both"
        )
    if not isinstance(raw, dict) or "type" in raw or not any(k in raw for k in (*MAIN_SPLITS, "validation")):
        return SourcePlan(pool=check_source_spec(raw, where, "source"))
    for name in raw:
        if name == "test_shift":
            raise UserError(
                f"{where}: source.test_shift: a shifted test split is the top-level field test_shift: {{source: …}}"
            )
        if name not in MAIN_SPLITS:
            hint = " did you mean 'dev'?" if name in DATASET_SPLITS else did_you_mean(name, MAIN_SPLITS)
            raise UserError(f"{where}: source.{name}: unknown split;{hint} valid: {', '.join(MAIN_SPLITS)}")
    if "train" not in raw:
        raise UserError(f"{where}: source.train: missing (a split not given is cut from source.train)")
    return SourcePlan(given={n: check_source_spec(raw[n], where, f"source.{n}") for n in MAIN_SPLITS if n in raw})


def expand_dataset_splits(plan: SourcePlan, yaml_path: Path) -> SourcePlan:
    """A dataset source without a named split: its own train/validation/test become the task's
    splits (a train-only dataset stays one pool to cut); other split names stop with an error."""
    pool = plan.pool
    if pool is None or pool["type"] != "hf" or pool.get("split"):
        return plan
    names = hf_split_names(pool, yaml_path, "source")
    if names is None or names == ["train"]:
        return plan
    where = f"{yaml_path}: source.dataset: {pool['dataset']!r} has splits {', '.join(names)}"
    mapped: dict[str, str] = {}
    for name in names:
        ours = DATASET_SPLITS.get(name)
        if ours is None or ours in mapped:
            raise UserError(
                f"{where}; name the one for each task split (source: {{train: {{type: hf, "
                f"dataset: …, split: …}}, dev: …, test: …}})"
            )
        mapped[ours] = name
    if "train" not in mapped:
        raise UserError(f"{where} but no train split; name the splits to use (source: {{train: …, dev: …, test: …}})")
    return SourcePlan(given={n: {**pool, "split": mapped[n]} for n in MAIN_SPLITS if n in mapped})


def load_given(
    plan: SourcePlan, yaml_path: Path, fields: FieldSpec, labels: tuple[str, ...] | None, spec: SplitSpec, seed: int
) -> GivenSplits:
    """Read every given split, drop overlaps, cap sizes and cut the splits not given from train."""
    where = str(yaml_path)
    data = {n: load_source(s, yaml_path, f"source.{n}") for n, s in plan.given.items()}
    labels = labels if labels is not None else data["train"].labels
    examples: dict[str, list[Example]] = {}
    dups: dict[str, int] = {}
    for name, d in data.items():
        examples[name], dups[name] = dedupe(record_examples(d, fields, labels), merge_targets=labels is None)
    overlaps = _drop_overlaps(examples, data, where)
    in_distribution = [ex for name in examples for ex in examples[name]]

    missing = [n for n in MAIN_SPLITS if n not in data]
    splits: dict[str, tuple[Example, ...]] = {}
    origins: dict[str, SplitOrigin] = {}
    train = examples["train"]
    if missing:
        counts = _pool_counts(spec, missing, len(train), where, data["train"].origin)
        for name, part in cut_splits(train, counts, seed).items():
            splits[name] = part
            origins[name] = SplitOrigin(
                name,
                data["train"].label,
                GIVEN if name == "train" else CUT,
                len(train),
                len(part),
                dups["train"] if name == "train" else 0,
            )
    for name in MAIN_SPLITS:
        if name in data and name not in splits:
            splits[name] = _cap(examples[name], spec.sizes.get(name), seed, name, where, data[name].origin)
            origins[name] = SplitOrigin(
                name, data[name].label, GIVEN, len(examples[name]), len(splits[name]), dups[name], overlaps[name]
            )
    return GivenSplits(
        {n: splits[n] for n in MAIN_SPLITS}, {n: origins[n] for n in MAIN_SPLITS}, labels, in_distribution, data
    )


def _drop_overlaps(examples: dict[str, list[Example]], data: Mapping[str, SourceData], where: str) -> dict[str, int]:
    """Drop from each split the inputs an earlier given split has; the count per split."""
    seen: set[str] = set()
    earlier: list[str] = []
    dropped: dict[str, int] = {}
    for name in MAIN_SPLITS:
        if name not in examples:
            continue
        before = examples[name]
        kept = [ex for ex in before if ex.input not in seen]
        if not kept:
            raise UserError(
                f"{where}: source.{name}: all {len(before)} inputs of {data[name].origin} also occur"
                f" in {' or '.join(f'source.{e}' for e in earlier)}: nothing left"
            )
        dropped[name] = len(before) - len(kept)
        examples[name] = kept
        seen.update(ex.input for ex in kept)
        earlier.append(name)
    return dropped


def _count(value: int | float, available: int) -> int:
    return math.floor(value * available + 1e-9) if isinstance(value, float) else int(value)


def _pool_counts(spec: SplitSpec, missing: list[str], available: int, where: str, origin: str) -> dict[str, int]:
    """Sizes of train and of the splits cut from it (train first, like a one-pool task)."""
    cut: dict[str, int] = {}
    for name in missing:
        if not spec.sizes:
            value: int | float = CUT_DEFAULT
        elif name in spec.sizes:
            value = spec.sizes[name]
        else:
            raise UserError(
                f"{where}: splits.{name}: missing ({name} is cut from source.train: give a count or a fraction)"
            )
        cut[name] = _count(value, available)
        if cut[name] < 1:
            raise UserError(f"{where}: splits.{name}: empty split ({value} of {available} examples from {origin} is 0)")
    rest = available - sum(cut.values())
    if rest < 1:
        parts = " + ".join(f"{k} {v}" for k, v in cut.items())
        raise UserError(
            f"{where}: splits: too few examples: {parts} cut from {origin} leave no train example"
            f" ({available} unique inputs)"
        )
    train = rest if "train" not in spec.sizes else max(1, min(_count(spec.sizes["train"], available), rest))
    return {"train": train, **cut}


def _cap(
    examples: list[Example], size: int | float | None, seed: int, name: str, where: str, origin: str
) -> tuple[Example, ...]:
    """All of a given split, or a seeded subsample of ``size`` (a count or a fraction) in source order."""
    if size is None:
        return tuple(examples)
    k = _count(size, len(examples))
    if k < 1:
        raise UserError(f"{where}: splits.{name}: empty split ({size} of {len(examples)} examples from {origin} is 0)")
    if k >= len(examples):
        return tuple(examples)
    keep = sorted(random.Random(f"{seed}:{name}").sample(range(len(examples)), k))
    return tuple(examples[i] for i in keep)
