"""Successive halving of a batch of trials on growing dev minibatches, through Optuna's report/prune.

All active trials are scored on the next slice of dev in one batched call, report their running
mean at step = examples seen, and the pruner keeps the top 1/eta; survivors of the last rung (all of
dev) are told COMPLETE with their full-dev mean. Under an LM-call budget a rung that would cross it
is trimmed first: the best entries so far that fit are scored, the rest are pruned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import optuna
from optuna.trial import TrialState

from apeopt.evaluation import evaluate_many, request_calls
from apeopt.models.base import LMBackend
from apeopt.optimizer.candidates.entry import Entry
from apeopt.prompts.prompt import PromptConfig
from apeopt.scorers import Scorer
from apeopt.runs.studies import check_replayed
from apeopt.tasks.task import Example


# Why a halving stopped when not even one entry's next slice fits the calls it may spend.
RUNG_DOES_NOT_FIT = "LM-call budget: the next rung does not fit"


@dataclass
class SuccessiveHalving:
    """Scores batches of entries rung by rung on growing dev slices and prunes through the study's pruner."""

    study: optuna.Study
    dev: Sequence[Example]
    backend: LMBackend
    scorer: Scorer
    labels: Sequence[str] | None
    sizes: Sequence[int]
    should_stop: Callable[[], str | None]
    record: Callable[[Entry, int, Sequence[float], int, int, bool], None]
    on_rung: Callable[[int, int], None] = lambda size, active: None
    calls_left: Callable[[], int | None] = lambda: None
    replay: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)

    def run(self, entries: list[Entry]) -> str | None:
        """Evaluate ``entries`` rung by rung; returns why it stopped early, or None."""
        active = list(entries)
        prev = 0
        for size in self.sizes:
            if not active:
                return None
            reason = self.should_stop()
            if reason:
                for e in active:
                    self._finish(e, TrialState.PRUNED, f"stopped: {reason}")
                return reason
            active = self._fit(active, self.dev[prev:size], size)
            if not active:
                return RUNG_DOES_NOT_FIT
            self.on_rung(size, len(active))
            self._score(active, self.dev[prev:size], size)
            if size == self.sizes[-1]:
                for e in active:
                    self._finish(e, TrialState.COMPLETE)
            else:
                survivors = []
                for e in active:
                    if e.trial.should_prune():
                        self._finish(e, TrialState.PRUNED)
                    else:
                        survivors.append(e)
                active = survivors
            prev = size
        return None

    def finish(self, entries: list[Entry]) -> str | None:
        """Score entries that already hold a prefix of dev on the rest of it, then tell them COMPLETE."""
        reason = self.should_stop()
        if reason:
            for e in entries:
                self._finish(e, TrialState.PRUNED, f"stopped: {reason}")
            return reason
        n = len(self.dev)
        for start in sorted({len(e.scores) for e in entries}):
            group = self._fit([e for e in entries if len(e.scores) == start], self.dev[start:], n)
            self._score(group, self.dev[start:], n)
            for e in group:
                self._finish(e, TrialState.COMPLETE)
        return None

    def _fit(self, active: list[Entry], batch: Sequence[Example], step: int) -> list[Entry]:
        """The entries whose next slice fits the call budget, best running mean first (replays are free)."""
        left = self.calls_left()
        cost = {id(e): 0 if (e.trial.number, step) in self.replay else self.cost(e.prompt, batch) for e in active}
        if left is None or sum(cost.values()) <= left:
            return active
        keep: set[int] = set()
        for e in sorted(active, key=lambda e: (-e.value if e.scores else 0.0, e.trial.number)):
            if cost[id(e)] <= left:
                keep.add(id(e))
                left -= cost[id(e)]
        for e in active:
            if id(e) not in keep:
                self._finish(e, TrialState.PRUNED, "stopped: LM-call budget")
        return [e for e in active if id(e) in keep]

    def _score(self, active: list[Entry], batch: Sequence[Example], step: int) -> None:
        """Score the next slice; slices already in the run's log (a resumed run) are replayed, not recomputed."""
        fresh = [e for e in active if (e.trial.number, step) not in self.replay]
        for e in active:
            rec = self.replay.get((e.trial.number, step))
            if rec is not None:
                check_replayed(rec, e.candidate.text, e.trial.number, step)
                self.backend.usage.add(calls=rec["lm_calls"], prompt_tokens=rec["tokens"])
                n = len(rec["scores"])
                self._take(
                    e,
                    rec["scores"],
                    step,
                    rec["lm_calls"],
                    rec["tokens"],
                    replayed=True,
                    outputs=rec.get("outputs") or [None] * n,
                    feedback=rec.get("feedback") or [None] * n,
                )
        if not fresh:
            return
        calls0, tokens0 = self.backend.usage.calls, self.backend.usage.tokens
        results = evaluate_many([(e.prompt, batch) for e in fresh], self.backend, self.scorer, self.labels)
        requests = [self.cost(e.prompt, batch) for e in fresh]
        weights = [n * (1 + len(str(e.prompt.render("x")))) for n, e in zip(requests, fresh)]
        calls = _split_total(self.backend.usage.calls - calls0, requests)
        spent = self.backend.usage.tokens - tokens0
        exact = [r.tokens for r in results]  # each prompt's own requests, where the backend reports them
        tokens = exact if sum(exact) == spent else _split_total(spent, weights)
        for e, r, c, t in zip(fresh, results, calls, tokens):
            outputs = [None] * len(r.scores) if self.scorer.needs_logprob else list(r.outputs)
            self._take(
                e,
                r.scores,
                step,
                c,
                t,
                replayed=False,
                outputs=outputs,
                feedback=list(r.feedback or [None] * len(r.scores)),
            )

    def cost(self, prompt: PromptConfig, batch: Sequence[Example]) -> int:
        """LM calls one prompt costs on ``batch``: the calls of the requests evaluate_many sends."""
        return request_calls(prompt, batch, self.scorer.needs_logprob)

    def _take(
        self,
        e: Entry,
        scores: Sequence[float],
        step: int,
        calls: int,
        tokens: int,
        replayed: bool,
        outputs: Sequence[str | None] = (),
        feedback: Sequence[str | None] = (),
    ) -> None:
        e.scores.extend(scores)
        e.outputs.extend(list(outputs)[: len(scores)] + [None] * (len(scores) - len(outputs)))
        e.feedback.extend(list(feedback)[: len(scores)] + [None] * (len(scores) - len(feedback)))
        e.trial.report(e.value, step)
        self.record(e, step, scores, calls, tokens, replayed)

    def _finish(self, e: Entry, state: TrialState, note: str = "") -> None:
        e.state = "complete" if state == TrialState.COMPLETE else "pruned"
        if note:
            e.trial.set_user_attr("note", note)
        if state == TrialState.COMPLETE:
            self.study.tell(e.trial, e.value)
        else:
            self.study.tell(e.trial, state=TrialState.PRUNED)


def _split_total(total: int, weights: Sequence[float]) -> list[int]:
    """Apportion an integer total by weights so that the parts add up exactly (largest remainder)."""
    w = sum(weights) or 1.0
    raw = [total * x / w for x in weights]
    parts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts
