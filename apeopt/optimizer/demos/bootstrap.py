"""Bootstrapped chain-of-thought demos (as DSPy's BootstrapFewShot): the task model's own reasoning on
train examples that its current prompt answers correctly, shown as demos of how to reason.

The incumbent prompt (greedy, one vote) reasons about a seeded sample of train examples and
answers in the usual two CoT stages; an example whose answer scores 1 keeps its reasoning as a
trace. A bootstrapped demo then reads ``<CoT trigger> <reasoning>\\n<answer trigger> <gold answer>``,
exactly the shape the model is asked to continue at the query.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Sequence

from apeopt.evaluation import answer_request, generate_requests
from apeopt.models.base import LMBackend
from apeopt.optimizer.demos.search import demo_ids
from apeopt.optimizer.scheduling.budget import bootstrap_limit
from apeopt.prompts.prompt import COT_ANSWER_TRIGGER, Demo, PromptConfig
from apeopt.scorers import Scorer
from apeopt.search_spaces import Format
from apeopt.tasks.task import Example


def bootstrap_traces(
    prompt: PromptConfig,
    train: Sequence[Example],
    ids: Sequence[int],
    backend: LMBackend,
    scorer: Scorer,
    labels: Sequence[str] | None,
) -> dict[int, str]:
    """Reasoning of ``prompt`` (which must have a CoT trigger) on ``train[i]`` for each ``i`` it answers right."""
    if not prompt.cot or not ids:
        return {}
    p = replace(prompt, votes=1)
    examples = [train[i] for i in ids]
    first = generate_requests(p, examples)
    reasonings = [c.text.strip() for c in backend.generate(first)]
    answers = backend.generate([answer_request(p, r, text) for r, text in zip(first, reasonings)])
    return {
        i: text
        for i, ex, text, ans in zip(ids, examples, reasonings, answers)
        if text and scorer.score(ans.text.strip(), ex.targets, labels) >= 1.0
    }


def _sample_ids(n_train: int, k: int, exclude: Sequence[int], seed: int) -> list[int]:
    """Up to ``k`` train indices not in ``exclude`` (the incumbent's own demos), deterministic for a seed."""
    pool = [i for i in range(n_train) if i not in set(exclude)]
    return random.Random(seed).sample(pool, min(k, len(pool)))


def bootstrapped_demo(ex: Example, reasoning: str, cot: str) -> Demo:
    """``ex`` as a demo of reasoning: the CoT trigger, the model's reasoning, then the answer trigger and gold answer."""
    return Demo(ex.input, f"{cot} {reasoning}\n{COT_ANSWER_TRIGGER} {ex.target}".strip())


def wants_bootstrap(fmt: Format, likelihood: bool) -> bool:
    """Bootstrapping applies to a CoT format with fixed demos, scored by generation."""
    return bool(fmt.cot) and fmt.demos > 0 and fmt.demo_source != "retrieved" and not likelihood


def bootstrap_ids(fmt: Format, n_train: int, calls_left: int | None, seed: int) -> list[int]:
    """The train examples to reason about: ``2k`` new ones (two calls each; fewer under a call budget)."""
    n = 2 * fmt.demos if calls_left is None else min(2 * fmt.demos, bootstrap_limit(calls_left))
    return _sample_ids(n_train, n, demo_ids(fmt, n_train), seed=seed)


def bootstrapped_format(fmt: Format, traces: dict[int, str]) -> Format | None:
    """``fmt`` with the first ``k`` bootstrapped traces as its demos (None without traces)."""
    if not traces:
        return None
    chosen = tuple(list(traces)[: fmt.demos])
    return replace(fmt, demo_source="bootstrapped", demos=len(chosen), demo_ids=chosen)
