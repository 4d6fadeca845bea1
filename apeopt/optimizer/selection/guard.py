"""The generation guard: a challenger chosen by gold-answer log-likelihood must not be credibly worse
than the incumbent when the task's scorer scores its *generated* answers on dev; among the (at most
three) challengers credible by likelihood, the guard takes the one whose generated answers score best.

Likelihood and generation can disagree about an instruction: "For each input-output pair, replace
the input with its corresponding output." raised the gold answers' log-likelihood on 30 dev items
and then scored 0.01 by generation, which follows it literally. Under likelihood scoring the loop
asks this guard before a credible challenger replaces the incumbent: both prompts generate on dev,
the task's scorer judges them, and a challenger is refused when the paired bootstrap says the
incumbent is credibly better (one-sided, 95%) or when its generated dev mean is below the
incumbent's at all (the likelihood gain was credible; a generation loss, even within noise, is not
taken with it); of those left, the best generated dev mean wins. When the calls left cannot pay for
all of dev, the best challenger is checked on as many dev items as they pay for (at least ``MIN_ITEMS``). Its calls go through the task backend (the budget
counts them); each prompt is generated once per run. Every check is recorded (:meth:`rows`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from apeopt.optimizer.selection.rule import paired_gain
from apeopt.tasks.task import Example


# The fewest dev items a check may use when the calls left cannot pay for all of dev (the first rung's size).
MIN_ITEMS = 10


class GenerationGuard:
    """Checks challengers by generation on dev (see the module docstring)."""

    def __init__(
        self,
        dev: Sequence[Example],
        backend: Any,
        scorer: Any,
        labels: Sequence[str] | None,
        calls_left: Callable[[], int | None],
    ) -> None:
        self.dev = dev
        self.backend = backend
        self.scorer = scorer
        self.labels = labels
        self.calls_left = calls_left
        self._scores: dict[str, tuple[float, ...]] = {}
        self.checks: list[dict[str, Any]] = []

    def _generated(self, prompts: Sequence[Any], n: int) -> list[tuple[float, ...]]:
        """Each prompt's scores on the first ``n`` dev items (generated once per prompt and length)."""
        from apeopt.evaluation import evaluate_many

        todo = {self._key(p): p for p in prompts if len(self._scores.get(self._key(p), ())) < n}
        if todo:
            items = self.dev[:n]
            results = evaluate_many([(p, items) for p in todo.values()], self.backend, self.scorer, self.labels)
            for k, r in zip(todo, results):
                self._scores[k] = tuple(r.scores)
        return [self._scores[self._key(p)][:n] for p in prompts]

    def _cost(self, entries: Sequence[Any], n: int) -> int:
        """Calls generating ``entries``' prompts on the first ``n`` dev items costs (what is held is free)."""
        return n * len({self._key(e.prompt) for e in entries if len(self._scores.get(self._key(e.prompt), ())) < n})

    @staticmethod
    def _key(prompt: Any) -> str:
        return str(prompt.render("\x00"))

    def choose(self, challengers: Sequence[Any], incumbent: Any) -> Any | None:
        """Of entries ``challengers`` (credible by the search's own score, best first), the one with the
        best generated dev score among those neither credibly worse than entry ``incumbent`` by
        generation nor below its generated mean (ties: the earlier); None when there is none, or when
        the calls left cannot pay for checking the first on ``MIN_ITEMS`` dev items (otherwise as many
        challengers as they pay for on all of dev, or the first on as many items as they pay for)."""
        left = self.calls_left()
        n = len(self.dev)
        fit = list(challengers)  # the best ones the calls left can pay for (the incumbent's generation included)
        while fit and left is not None and self._cost([*fit, incumbent], n) > left:
            fit.pop()
        if not fit and challengers and left is not None:  # the best one, on as many dev items as the calls pay for
            n = max((m for m in range(MIN_ITEMS, n) if self._cost([challengers[0], incumbent], m) <= left), default=0)
            fit = [challengers[0]] if n else []
        if not fit:
            for c in challengers:
                self.checks.append(
                    {
                        "challenger": c.trial.number,
                        "incumbent": incumbent.trial.number,
                        "instruction": c.candidate.text,
                        "allowed": False,
                        "reason": "no calls left for the generation check",
                    }
                )
            return None
        challengers = fit
        *scores, inc = self._generated([c.prompt for c in challengers] + [incumbent.prompt], n)
        inc_mean = sum(inc) / max(1, len(inc))
        best, best_mean = None, -1.0
        for c, ch in zip(challengers, scores):
            v = paired_gain(inc, ch, seed=c.trial.number)  # is the incumbent credibly better?
            mean = sum(ch) / max(1, len(ch))
            self.checks.append(
                {
                    "challenger": c.trial.number,
                    "incumbent": incumbent.trial.number,
                    "instruction": c.candidate.text,
                    "generated_challenger": round(mean, 6),
                    "generated_incumbent": round(sum(inc) / max(1, len(inc)), 6),
                    "n": len(ch),
                    "incumbent_ahead_lower": round(v.lower, 6),
                    "allowed": not v.credible and mean >= inc_mean,
                }
            )
            if not v.credible and mean >= inc_mean and mean > best_mean:
                best, best_mean = c, mean
        if best is not None:
            self.checks[-len(challengers) :] = [
                {**r, "chosen": r["challenger"] == best.trial.number} for r in self.checks[-len(challengers) :]
            ]
        return best

    def rows(self) -> list[dict[str, Any]]:
        return list(self.checks)
