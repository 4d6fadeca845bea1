"""Score prompt configurations on examples: batched across examples *and* prompts.

Generation-based scoring renders each example, generates (with zero-shot CoT in two stages and
self-consistency votes when the prompt asks for them) and applies the task's scorer; likelihood
scoring takes the mean per-token log-probability of the best accepted gold answer.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

from apeopt.models.base import GenerateRequest, LMBackend, LogprobRequest
from apeopt.prompts.prompt import PromptConfig
from apeopt.scorers import Aggregate, Scorer, aggregate
from apeopt.scorers.normalize import normalize_light
from apeopt.scorers.text import to_label
from apeopt.tasks.task import Example


@dataclass(frozen=True)
class EvalResult:
    aggregate: Aggregate
    scores: tuple[float, ...]
    outputs: tuple[str, ...]
    examples: tuple[Example, ...]
    feedback: tuple[str | None, ...] = ()  # the scorer's reason per example (None: right, or no reason)
    tokens: int = 0  # prompt and generated (or scored) tokens of this job's requests, as the backend reported them

    @property
    def score(self) -> float:
        return self.aggregate.score

    def rows(self, k: int | None = None) -> list[dict[str, object]]:
        feedback = self.feedback or (None,) * len(self.scores)
        items = zip(self.examples, self.outputs, self.scores, feedback)
        return [
            {"input": ex.input, "output": out, "target": ex.target, "score": s, **({"feedback": fb} if fb else {})}
            for i, (ex, out, s, fb) in enumerate(items)
            if k is None or i < k
        ]


Job = tuple[PromptConfig, Sequence[Example]]


def evaluate(
    prompt: PromptConfig,
    examples: Sequence[Example],
    backend: LMBackend,
    scorer: Scorer,
    labels: Sequence[str] | None = None,
) -> EvalResult:
    return evaluate_many([(prompt, examples)], backend, scorer, labels)[0]


def evaluate_many(
    jobs: Sequence[Job], backend: LMBackend, scorer: Scorer, labels: Sequence[str] | None = None
) -> list[EvalResult]:
    """Evaluate several (prompt, examples) jobs with one batched backend call per stage."""
    if scorer.needs_logprob:
        per_job, tokens = _likelihood(jobs, backend)
        outputs = [tuple("" for _ in exs) for _, exs in jobs]
        reasons: list[tuple[str | None, ...]] = [tuple(None for _ in exs) for _, exs in jobs]
    else:
        outputs, tokens = _predictions(jobs, backend, labels)
        judged = [
            [scorer.judge(out, ex.targets, labels) for out, ex in zip(outs, exs)]
            for outs, (_, exs) in zip(outputs, jobs)
        ]
        per_job = [tuple(j.score for j in js) for js in judged]
        reasons = [tuple(j.feedback for j in js) for js in judged]
    return [
        EvalResult(aggregate(list(scores)), scores, outs, tuple(exs), fbs, tok)
        for scores, outs, fbs, tok, (_, exs) in zip(per_job, outputs, reasons, tokens, jobs)
    ]


def evaluate_splits(
    prompts: Mapping[str, PromptConfig],
    splits: Mapping[str, Sequence[Example]],
    backend: LMBackend,
    scorer: Scorer,
    labels: Sequence[str] | None = None,
) -> dict[str, dict[str, EvalResult]]:
    """Each named prompt on each named split, batched in one call per stage: ``results[prompt][split]``.

    How final scores are computed everywhere: the optimizer's winner and baselines, and every route
    of a comparison, on the same items with the same scorer."""
    jobs = [(p, splits[s]) for p in prompts.values() for s in splits]
    results = iter(evaluate_many(jobs, backend, scorer, labels))
    return {name: {s: next(results) for s in splits} for name in prompts}


def request_calls(prompt: PromptConfig, examples: Sequence[Example], likelihood: bool) -> int:
    """LM calls ``evaluate_many`` spends on ``prompt`` over ``examples``: the ``calls`` of the requests it
    sends. Generation: the first stage (``n`` = votes samples each) and, with CoT, one answer request per
    reasoning sample; likelihood: one log-prob request per accepted target."""
    if likelihood:
        return sum(r.calls for r in likelihood_requests(prompt, examples))
    first = generate_requests(prompt, examples)
    calls = sum(r.calls for r in first)
    if prompt.cot:
        calls += sum(answer_request(prompt, r, "").calls * r.n for r in first)
    return calls


def likelihood_requests(prompt: PromptConfig, examples: Sequence[Example]) -> list[LogprobRequest]:
    """One request per (example, accepted target): the target as the continuation of the rendered prompt."""
    out: list[LogprobRequest] = []
    for ex in examples:
        rendered = prompt.render(ex.input)
        out += [LogprobRequest(rendered, prompt.continuation(t)) for t in ex.targets]
    return out


def generate_requests(prompt: PromptConfig, examples: Sequence[Example]) -> list[GenerateRequest]:
    """The first generation stage: one request per example (the answer, or the CoT reasoning)."""
    sampled = prompt.votes > 1
    return [
        GenerateRequest(
            prompt.render(ex.input),
            max_tokens=prompt.cot_max_tokens if prompt.cot else prompt.max_tokens,
            temperature=prompt.vote_temperature if sampled else 0.0,
            n=prompt.votes,
            stop=_cot_stop(prompt) if prompt.cot else prompt.stop,
            seed=zlib.crc32(ex.input.encode()),
        )
        for ex in examples
    ]


def answer_request(prompt: PromptConfig, first: GenerateRequest, reasoning: str) -> GenerateRequest:
    """The second CoT stage for one reasoning sample: reasoning, answer trigger, then the answer."""
    return GenerateRequest(prompt.with_reasoning(first.prompt, reasoning), prompt.max_tokens, stop=prompt.stop)


def _likelihood(jobs: Sequence[Job], backend: LMBackend) -> tuple[list[tuple[float, ...]], list[int]]:
    """Per job: the best accepted target's mean log-prob per example, and the tokens its requests took."""
    requests = [r for prompt, exs in jobs for r in likelihood_requests(prompt, exs)]
    results = iter(backend.logprob(requests))
    out, tokens = [], []
    for _, exs in jobs:
        per_ex, used = [], 0
        for ex in exs:
            got = [next(results) for _ in ex.targets]
            per_ex.append(max(r.mean for r in got))
            used += sum(r.prompt_tokens + len(r.token_logprobs) for r in got)
        out.append(tuple(per_ex))
        tokens.append(used)
    return out, tokens


