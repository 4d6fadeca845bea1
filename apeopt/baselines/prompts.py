"""The prompt routes: zero-shot, the human instruction, k-shot demos, and the apeopt search winner.

The fixed routes are the reference prompts of :mod:`apeopt.prompts.reference` (k-shot demos drawn
from train with the split seed: the same demos as ``apeopt optimize``'s few-shot baseline for k=5).
The apeopt route runs :func:`apeopt.optimizer.run.optimize` on train/dev only; its winner is scored
on test by the comparison, like every other route.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from apeopt.baselines.base import Method
from apeopt.errors import UserError
from apeopt.prompts import reference
from apeopt.prompts.prompt import PromptConfig
from apeopt.tasks.task import Task


def route_prompt(method: Method, task: Task, split_seed: int) -> PromptConfig:
    """The prompt of a fixed prompt route (not ``apeopt``, which is searched)."""
    if method.name == "zero-shot":
        return reference.zero_shot(task)
    if method.name == "human":
        return reference.human(task)
    if method.k > 0:
        return reference.k_shot(task, method.k, split_seed)
    raise ValueError(f"{method.name} is not a fixed prompt route")


def search_apeopt(
    config: Any, task: Task, backend: Any, folder: Path, progress: Any = lambda msg: None
) -> tuple[PromptConfig, dict[str, Any]]:
    """Run the apeopt search (``config``: an OptimizeConfig) into ``folder``; return the winner
    and what it cost. ``backend`` is the (cached) base backend; usage is metered here."""
    from apeopt.models.metered import MeteredBackend
    from apeopt.optimizer.run import NoWinnerError, optimize
    from apeopt.runs import RunStore
    from apeopt.optimizer.progress import View
    from apeopt.search_spaces import load_space

    started = time.perf_counter()
    space = load_space(config.space)
    store = RunStore.create(folder, folder.parent, folder.name)
    metered = MeteredBackend(backend)
    budget = ", ".join(
        f"{v} {unit}" for v, unit in ((config.budget_minutes, "min"), (config.budget_calls, "LM calls")) if v
    )
    progress(f"apeopt: searching ({config.space} space, budget {budget or 'none'})")
    try:
        summary = optimize(config, task, space, metered, metered, store, View(), final=False)
    except NoWinnerError:
        raise UserError(
            "apeopt: no candidate was scored before the budget ran out; raise --apeopt-minutes or --apeopt-calls"
        ) from None
    winner = summary.winner
    selection = winner.dev_selection
    info = {
        "train_seconds": round(time.perf_counter() - started, 2),
        "lm_calls": summary.search.lm_calls,
        "lm_tokens": summary.search.tokens,
        "dev_selection": selection.to_dict(),
        "dev_examples": len(config.dev_split(task)),
        "candidates": summary.candidates,
        "trials": summary.trials,
        "stop_reason": summary.stop_reason,
        "run_dir": str(store.root),
    }
    progress(
        f"apeopt: winner dev {selection.metric} {selection.score:.3f}: {winner.prompt.instruction[:70]!r}"
        f" + {len(winner.prompt.demos)} demos"
    )
    return winner.prompt, info


def load_winner(path: Path, task: Task) -> tuple[PromptConfig, dict[str, Any]]:
    """A winner from an earlier ``apeopt optimize`` (its best_prompt.json) instead of a new search."""
    from apeopt.prompts.file import load_prompt_file

    pf = load_prompt_file(path)
    if pf.task != task.name:
        raise UserError(f"--apeopt-prompt {str(path)!r} was made for task {pf.task!r}, not {task.name!r}")
    if pf.data_fingerprint and pf.data_fingerprint != task.fingerprint():
        raise UserError(
            f"--apeopt-prompt {str(path)!r} was selected on other train/dev data (split seed {pf.split_seed}?)"
        )
    return pf.prompt, {
        "train_seconds": 0.0,
        "lm_calls": 0,
        "lm_tokens": 0,
        "prompt_file": str(path),
        "dev_selection": dict(pf.scores).get("dev_selection") or {},
    }
