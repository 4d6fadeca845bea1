"""`--dry-run`: the LM calls (and tokens) a run is expected to spend, and at most, before any is spent.

Calls are counted with the rule the search spends them by (``evaluation.request_calls``, i.e.
``GenerateRequest.calls``: votes and both CoT stages; one call per target for likelihood). Both
numbers assume every proposal is a new candidate and every round runs; proposal calls of round 0
are exact. They differ in two places:

- halving: the estimate lets each batch keep ``ceil(n/eta)`` of its ``n`` trials per rung; the
  maximum uses the pruner's own bound, ``ceil(N/eta)`` of the ``N`` trials that ever reached the
  rung (a batch better than all before it may keep that many);
- format: format trials, instructions after round 0 and the final winner cost the mean over the
  space's votes x CoT choices in the estimate, the costliest one in the maximum.

Under a call budget the search part of both is capped at the budget. Tokens ~ characters / 4.
Under ``--max-prompt-tokens`` the ladder rungs and formats whose prompt is longer (the run's rule,
:mod:`.cost`, on that token estimate) are left out, as the run leaves them unscored.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Sequence

from apeopt.errors import UserError
from apeopt.evaluation import request_calls
from apeopt.models.base import estimate_tokens
from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.cost import CostMeter
from apeopt.optimizer.candidates.entries import prompt_for
from apeopt.optimizer.final import reference_prompts
from apeopt.optimizer.selection.finishing import FINISH_TOP
from apeopt.optimizer.demos.ladder import ladder
from apeopt.optimizer.proposers.registry import PROPOSERS
from apeopt.optimizer.proposers.base import ProposalContext
from apeopt.optimizer.scheduling.pruner import rung_sizes
from apeopt.optimizer.proposers.induction import later_proposers, round0_proposers
from apeopt.prompts.prompt import PromptConfig
from apeopt.scorers import get_scorer
from apeopt.search_spaces import Format, SearchSpace
from apeopt.tasks.task import EVAL_SPLITS, Example, Task

PROPOSAL_TOKENS = 300


class _HalvingCost:
    """LM calls successive halving spends on batches of trials, rung by rung (``worst``: the bound)."""

    def __init__(self, eta: int, rungs: int, worst: bool) -> None:
        self.eta, self.worst = eta, worst
        self.reached = [0] * rungs  # trials that have reported each rung so far

    def batch(self, trials: int, slice_calls: Sequence[float]) -> float:
        """Calls of one batch of ``trials``; ``slice_calls[i]``: one trial's calls on rung i's new slice."""
        calls, active = 0.0, trials
        for i, cost in enumerate(slice_calls):
            if active == 0:
                break
            calls += active * cost
            self.reached[i] += active
            active = min(active, max(1, math.ceil((self.reached[i] if self.worst else active) / self.eta)))
        return calls


def _format_prompt(task: Task, instruction: str, fmt: Format) -> PromptConfig:
    """The prompt ``instruction`` renders to in ``fmt`` over the task's train split."""
    return prompt_for(instruction, fmt, task.split("train"), task.max_tokens)


def _within_limit(meter: CostMeter, task: Task, formats: list[Format], required: bool) -> list[Format]:
    """The formats a run would score under ``--max-prompt-tokens`` (the run's own rule, :class:`CostMeter`,
    with tokens estimated). None fitting: for the starting prompts (``required``) the run's error, else
    the shortest one stands for the rest."""
    if meter.limit is None:
        return formats
    tokens = [meter.prompt_tokens(_format_prompt(task, task.instruction, f)) for f in formats]
    kept = [f for f, t in zip(formats, tokens) if t <= meter.limit]
    if not kept and not required:
        return [formats[tokens.index(min(tokens))]]
    if not kept:
        raise UserError(
            f"--max-prompt-tokens {meter.limit}: even the shortest starting prompt takes "
            f"~{min(tokens):.0f} tokens per call on dev (characters / 4); raise the limit"
        )
    return kept


def _slice_calls(task: Task, fmt: Format, dev: Sequence[Example], sizes: Sequence[int], likelihood: bool) -> list[int]:
    prompt = _format_prompt(task, task.instruction, fmt)
    return [request_calls(prompt, dev[a:b], likelihood) for a, b in zip([0, *sizes[:-1]], sizes)]


def _proposals(config: OptimizeConfig, task: Task) -> tuple[int, int, int, int]:
    """Calls and requests of round 0's proposers, and of each later round's at most (``later_proposers``)."""
    ctx = ProposalContext(
        train=task.split("train"),
        n=config.per_subsample,
        subsamples=config.subsamples,
        k_demos=config.proposal_demos,
        temperature=config.proposal_temperature,
        seed=config.seed * 100,
    )
    ctx.extra["induce_samples"] = config.induce_samples
    has = task.has_instruction
    first = [r for name in round0_proposers(config.proposers, has) for r, _ in PROPOSERS.get(name)().requests(ctx)]
    later = sum(
        PROPOSERS.get(name)().planned_requests(config.resample_top, config.subsamples)
        for name in later_proposers(config.later_proposers, has)
    )
    return sum(r.calls for r in first), len(first), later * config.per_subsample, later