def _predictions(
    jobs: Sequence[Job], backend: LMBackend, labels: Sequence[str] | None
) -> tuple[list[tuple[str, ...]], list[int]]:
    """Per job: the voted answer per example, and the tokens (prompt and generated, both CoT stages) it took."""
    first = [r for prompt, exs in jobs for r in generate_requests(prompt, exs)]
    done = backend.generate(first)
    row_tokens = [c.prompt_tokens + c.completion_tokens for c in done]
    samples = _answer_stage(jobs, first, [c.texts for c in done], backend, row_tokens)
    it, tok = iter(samples), iter(row_tokens)
    return (
        [tuple(_vote(next(it), labels) for _ in exs) for _, exs in jobs],
        [sum(next(tok) for _ in exs) for _, exs in jobs],
    )


def _cot_stop(prompt: PromptConfig) -> tuple[str, ...]:
    return ("\n\n", f"\n{prompt.input_prefix}")


def _answer_stage(
    jobs: Sequence[Job],
    first: list[GenerateRequest],
    samples: list[tuple[str, ...]],
    backend: LMBackend,
    row_tokens: list[int] | None = None,
) -> list[tuple[str, ...]]:
    """Second CoT stage: append each reasoning and the answer trigger, then generate the answer
    (its tokens are added to ``row_tokens``, per example row)."""
    prompts = [p for p, exs in jobs for _ in exs]
    second: list[GenerateRequest] = []
    where: list[tuple[int, int]] = []
    for row, (prompt, req, texts) in enumerate(zip(prompts, first, samples)):
        if not prompt.cot:
            continue
        for j, reasoning in enumerate(texts):
            second.append(answer_request(prompt, req, reasoning))
            where.append((row, j))
    if not second:
        return samples
    answers = backend.generate(second)
    out = [list(t) for t in samples]
    for (row, j), ans in zip(where, answers):
        out[row][j] = ans.text
        if row_tokens is not None:
            row_tokens[row] += ans.prompt_tokens + ans.completion_tokens
    return [tuple(t) for t in out]


def _vote(texts: Sequence[str], labels: Sequence[str] | None) -> str:
    """Majority vote over normalized answers (mapped to labels where the task has them)."""
    answers = [t.strip() for t in texts]
    if len(answers) == 1:
        return answers[0]
    keys = [(to_label(a, labels) or normalize_light(a)) if labels else normalize_light(a) for a in answers]
    winner, _ = Counter(keys).most_common(1)[0]
    return answers[keys.index(winner)]
