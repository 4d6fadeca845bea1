"""The ``Entry`` record: one trial under evaluation, an instruction candidate in a format, with its dev scores."""

from __future__ import annotations

from dataclasses import dataclass, field

import optuna

from apeopt.optimizer.candidates.pool import Candidate
from apeopt.prompts.prompt import PromptConfig
from apeopt.search_spaces import Format


@dataclass
class Entry:
    """One trial under evaluation: an instruction candidate in a format."""

    trial: optuna.Trial
    candidate: Candidate
    fmt: Format
    prompt: PromptConfig
    phase: str
    round: int
    scores: list[float] = field(default_factory=list)
    # per scored dev example, beside ``scores``: the model's answer and the scorer's reason (None where
    # there is none: a likelihood score, a right answer, or a replayed log written without them)
    outputs: list[str | None] = field(default_factory=list)
    feedback: list[str | None] = field(default_factory=list)
    label: str = ""  # what the entry is, where the search named it (an incumbent rung, a demo-set origin)
    state: str = "running"

    @property
    def value(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else float("-inf")
