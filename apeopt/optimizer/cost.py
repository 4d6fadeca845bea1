"""What each candidate costs per call, the prompt-size limit, and the choice between best and cheapest.

- A prompt's **prompt tokens per call** are counted with the task model's own tokenizer
  (``LMBackend.count_tokens``; chat prompts through its template) on its rendering of every dev
  input, and averaged: instruction, demos and template, plus the input itself (the same for every
  candidate, so differences are the prompt's). An OpenAI-compatible endpoint has no tokenizer here:
  its counts are estimates (~4 characters a token) and the report says so.
- Its **tokens per example** are what its dev scoring took, per example: prompt and generated
  tokens of every request (both CoT stages, every vote), as the backend reported them.
- ``max_prompt_tokens`` is a hard limit: a candidate (or ladder rung) whose prompt tokens per call
  exceed it is discarded before it is scored, so it can neither be scored nor win.
- ``prefer="cheapest"`` exports the prompt with the fewest tokens per example among those fully
  scored on dev that the best one does not credibly beat, if it saves at least ``MIN_SAVING`` (5%)
  of the best's tokens: the selection rule's paired bootstrap
  (:func:`apeopt.optimizer.selection.rule.paired_gain`, one-sided 95%) with the best as challenger. The
  default ``best`` keeps the search's winner and only reports that cheapest prompt and its saving.
"""

from __future__ import annotations

from typing import Any, Sequence

import optuna

from apeopt.errors import UserError
from apeopt.optimizer.candidates.entry import Entry
from apeopt.optimizer.selection.rule import paired_gain
from apeopt.prompts.prompt import PromptConfig
from apeopt.records.cost import CostPoint, CostReport, pareto_front
from apeopt.scorers import aggregate

OVER_LIMIT = "not scored: its prompt is longer than --max-prompt-tokens"
# A prompt counts as cheaper than the best only if it saves at least this share of its tokens per example
# (generated lengths vary a little between prompts of the same size: that is no saving).
MIN_SAVING = 0.05


