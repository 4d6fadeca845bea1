"""The likelihood scorer: the mean per-token log-probability of the gold answer (APE's score)."""

from __future__ import annotations

from typing import Sequence

from apeopt.scorers.base import Scorer


class Likelihood(Scorer):
    """Mean per-token log-probability of the gold target under the prompt (the APE paper's score).

    Computed by the evaluator from the backend's ``logprob``; never from generated text."""

    name = "likelihood"
    needs_logprob = True

    def score(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
        raise TypeError("likelihood is computed from log-probabilities by the evaluator")

    def feedback(
        self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None, score: float | None = None
    ) -> str | None:
        return None
