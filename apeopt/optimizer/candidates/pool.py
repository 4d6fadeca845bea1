"""The growing pool of candidate instructions, deduplicated, with every score they received."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apeopt.scorers.normalize import normalize


def dedupe_key(text: str) -> str:
    """Texts with the same key are one candidate (case, spacing and punctuation aside)."""
    return normalize(text)


NO_INSTRUCTION = "none"  # the origin of the empty instruction that stands for the human one when there is none


@dataclass
class Candidate:
    """An instruction text in the pool: where it came from, and every score and call spent on it."""

    id: str
    text: str
    origin: str
    parent: str | None
    round: int
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "origin": self.origin,
            "parent": self.parent,
            "round": self.round,
            "evaluations": self.evaluations,
            "lm_calls": self.calls,
            "tokens": self.tokens,
        }


class CandidatePool:
    """The run's candidate instructions by id, one per ``dedupe_key``."""

    def __init__(self) -> None:
        self.items: dict[str, Candidate] = {}
        self._keys: dict[str, str] = {}

    def add(self, text: str, origin: str, round: int, parent: str | None = None) -> Candidate | None:
        """Add a new candidate; None when an equivalent text is already in the pool. An empty text is
        taken only as the ``none`` candidate (no instruction: the task had no human one)."""
        key = dedupe_key(text)
        if (not key and origin != NO_INSTRUCTION) or key in self._keys:
            return None
        cand = Candidate(f"c{len(self.items):04d}", text, origin, parent, round)
        self.items[cand.id] = cand
        self._keys[key] = cand.id
        return cand

    def __getitem__(self, cid: str) -> Candidate:
        return self.items[cid]

    def __len__(self) -> int:
        return len(self.items)

    def rows(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in self.items.values()]
