"""Per-split scores (each a ``scorers.Aggregate``: mean, n, 95% interval) and a paired difference
between two prompts on the same items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from apeopt.scorers import Aggregate
from apeopt.tasks.task import EVAL_SPLITS

SplitScore = Aggregate  # a split's score in a record: the aggregate of its per-item scores

Scores = Mapping[str, SplitScore]  # by split: dev, test, test_shift (those that were scored)


def scores_to_dict(scores: Scores) -> dict[str, Any]:
    return {split: s.to_dict() for split, s in scores.items()}


def scores_from(data: Mapping[str, Any], splits: tuple[str, ...] = EVAL_SPLITS) -> dict[str, SplitScore]:
    """The per-split scores held at the top level of ``data`` (keys ``dev``, ``test``, ``test_shift``)."""
    return {s: SplitScore.from_dict(data[s]) for s in splits if data.get(s)}


@dataclass(frozen=True)
class Paired:
    """mean(a) - mean(b) over the same items with a bootstrap 95% interval and p; with the counts of
    items each side scored higher where the comparison records them."""

    diff: float
    ci_lo: float
    ci_hi: float
    p: float
    a_better: int | None = None
    b_better: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"diff": self.diff, "ci_lo": self.ci_lo, "ci_hi": self.ci_hi, "p": self.p}
        if self.a_better is not None:
            out.update(a_better=self.a_better, b_better=self.b_better)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Paired":
        a, b = data.get("a_better"), data.get("b_better")
        return cls(
            float(data["diff"]),
            float(data["ci_lo"]),
            float(data["ci_hi"]),
            float(data["p"]),
            None if a is None else int(a),
            None if b is None else int(b),
        )

    @classmethod
    def maybe(cls, data: Mapping[str, Any] | None) -> "Paired | None":
        return None if data is None else cls.from_dict(data)
