"""A data profile: what a task's outputs look like, read from the train targets alone (no LLM).

The profile says whether the outputs are one of a fixed label set, numbers, single letters, letters
separated by spaces, one word, or a few words; whether they are copied from the input; their casing
and length. It is shown to the proposer (so a small model knows the answer's shape) and turned into
deterministic constraint clauses by :mod:`apeopt.optimizer.proposers.constraints`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from apeopt.tasks.task import Example

NUMBER = re.compile(r"^[-+]?\d+(?:[.,]\d+)?$")
SPACED_LETTERS = re.compile(r"^(?:\w )+\w$")
MAX_LABELS = 8  # more distinct outputs than this are no "fixed label set"
SHARE = 0.9  # a property holds when at least this share of the outputs has it


@dataclass(frozen=True)
class DataProfile:
    """The shape of a task's outputs (see the module docstring)."""

    n: int
    kind: str  # label | number | letter | letters | word | words | text
    labels: tuple[str, ...] = ()
    copied: bool = False  # the output is a part of the input
    casing: str = "mixed"  # upper | lower | capitalized | mixed
    mean_words: float = 0.0
    max_words: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "kind": self.kind,
            "labels": list(self.labels),
            "copied": self.copied,
            "casing": self.casing,
            "mean_words": round(self.mean_words, 2),
            "max_words": self.max_words,
        }

    def describe(self) -> str:
        """One or two plain sentences about the outputs, for a proposer prompt."""
        what = {
            "label": f"one of these labels: {', '.join(self.labels)}",
            "number": "a number",
            "letter": "a single letter",
            "letters": "letters separated by spaces",
            "word": "a single word",
            "words": f"a few words (at most {self.max_words})",
            "text": f"a sentence of about {round(self.mean_words)} words",
        }[self.kind]
        parts = [f"Every output is {what}"]
        if self.copied:
            parts.append("taken from the input")
        if self.casing in ("upper", "lower") and self.kind not in ("number", "label"):
            parts.append("in capital letters" if self.casing == "upper" else "in lowercase")
        return " ".join(parts) + "."


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def _casing(targets: Sequence[str]) -> str:
    cased = [t for t in targets if any(c.isalpha() for c in t)]
    if not cased:
        return "mixed"
    for name, test in (("upper", str.isupper), ("lower", str.islower), ("capitalized", lambda t: t[:1].isupper())):
        if _share([test(t) for t in cased]) >= SHARE:
            return name
    return "mixed"


def profile(examples: Sequence[Example], labels: Sequence[str] | None = None) -> DataProfile:
    """The profile of ``examples``' canonical targets (``labels``: the task's own label set, if it has one)."""
    targets = [ex.target.strip() for ex in examples if ex.target.strip()]
    if not targets:
        return DataProfile(0, "text")
    words = [len(t.split()) for t in targets]
    counts = Counter(targets)
    copied = _share([t.lower() in ex.input.lower() for t, ex in zip(targets, examples)]) >= SHARE
    if labels:
        kind, found = "label", tuple(labels)
    elif len(counts) <= MAX_LABELS and len(targets) >= 2 * len(counts) and min(counts.values()) >= 2:
        kind, found = "label", tuple(t for t, _ in counts.most_common())
    else:
        found = ()
        if _share([bool(NUMBER.match(t)) for t in targets]) >= SHARE:
            kind = "number"
        elif _share([len(t) == 1 and t.isalpha() for t in targets]) >= SHARE:
            kind = "letter"
        elif _share([bool(SPACED_LETTERS.match(t)) for t in targets]) >= SHARE:
            kind = "letters"
        elif _share([w == 1 for w in words]) >= SHARE:
            kind = "word"
        elif max(words) <= 4:
            kind = "words"
        else:
            kind = "text"
    return DataProfile(len(targets), kind, found, copied, _casing(targets), sum(words) / len(words), max(words))
