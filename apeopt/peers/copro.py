"""DSPy COPRO on apeopt's backend, sized to an LM-call budget.

COPRO proposes ``breadth`` instructions per round (``depth`` rounds) with the proposer LM and scores
each on the set it is compiled with, here the dev split (it has no separate train/val). Its cost is
fixed by its settings: about ``depth * breadth * (len(dev) + 1)`` calls, so ``depth`` is chosen from
the budget (``breadth`` is DSPy's default, 10, shrunk only if one round would not fit).
"""

from __future__ import annotations

from typing import Any, Sequence

from apeopt.models.base import LMBackend
from apeopt.peers.program import PeerRow, TaskProgram, run_peer, to_dspy
from apeopt.tasks.task import Example, Task


def plan_copro(budget_calls: int, n_dev: int, breadth: int = 10) -> tuple[int, int]:
    """(breadth, depth) whose planned calls fit ``budget_calls`` (at least one round of 2 candidates)."""
    per_candidate = n_dev + 1  # its dev evaluation + its share of the proposal calls
    breadth = max(2, min(breadth, budget_calls // per_candidate))
    depth = max(1, budget_calls // (breadth * per_candidate))
    return breadth, depth


def run_copro(
    task: Task,
    backend: LMBackend,
    budget_calls: int,
    dev: Sequence[Example],
    test: Sequence[Example],
    seed: int = 0,
    breadth: int = 10,
    init_temperature: float = 1.4,
    num_threads: int = 8,
    batch: bool = True,
    proposer: LMBackend | None = None,
) -> PeerRow:
    """Optimize the task's ``dspy.Predict`` with COPRO on dev, then score the result on ``test``."""
    from dspy.teleprompt import COPRO

    breadth, depth = plan_copro(budget_calls, len(dev), breadth)

    def compile_fn(bridge: Any, metric: Any) -> TaskProgram:
        opt = COPRO(
            prompt_model=bridge.prompt_lm,
            metric=metric,
            breadth=breadth,
            depth=depth,
            init_temperature=init_temperature,
        )
        return opt.compile(
            TaskProgram(task.instruction),
            trainset=to_dspy(dev),
            eval_kwargs={"num_threads": num_threads, "display_progress": False, "display_table": 0},
        )

    settings = {"breadth": breadth, "depth": depth, "init_temperature": init_temperature, "compiled_on": "dev"}
    return run_peer(
        "copro",
        task,
        backend,
        dev,
        test,
        compile_fn,
        settings,
        seed=seed,
        num_threads=num_threads,
        batch=batch,
        proposer=proposer,
    )
