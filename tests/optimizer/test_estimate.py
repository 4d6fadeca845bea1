"""The --dry-run estimate against what a toy search on the rule-based fake LM actually spends."""

from __future__ import annotations

import pytest
from fakes import FakeBackend
from toy import toy_task

from apeopt.evaluation import evaluate_many, request_calls
from apeopt.models.metered import MeteredBackend
from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.estimate import estimate
from apeopt.prompts.prompt import PromptConfig
from apeopt.scorers import get_scorer
from apeopt.search_spaces import load_space

# How far below the estimate a run may stay: the fake LM proposes only a few distinct instructions
# and its searches stop early (patience), while the estimate assumes every proposal is new and every
# round runs; the full space's votes x CoT choices widen the gap further.
FACTOR = {"instruction": 4, "fewshot": 4, "full": 6}


@pytest.mark.parametrize("space", sorted(FACTOR))
def test_estimate_bounds_the_calls_a_toy_search_spends(run, space):
    summary, _, _ = run(space=space)
    plan = estimate(OptimizeConfig(task="toy", space=space, budget_minutes=None), toy_task(), load_space(space))
    assert summary.lm_calls <= plan["lm_calls_est"] <= plan["lm_calls_max"]
    assert summary.lm_calls >= plan["lm_calls_est"] / FACTOR[space]
    assert summary.search.lm_calls <= plan["lm_calls_est"] - plan["final_calls"]


def test_estimate_caps_the_search_at_the_call_budget(run):
    summary, _, _ = run(space="full", budget_calls=400)
    plan = estimate(OptimizeConfig(task="toy", space="full", budget_minutes=None, budget_calls=400), toy_task(), load_space("full"))
    assert plan["lm_calls_est"] - plan["final_calls"] == 400  # the search part, capped (uncapped it is far more)
    assert summary.search.lm_calls <= 400 and summary.lm_calls <= plan["lm_calls_est"] <= plan["lm_calls_max"]


def test_votes_and_cot_cost_what_the_requests_cost():
    """request_calls is the cost evaluate_many actually spends: votes samples, plus one answer per CoT sample."""
    task = toy_task()
    dev = task.split("dev")[:7]
    scorer = get_scorer("exact_match")
    for votes, cot in ((1, ""), (3, ""), (1, "Think."), (5, "Think.")):
        backend = MeteredBackend(FakeBackend(lambda x: x + "s"))
        prompt = PromptConfig("Do the task.", votes=votes, cot=cot)
        evaluate_many([(prompt, dev)], backend, scorer)
        assert backend.usage.calls == request_calls(prompt, dev, likelihood=False) == 7 * votes * (2 if cot else 1)
    backend = MeteredBackend(FakeBackend(lambda x: x + "s"))
    evaluate_many([(PromptConfig("Do the task."), dev)], backend, get_scorer("likelihood"))
    assert backend.usage.calls == request_calls(PromptConfig("Do the task."), dev, likelihood=True) == sum(len(e.targets) for e in dev)


def test_dry_run_grows_with_votes_and_cot():
    task = toy_task()
    plain = estimate(OptimizeConfig(task="toy", space="fewshot"), task, load_space("fewshot"))
    full = estimate(OptimizeConfig(task="toy", space="full"), task, load_space("full"))
    assert full["scoring_calls_est"] > plain["scoring_calls_est"] and full["lm_calls_max"] > 2 * plain["lm_calls_max"]


def test_dry_run_leaves_out_what_max_prompt_tokens_would_not_score():
    from apeopt.errors import UserError

    task = toy_task()
    free = estimate(OptimizeConfig(task="toy", space="fewshot"), task, load_space("fewshot"))
    assert free["max_prompt_tokens"] is None and free["left_out_over_limit"] == {"ladder_rungs": 0, "formats": 0}
    tight = estimate(OptimizeConfig(task="toy", space="fewshot", max_prompt_tokens=40), task, load_space("fewshot"))
    assert tight["max_prompt_tokens"] == 40 and tight["left_out_over_limit"]["ladder_rungs"] > 0
    assert tight["candidates_round0"] < free["candidates_round0"] and tight["lm_calls_max"] < free["lm_calls_max"]
    with pytest.raises(UserError, match="max-prompt-tokens 1: even the shortest starting prompt"):
        estimate(OptimizeConfig(task="toy", space="fewshot", max_prompt_tokens=1), task, load_space("fewshot"))
