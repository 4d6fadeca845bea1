"""DSPy MIPROv2 on apeopt's backend, zero-shot (instructions only) or with demos, sized to an LM-call budget.

MIPROv2 bootstraps demo sets on train (sequential program calls until enough pass the metric),
proposes instructions with a grounded proposer (dataset summary, program summary, tips), then runs
Optuna TPE trials, each scoring a (instruction, demo set) combination on the val set (here dev, no
minibatches). Its first two steps have no fixed cost, so :class:`BudgetedMIPROv2` (1) caps bootstrapping at
``bootstrap_share`` of the budget: each demo set that calls the LM may try at most
``budget * share / sets`` train examples (a seeded sample of train; BootstrapFewShot stops earlier
once it has its demos, but a model that never passes the metric would otherwise scan all of train
for every set), and (2) sets the number of trials when step 3 starts, from the calls left:
``(budget - spent) // len(dev) - 1`` (at least 1).
The number of candidates follows DSPy's ``auto`` rule of thumb (instructions N, demo sets N, or N/2
instructions with demos) with N chosen so that ~1.5 N trials fit the budget.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

from dspy.teleprompt import MIPROv2

from apeopt.models.base import LMBackend
from apeopt.peers.program import PeerRow, TaskProgram, run_peer, to_dspy
from apeopt.tasks.task import Example, Task


class BudgetedMIPROv2(MIPROv2):
    """MIPROv2 whose trial count is set from an LM-call budget when the trials start."""

    def __init__(
        self,
        *args: Any,
        budget_calls: int,
        usage: Any,
        num_fewshot_candidates: int | None = None,
        bootstrap_share: float = 1 / 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.budget_calls, self.usage, self.bootstrap_share = budget_calls, usage, bootstrap_share
        self.bootstrap_pool: int | None = None
        if num_fewshot_candidates is not None:
            self.num_fewshot_candidates = num_fewshot_candidates
        self.planned_trials: int | None = None
        self.calls_before_trials: int | None = None

    def _bootstrap_fewshot_examples(self, program: Any, trainset: list, seed: int, teacher: Any, **kwargs: Any) -> Any:
        sets = kwargs["num_fewshot_candidates"]
        lm_sets = max(
            1, sets - (2 if kwargs["max_labeled_demos"] > 0 else 1)
        )  # the zero-shot (and labeled) sets call no LM
        pool = max(kwargs["max_bootstrapped_demos"] + 1, int(self.budget_calls * self.bootstrap_share / lm_sets))
        if pool < len(trainset):
            trainset = random.Random(seed).sample(list(trainset), pool)
        self.bootstrap_pool = min(pool, len(trainset))
        return super()._bootstrap_fewshot_examples(program, trainset, seed, teacher, **kwargs)

    def _optimize_prompt_parameters(
        self,
        program: Any,
        instruction_candidates: Any,
        demo_candidates: Any,
        evaluate: Any,
        valset: list,
        num_trials: int,
        *args: Any,
    ) -> Any:
        self.calls_before_trials = self.usage.calls
        left = self.budget_calls - self.usage.calls
        self.planned_trials = max(1, left // max(1, len(valset)) - 1)  # minus the default program's evaluation
        return super()._optimize_prompt_parameters(
            program, instruction_candidates, demo_candidates, evaluate, valset, self.planned_trials, *args
        )


def plan_mipro(budget_calls: int, n_dev: int, demos: bool) -> dict[str, int]:
    """Candidate counts for a budget: N with ~1.5 N full-dev trials in half the budget, 3 <= N <= 12."""
    n = max(3, min(12, int(budget_calls / 2 / (1.5 * max(1, n_dev)))))
    if demos:
        return {"num_instruct_candidates": max(2, n // 2), "num_fewshot_candidates": n}
    return {"num_instruct_candidates": n, "num_fewshot_candidates": min(n, 4)}


def run_mipro(
    task: Task,
    backend: LMBackend,
    budget_calls: int,
    train: Sequence[Example],
    dev: Sequence[Example],
    test: Sequence[Example],
    demos: bool = False,
    seed: int = 0,
    num_threads: int = 8,
    max_demos: int = 4,
    batch: bool = True,
    proposer: LMBackend | None = None,
) -> PeerRow:
    """Optimize the task's ``dspy.Predict`` with MIPROv2 (train for demos, dev for trials), then score on ``test``."""
    plan = plan_mipro(budget_calls, len(dev), demos)
    k = max_demos if demos else 0
    info: dict[str, Any] = {}

    def compile_fn(bridge: Any, metric: Any) -> TaskProgram:
        opt = BudgetedMIPROv2(
            metric=metric,
            prompt_model=bridge.prompt_lm,
            task_model=bridge.task_lm,
            auto=None,
            num_candidates=plan["num_instruct_candidates"],
            num_fewshot_candidates=plan["num_fewshot_candidates"],
            max_bootstrapped_demos=k,
            max_labeled_demos=k,
            num_threads=num_threads,
            seed=seed + 9,
            max_errors=10**6,
            verbose=False,
            budget_calls=budget_calls,
            usage=metric.usage,
        )
        best = opt.compile(
            TaskProgram(task.instruction), trainset=to_dspy(train), valset=to_dspy(dev), num_trials=1, minibatch=False
        )
        info.update(
            trials=opt.planned_trials, calls_before_trials=opt.calls_before_trials, bootstrap_pool=opt.bootstrap_pool
        )
        return best

    method = "mipro_demos" if demos else "mipro_0shot"
    out = run_peer(
        method,
        task,
        backend,
        dev,
        test,
        compile_fn,
        {**plan, "max_demos": k, "minibatch": False},
        seed=seed,
        num_threads=num_threads,
        batch=batch,
        proposer=proposer,
    )
    out["settings"].update(info)
    return out
