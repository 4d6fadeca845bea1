"""The Scorer interface: a per-example score of a prediction against accepted answers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence


class Scorer(ABC):
    """Scores one prediction against the accepted targets; higher is better.

    ``needs_logprob`` scorers (``likelihood``) are computed from the model's log-probability
    of the gold target instead of from generated text.
    """

    name: str = ""
    needs_logprob: bool = False
    direction: str = "maximize"

    @abstractmethod
    def score(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
        """Score of ``prediction``: the best over the accepted ``targets``."""

    def __repr__(self) -> str:
        return f"<scorer {self.name}>"


class FunctionScorer(Scorer):
    """Wraps ``fn(prediction, targets) -> float`` (user scorers given as ``module:function``)."""

    def __init__(self, name: str, fn) -> None:  # type: ignore[no-untyped-def]
        self.name = name
        self.fn = fn

    def score(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
        return float(self.fn(prediction, list(targets)))