class CostMeter:
    """Prompt tokens of each prompt on the dev inputs, and the tokens each entry's scoring spent."""

    def __init__(self, backend: Any, inputs: Sequence[str], max_prompt_tokens: int | None = None) -> None:
        self.backend = backend
        self.inputs = tuple(inputs)
        self.limit = max_prompt_tokens
        self.over_limit = 0
        self._prompt: dict[Any, float] = {}
        self._spent: dict[int, tuple[int, int]] = {}  # trial -> (examples scored, tokens), continuations included

    @property
    def tokenizer(self) -> str:
        return "model" if getattr(self.backend, "counts_tokens", False) else "estimate"

    def prompt_tokens(self, prompt: PromptConfig) -> float:
        """Mean tokens of ``prompt`` rendered on each dev input (the model's input on a call)."""
        try:
            hash(prompt)
            key: Any = prompt
        except TypeError:
            key = repr(prompt.to_dict())
        if key not in self._prompt:
            counts = [self.backend.count_tokens(prompt.render(x)) for x in self.inputs] or [0]
            self._prompt[key] = round(sum(counts) / len(counts), 2)
        return self._prompt[key]

    def fits(self, entry: Entry) -> bool:
        return self.limit is None or self.prompt_tokens(entry.prompt) <= self.limit

    def within_limit(self, entries: list[Entry], study: optuna.Study, required: bool = False) -> list[Entry]:
        """``entries`` whose prompts fit the limit; the others are told pruned unscored, with a note.
        ``required`` (the incumbent ladder): no entry fitting is a one-line user error."""
        if self.limit is None:
            return entries
        keep = [e for e in entries if self.fits(e)]
        for e in entries:
            if not self.fits(e):
                e.state = "pruned"
                e.trial.set_user_attr("note", OVER_LIMIT)
                study.tell(e.trial, state=optuna.trial.TrialState.PRUNED)
                self.over_limit += 1
        if required and entries and not keep:
            shortest = min(self.prompt_tokens(e.prompt) for e in entries)
            raise UserError(
                f"--max-prompt-tokens {self.limit}: even the shortest starting prompt takes "
                f"{shortest:.0f} tokens per call on dev; raise the limit"
            )
        return keep

    def record(self, e: Entry, examples: int, tokens: int) -> None:
        """Tokens an entry's scoring took on ``examples`` more dev items (a continuation goes on from its origin's)."""
        key = e.trial.number
        if key not in self._spent:
            origin = e.trial.user_attrs.get("continues")
            self._spent[key] = self._spent.get(origin, (0, 0)) if origin is not None else (0, 0)
        n, t = self._spent[key]
        self._spent[key] = (n + examples, t + tokens)

    def tokens_per_example(self, e: Entry) -> float:
        n, t = self._spent.get(e.trial.number, (0, 0))
        return round(t / n, 2) if n else 0.0

    def point(self, e: Entry) -> CostPoint:
        agg = aggregate(list(e.scores))
        return CostPoint(
            e.trial.number,
            e.candidate.id,
            e.phase,
            e.label,
            e.candidate.text,
            e.prompt.demo_count,
            round(e.value, 6),
            len(e.scores),
            agg.ci,
            self.prompt_tokens(e.prompt),
            self.tokens_per_example(e),
        )

    def annotate(self, rows: list[dict[str, Any]], entries: Sequence[Entry]) -> list[dict[str, Any]]:
        """Leaderboard rows with their prompt tokens per call and tokens per example."""
        by_trial = {e.trial.number: e for e in entries}
        for row in rows:
            e = by_trial.get(row["trial"])
            if e is not None:
                row["prompt_tokens"] = self.prompt_tokens(e.prompt)
                row["tokens_per_example"] = self.tokens_per_example(e)
        return rows

    def contenders(self, best: Entry, entries: Sequence[Entry], k: int = 2) -> list[Entry]:
        """Up to ``k`` prompts cheaper than ``best`` that halving cut before all of dev while not credibly
        behind it on the items they share: worth finishing, so the cheapest within noise can be named."""
        out: list[Entry] = []
        seen = {e.prompt for e in entries if e.state == "complete" and len(e.scores) == len(best.scores)}
        cheaper = [
            e
            for e in entries
            if e.state == "pruned"
            and e.scores
            and len(e.scores) < len(best.scores)
            and self.prompt_tokens(e.prompt) < self.prompt_tokens(best.prompt)
        ]
        for e in sorted(cheaper, key=lambda e: (self.prompt_tokens(e.prompt), -e.value, e.trial.number)):
            n = len(e.scores)
            if e.prompt in seen or paired_gain(best.scores[:n], e.scores, seed=e.trial.number).credible:
                continue
            seen.add(e.prompt)
            out.append(e)
            if len(out) == k:
                break
        return out

    def settle(
        self, best: Entry, completed: Sequence[Entry], prefer: str = "best", price_per_mtok: float | None = None
    ) -> tuple[Entry, Entry, CostReport]:
        """The prompt the run exports (``best``, or the cheapest within noise of it), that cheapest
        prompt, and the cost report."""
        full = [e for e in completed if len(e.scores) == len(best.scores) and e.scores]
        cheapest, diff, lower = best, 0.0, 0.0
        for e in sorted(
            full, key=lambda e: (self.tokens_per_example(e), self.prompt_tokens(e.prompt), -e.value, e.trial.number)
        ):
            v = paired_gain(best.scores, e.scores, seed=e.trial.number)  # is the best credibly better than e?
            if not v.credible:
                cheapest, diff, lower = e, v.diff, v.lower
                break
        if self.tokens_per_example(cheapest) > (1.0 - MIN_SAVING) * self.tokens_per_example(best):
            cheapest, diff, lower = best, 0.0, 0.0  # no saving worth a switch: the best is its own cheapest
        winner = cheapest if prefer == "cheapest" else best
        report = CostReport(
            prefer=prefer,
            tokenizer=self.tokenizer,
            best=self.point(best),
            winner=self.point(winner),
            cheapest=self.point(cheapest),
            diff=round(diff, 6),
            lower=round(lower, 6),
            n=len(best.scores),
            front=pareto_front([self.point(e) for e in full] or [self.point(best)]),
            max_prompt_tokens=self.limit,
            price_per_mtok=price_per_mtok,
            over_limit=self.over_limit,
        )
        return winner, cheapest, report
