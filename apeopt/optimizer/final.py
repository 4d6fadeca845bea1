"""The final step: the winner, the human instruction and k-shot prompting scored once on test.

This is the only place that reads the test splits, after selection is over.
"""

from __future__ import annotations

from typing import Any, Sequence

from apeopt.evaluation import EvalResult, evaluate_many
from apeopt.models.base import LMBackend
from apeopt.prompts.demos import sample_demos
from apeopt.prompts.prompt import PromptConfig
from apeopt.scorers import get_scorer, paired_bootstrap
from apeopt.tasks.task import Task

EVAL_SPLITS = ("dev", "test", "test_shift")


def baselines(task: Task, few_shot_k: int, seed: int) -> dict[str, PromptConfig]:
    """The human instruction zero-shot, and with ``few_shot_k`` seeded train demos."""
    human = PromptConfig(instruction=task.instruction, max_tokens=task.max_tokens)
    out = {"human": human}
    if few_shot_k > 0:
        demos = sample_demos(task.split("train"), few_shot_k, seed=seed)
        out["few_shot"] = PromptConfig(instruction=task.instruction, demos=demos, max_tokens=task.max_tokens)
    return out


def score_final(
    task: Task, prompts: dict[str, PromptConfig], backend: LMBackend, dev: Sequence[Any] | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, EvalResult]]]:
    """Each prompt on full dev, test and test_shift (where present) with the task's scorer."""
    scorer = get_scorer(task.scorer)
    splits = {name: task.splits[name] for name in EVAL_SPLITS if task.splits.get(name)}
    if dev is not None:
        splits["dev"] = tuple(dev)
    jobs = [(p, splits[s]) for p in prompts.values() for s in splits]
    results = iter(evaluate_many(jobs, backend, scorer, task.labels))
    scores: dict[str, dict[str, Any]] = {}
    raw: dict[str, dict[str, EvalResult]] = {}
    for name in prompts:
        raw[name] = {s: next(results) for s in splits}
        scores[name] = {s: r.aggregate.as_dict() for s, r in raw[name].items()}
    return scores, raw


def paired(raw: dict[str, dict[str, EvalResult]], a: str, b: str, split: str = "test") -> dict[str, float] | None:
    if a not in raw or b not in raw or split not in raw[a]:
        return None
    return paired_bootstrap(raw[a][split].scores, raw[b][split].scores)
