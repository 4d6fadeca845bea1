"""`--dry-run`: the planned number of LM calls and tokens, before any is spent.

An estimate: proposal calls (one per sampled candidate) are exact; scoring assumes the pruner keeps 1/eta per rung; tokens
are approximated as characters / 4 of the rendered prompts.
"""

from __future__ import annotations

import math
from typing import Any

from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.pruner import rung_sizes
from apeopt.prompts.demos import sample_demos
from apeopt.prompts.prompt import PromptConfig
from apeopt.search_spaces import SearchSpace
from apeopt.tasks.task import Task


def halving_calls(n_trials: int, sizes: list[int], eta: int) -> int:
    calls, prev, active = 0, 0, n_trials
    for size in sizes:
        calls += active * (size - prev)
        prev, active = size, max(1, math.ceil(active / eta))
    return calls


def estimate(config: OptimizeConfig, task: Task, space: SearchSpace) -> dict[str, Any]:
    dev = task.split("dev")[: config.dev_limit] if config.dev_limit else task.split("dev")
    sizes = rung_sizes(len(dev), min(config.minibatch, len(dev)), config.eta)
    fmt = space.defaults()
    prompt = PromptConfig(task.instruction, demos=sample_demos(task.split("train"), fmt.demos, 0), max_tokens=task.max_tokens)
    prompt_tokens = len(str(prompt.render(dev[0].input))) // 4
    per_call = prompt_tokens + (task.max_tokens if space.scoring == "generate" else 4)
    first = 1 + len(config.proposers) * config.subsamples * config.per_subsample
    later = config.resample_top * config.per_subsample + max(1, config.subsamples // 2) * config.per_subsample
    per_round_format = space.format_trials if space.searchable else 0
    proposal_requests = len(config.proposers) * config.subsamples + (config.rounds - 1) * (config.resample_top + max(1, config.subsamples // 2))
    proposal_calls = proposal_requests * config.per_subsample  # each request samples per_subsample candidates
    scoring = halving_calls(first, sizes, config.eta) + (config.rounds - 1) * halving_calls(later, sizes, config.eta)
    scoring += config.rounds * halving_calls(per_round_format, sizes, config.eta) if per_round_format else 0
    final = (3 if config.few_shot_k else 2) * (len(dev) + len(task.splits.get("test", ())) + len(task.splits.get("test_shift", ())))
    calls = proposal_calls + scoring + final
    tokens = proposal_requests * 300 + (scoring + final) * per_call
    return {
        "task": task.name,
        "space": space.name,
        "rungs": sizes,
        "rounds_max": config.rounds,
        "candidates_round0": first,
        "proposal_calls": proposal_calls,
        "scoring_calls_est": scoring,
        "final_calls": final,
        "lm_calls_est": calls,
        "tokens_est": tokens,
        "budget": {"calls": config.budget_calls, "tokens": config.budget_tokens, "minutes": config.budget_minutes},
        "note": "upper-level estimate: pruning keeps 1/eta per rung, votes/CoT multiply calls; tokens ~ chars/4",
    }
