"""The Scorer interface: a per-example score of a prediction against accepted answers, with a reason.

``score`` is the number the search selects by; ``feedback`` is an optional short text saying why a
prediction lost points ("expected 'geese', got 'gooses'"), which the ``reflect`` proposer shows to the
proposer model. ``judge`` returns both as one :class:`Judgment` (one call of a user scorer).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from numbers import Real
from typing import Any, Mapping, Sequence

from apeopt.errors import UserError

# Feedback and the texts it quotes stay short: they are stored per scored example.
FEEDBACK_CHARS = 300
QUOTE_CHARS = 80


@dataclass(frozen=True)
class Judgment:
    """A score and, where the scorer gives one, the reason for it."""

    score: float
    feedback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "feedback": self.feedback}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Judgment":
        fb = data.get("feedback")
        return cls(float(data["score"]), None if fb is None else str(fb))


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` in quotes, shortened with an ellipsis past ``limit`` characters; "an empty answer" for blanks."""
    t = " ".join(text.split())
    if not t:
        return "an empty answer"
    return repr(t if len(t) <= limit else t[: limit - 1] + "…")


def expected(targets: Sequence[str]) -> str:
    shown = [quote(t) for t in list(targets)[:3]]
    return shown[0] if len(shown) == 1 else "one of " + ", ".join(shown) + (", …" if len(targets) > 3 else "")


def mismatch(prediction: str, targets: Sequence[str]) -> str:
    """The generic reason: ``expected 'geese', got 'gooses'``."""
    return f"expected {expected(targets)}, got {quote(prediction)}"


class Scorer(ABC):
    """Scores one prediction against the accepted targets; higher is better.

    ``needs_logprob`` scorers (``likelihood``) are computed from the model's log-probability
    of the gold target instead of from generated text.
    """

    name: str = ""
    needs_logprob: bool = False

    @abstractmethod
    def score(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
        """Score of ``prediction``: the best over the accepted ``targets``."""

    def feedback(
        self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None, score: float | None = None
    ) -> str | None:
        """A short reason when ``prediction`` is not fully right (None when it is, or the scorer has none).
        ``score`` is the prediction's score when the caller already has it."""
        s = self.score(prediction, targets, labels) if score is None else score
        return None if s >= 1.0 else mismatch(prediction, targets)

    def judge(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> Judgment:
        s = self.score(prediction, targets, labels)
        fb = self.feedback(prediction, targets, labels, score=s)
        return Judgment(s, None if fb is None else fb[:FEEDBACK_CHARS])

    def __repr__(self) -> str:
        return f"<scorer {self.name}>"


class FunctionScorer(Scorer):
    """Wraps ``fn(prediction, targets)`` (user scorers given as ``module:function``), which returns a
    number, or ``(score, feedback)`` with feedback a string or None."""

    def __init__(self, name: str, fn) -> None:
        self.name = name
        self.fn = fn

    def judge(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> Judgment:
        try:
            raw = got = self.fn(prediction, list(targets))
        except Exception as exc:  # noqa: BLE001 - user code: one line naming it, the example and the error
            raise UserError(
                f"user scorer {self.name!r} raised {type(exc).__name__}: {exc} on the example with "
                f"prediction {quote(prediction)} and target {expected(targets)}"
            ) from None
        fb: object = None
        if isinstance(got, tuple) and len(got) == 2:
            got, fb = got
        if isinstance(got, bool) or not isinstance(got, Real) or not (fb is None or isinstance(fb, str)):
            raise UserError(
                f"user scorer {self.name!r} must return a number or (number, feedback text or None), got {raw!r}"
            )
        return Judgment(float(got), None if fb is None else fb[:FEEDBACK_CHARS])

    def score(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
        return self.judge(prediction, targets, labels).score

    def feedback(
        self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None, score: float | None = None
    ) -> str | None:
        return self.judge(prediction, targets, labels).feedback
