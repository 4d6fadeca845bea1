"""The prompt routes: zero-shot, the human instruction, k-shot demos, and the apeopt search winner.

All use the completion template the tuned models are scored with; k-shot demos are drawn from
train with the split seed (the same demos as ``apeopt optimize``'s few-shot baseline for k=5).
The apeopt route runs the optimizer's search on train/dev only; its winner is scored on test by
the comparison, like every other route.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from apeopt.baselines.base import Method
from apeopt.errors import UserError
from apeopt.prompts.demos import sample_demos
from apeopt.prompts.prompt import PromptConfig
from apeopt.tasks.task import Task


def human_prompt(task: Task) -> PromptConfig:
    """The human route's prompt; tuned models are trained and scored with it too."""
    return PromptConfig(instruction=task.instruction, max_tokens=task.max_tokens)


def route_prompt(method: Method, task: Task, split_seed: int) -> PromptConfig:
    """The prompt of a fixed prompt route (not ``apeopt``, which is searched)."""
    if method.name == "zero-shot":
        return PromptConfig(instruction="", max_tokens=task.max_tokens)
    if method.name == "human":
        return human_prompt(task)
    if method.k > 0:
        demos = sample_demos(task.split("train"), method.k, seed=split_seed)
        return PromptConfig(instruction=task.instruction, demos=demos, max_tokens=task.max_tokens)
    raise ValueError(f"{method.name} is not a fixed prompt route")


def search_apeopt(config: Any, task: Task, backend: Any, folder: Path,
                  progress: Any = lambda msg: None) -> tuple[PromptConfig, dict[str, Any]]:
    """Run the apeopt search (``config``: an OptimizeConfig) into ``folder``; return the winner
    and what it cost. ``backend`` is the (cached) base backend; usage is metered here."""
    from apeopt.models.metered import MeteredBackend
    from apeopt.optimizer.loop import Optimizer
    from apeopt.optimizer.run import versions
    from apeopt.optimizer.runstore import BEST_PROMPT, RunStore
    from apeopt.optimizer.view import View
    from apeopt.prompts.file import PromptFile
    from apeopt.search_spaces import load_space

    started = time.perf_counter()
    space = load_space(config.space)
    store = RunStore.create(folder, folder.parent, folder.name)
    store.write_config({"optimize": config.to_dict(), "space": dict(space.raw), "task": task.name,
                        "versions": versions(), "part_of": "compare"})
    metered = MeteredBackend(backend)
    budget = ", ".join(f"{v} {unit}" for v, unit in ((config.budget_minutes, "min"), (config.budget_calls, "LM calls")) if v)
    progress(f"apeopt: searching ({config.space} space, budget {budget or 'none'})")
    opt = Optimizer(config, task, space, metered, metered, store, View(), storage=config.storage)
    winner = opt.run()
    if winner is None:
        raise UserError("apeopt: no candidate was scored before the budget ran out; raise --apeopt-minutes or --apeopt-calls")
    selection = {"metric": opt.scorer.name, "score": winner.value, "n": len(winner.scores)}
    PromptFile(prompt=winner.prompt, task=task.name, model=config.model, split_seed=config.split_seed,
               data_fingerprint=task.fingerprint(), scores={"dev_selection": selection}).save(store.path(BEST_PROMPT))
    info = {
        "train_seconds": round(time.perf_counter() - started, 2),
        "lm_calls": metered.usage.calls,
        "lm_tokens": metered.usage.tokens,
        "dev_selection": selection,
        "dev_examples": len(opt.dev),
        "candidates": len(opt.pool),
        "trials": len(opt.entries),
        "stop_reason": opt.stop_reason or "rounds finished",
        "run_dir": str(store.root),
    }
    progress(f"apeopt: winner dev {selection['metric']} {winner.value:.3f}: {winner.prompt.instruction[:70]!r}"
             f" + {len(winner.prompt.demos)} demos")
    return winner.prompt, info


def load_winner(path: Path, task: Task) -> tuple[PromptConfig, dict[str, Any]]:
    """A winner from an earlier ``apeopt optimize`` (its best_prompt.json) instead of a new search."""
    from apeopt.prompts.file import load_prompt_file

    pf = load_prompt_file(path)
    if pf.task != task.name:
        raise UserError(f"--apeopt-prompt {str(path)!r} was made for task {pf.task!r}, not {task.name!r}")
    if pf.data_fingerprint and pf.data_fingerprint != task.fingerprint():
        raise UserError(f"--apeopt-prompt {str(path)!r} was selected on other train/dev data (split seed {pf.split_seed}?)")
    return pf.prompt, {"train_seconds": 0.0, "lm_calls": 0, "lm_tokens": 0, "prompt_file": str(path),
                       "dev_selection": dict(pf.scores).get("dev_selection") or {}}
