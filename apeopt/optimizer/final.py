"""The final step: the winner, the human instruction and k-shot prompting scored once on test.

This is the only place that reads the test splits of an optimize run, after selection is over.
"""

from __future__ import annotations

from typing import Any, Sequence

from apeopt.evaluation import EvalResult, evaluate_splits
from apeopt.models.base import LMBackend
from apeopt.prompts import reference
from apeopt.prompts.prompt import PromptConfig
from apeopt.records.scores import Paired, SplitScore
from apeopt.scorers import get_scorer, paired_bootstrap
from apeopt.tasks.task import EVAL_SPLITS, Task


def reference_prompts(task: Task, few_shot_k: int, seed: int) -> dict[str, PromptConfig]:
    """The human instruction zero-shot, and with ``few_shot_k`` seeded train demos."""
    out = {"human": reference.human(task)}
    if few_shot_k > 0:
        out["few_shot"] = reference.k_shot(task, few_shot_k, seed)
    return out


def score_final(
    task: Task, prompts: dict[str, PromptConfig], backend: LMBackend, dev: Sequence[Any] | None = None
) -> tuple[dict[str, dict[str, SplitScore]], dict[str, dict[str, EvalResult]]]:
    """Each prompt on full dev, test and test_shift (where present) with the task's scorer."""
    splits = {name: task.splits[name] for name in EVAL_SPLITS if task.splits.get(name)}
    if dev is not None:
        splits["dev"] = tuple(dev)
    raw = evaluate_splits(prompts, splits, backend, get_scorer(task.scorer), task.labels)
    scores = {name: {s: r.aggregate for s, r in per_split.items()} for name, per_split in raw.items()}
    return scores, raw


def paired(raw: dict[str, dict[str, EvalResult]], a: str, b: str, split: str = "test") -> Paired | None:
    """The paired bootstrap of ``a`` minus ``b`` on ``split`` (None when either was not scored there)."""
    if a not in raw or b not in raw or split not in raw[a]:
        return None
    return Paired.from_dict(paired_bootstrap(raw[a][split].scores, raw[b][split].scores))
