"""Text scorers over generated answers: exact match, contains, token F1, labels, numbers."""

from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

from apeopt.scorers.base import Scorer, expected, mismatch, quote
from apeopt.scorers.normalize import normalize, normalize_light


class ExactMatch(Scorer):
    name = "exact_match"

    def score(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
        p = normalize_light(prediction)
        return float(any(p == normalize_light(t) for t in targets))


class Contains(Scorer):
    name = "contains"

    def score(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
        p = f" {normalize(prediction)} "
        return float(any(f" {normalize(t)} " in p for t in targets if normalize(t)))


def _f1(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


class TokenF1(Scorer):
    name = "token_f1"

    def feedback(
        self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None, score: float | None = None
    ) -> str | None:
        s = self.score(prediction, targets, labels) if score is None else score
        return None if s >= 1.0 else f"token F1 {s:.2f}: {mismatch(prediction, targets)}"

    def score(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
        pred = normalize(prediction).split()
        return max(_f1(pred, normalize(t).split()) for t in targets)


def to_label(prediction: str, labels: Sequence[str]) -> str | None:
    """Map free text to a label: exact, then the label the text starts with, then the only label it mentions."""
    p = normalize_light(prediction)
    norm = {normalize_light(lab): lab for lab in labels}
    if p in norm:
        return norm[p]
    starts = [lab for key, lab in norm.items() if p.startswith(key + " ") or p.startswith(key)]
    if len(starts) == 1:
        return starts[0]
    words = set(normalize(prediction).split())
    mentioned = [lab for key, lab in norm.items() if key in words]
    return mentioned[0] if len(mentioned) == 1 else None


class LabelAccuracy(Scorer):
    name = "label_accuracy"

    def score(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
        label = to_label(prediction, labels or targets)
        return float(label is not None and any(normalize_light(label) == normalize_light(t) for t in targets))

    def feedback(
        self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None, score: float | None = None
    ) -> str | None:
        """The confusion: ``predicted negative, expected positive``, or no label found in the answer."""
        s = self.score(prediction, targets, labels) if score is None else score
        if s >= 1.0:
            return None
        label = to_label(prediction, labels or targets)
        if label is None:
            valid = ", ".join(list(labels or targets)[:8])
            return f"no single label in {quote(prediction)} (labels: {valid}); expected {targets[0]}"
        return f"predicted {label}, expected {targets[0]}"


_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")


def first_number(text: str) -> float | None:
    m = _NUMBER.search(text)
    if not m:
        return None
    try:
        return float(m.group(0).replace(",", ""))
    except ValueError:
        return None


class NumericMatch(Scorer):
    name = "numeric_match"

    def score(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
        p = first_number(prediction)
        if p is None:
            return 0.0
        return float(any((t_num := first_number(t)) is not None and abs(t_num - p) < 1e-6 for t in targets))

    def feedback(
        self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None, score: float | None = None
    ) -> str | None:
        s = self.score(prediction, targets, labels) if score is None else score
        if s >= 1.0:
            return None
        p = first_number(prediction)
        if p is None:
            return f"no number in {quote(prediction)}; expected {expected(targets)}"
        return f"expected {expected(targets)}, got the number {p:g} (in {quote(prediction)})"