def _search(
    config: OptimizeConfig,
    space: SearchSpace,
    ladder_costs: Sequence[Sequence[int]],
    start: Sequence[int],
    formats: Sequence[float],
    first_calls: int,
    later_calls: int,
    worst: bool,
) -> float:
    """Scoring calls of the whole search, phase by phase as ``optimizer.loop`` runs them: the incumbent
    ladder, then per round the demo sets, the format trials and the new instructions, each phase
    followed by finishing up to ``FINISH_TOP`` leaders on the rest of dev."""
    halving = _HalvingCost(config.eta, len(start), worst)
    finish = FINISH_TOP * sum(start[1:])  # a leader pruned after the first rung, finished on the rest of dev
    calls = sum(halving.batch(1, c) for c in ladder_costs) if worst else halving.batch(len(ladder_costs), start)
    calls += finish
    demo_trials = space.demo_trials if space.searches_demos else 0
    format_trials = space.format_trials if space.format_dims else 0
    for rnd in range(config.rounds):
        for trials, costs in (
            (demo_trials, start),
            (format_trials, formats),
            (first_calls if rnd == 0 else later_calls, start),
        ):
            if trials:
                calls += halving.batch(trials, costs) + finish
    return calls


def _final(config: OptimizeConfig, task: Task, winner: Sequence[Format], dev: Sequence[Example]) -> float:
    """The winner (mean over ``winner`` formats) and the baselines on dev, test and test_shift, once."""
    splits = [tuple(dev) if s == "dev" else task.splits[s] for s in EVAL_SPLITS if task.splits.get(s)]
    likelihood = get_scorer(task.scorer).needs_logprob
    fixed = reference_prompts(task, config.few_shot_k, config.split_seed).values()
    won = sum(
        request_calls(_format_prompt(task, task.instruction, f), exs, likelihood) for f in winner for exs in splits
    )
    return won / len(winner) + sum(request_calls(p, exs, likelihood) for p in fixed for exs in splits)


def estimate(config: OptimizeConfig, task: Task, space: SearchSpace) -> dict[str, Any]:
    """The expected and the maximum LM calls and tokens of a run (see the module docstring)."""
    dev = config.dev_split(task)
    sizes = rung_sizes(len(dev), min(config.minibatch, len(dev)), config.eta)
    likelihood = space.scoring == "likelihood"
    start = _slice_calls(task, space.defaults(), dev, sizes, likelihood)
    all_rungs = (
        [fmt for _, fmt in ladder(space.defaults(), task.split("train"), task.instruction, config.split_seed)]
        if space.incumbents == "ladder" and space.searches_demos
        else [space.defaults()]
    )
    meter = CostMeter(SimpleNamespace(count_tokens=estimate_tokens), [x.input for x in dev], config.max_prompt_tokens)
    ladder_formats = _within_limit(meter, task, all_rungs, required=True)
    formats = _within_limit(meter, task, space.cost_formats(), required=False)
    ladder_costs = [_slice_calls(task, f, dev, sizes, likelihood) for f in ladder_formats]
    per_format = [_slice_calls(task, f, dev, sizes, likelihood) for f in formats]
    mean = [sum(c) / len(per_format) for c in zip(*per_format)]
    costliest = max(per_format, key=sum)
    first_calls, first_requests, later_calls, later_requests = _proposals(config, task)
    proposal_calls = first_calls + (config.rounds - 1) * later_calls
    scoring = _search(config, space, ladder_costs, start, mean, first_calls, later_calls, worst=False)
    scoring_max = _search(config, space, ladder_costs, start, costliest, first_calls, later_calls, worst=True)
    cap = config.budget_calls if config.budget_calls is not None else math.inf
    search, search_max = min(proposal_calls + scoring, cap), min(proposal_calls + scoring_max, cap)
    final = _final(config, task, formats, dev)
    final_max = _final(config, task, [max(formats, key=lambda f: f.votes * (2 if f.cot else 1))], dev)
    rendered = _format_prompt(task, task.instruction, space.defaults()).render(dev[0].input)
    per_call = len(str(rendered)) // 4 + (task.max_tokens if space.scoring == "generate" else 4)
    proposal_requests = first_requests + (config.rounds - 1) * later_requests
    return {
        "task": task.name,
        "human_instruction": task.instruction or None,  # None: no human instruction given, the search induces one
        "space": space.name,
        "rungs": sizes,
        "rounds_max": config.rounds,
        "candidates_round0": len(ladder_formats) + first_calls,
        "proposal_calls": proposal_calls,
        "scoring_calls_est": math.ceil(scoring),
        "final_calls": math.ceil(final),
        "lm_calls_est": math.ceil(search + final),
        "lm_calls_max": math.ceil(search_max + final_max),
        "tokens_est": math.ceil(
            proposal_requests * PROPOSAL_TOKENS + (max(0.0, search - proposal_calls) + final) * per_call
        ),
        "budget": {"calls": config.budget_calls, "tokens": config.budget_tokens, "minutes": config.budget_minutes},
        "max_prompt_tokens": config.max_prompt_tokens,
        "left_out_over_limit": {
            "ladder_rungs": len(all_rungs) - len(ladder_formats),
            "formats": len(space.cost_formats()) - len(formats),
        },
        "note": "every proposal new, every round run; estimate: each batch halved on its own, the mean votes/CoT cost; "
        "max: the pruner's bound and the costliest format; tokens ~ chars/4",
    }
