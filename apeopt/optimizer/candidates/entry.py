"""The ``Entry`` record: one trial under evaluation, an instruction candidate in a format, with its dev scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

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
        """The mean of the dev scores so far (-inf before the first)."""
        return sum(self.scores) / len(self.scores) if self.scores else float("-inf")

    def log_record(
        self, step: int, scores: Sequence[float], calls: int, tokens: int, elapsed: float, outputs: bool
    ) -> dict[str, Any]:
        """The evaluations.jsonl line of the ``scores`` it just got (the last ones), at ``step`` examples;
        with the answers (``outputs``: generated, not log-prob scored) and any feedback, for reflection."""
        rec: dict[str, Any] = {
            "trial": self.trial.number,
            "candidate": self.candidate.id,
            "instruction": self.candidate.text,
            "phase": self.phase,
            "round": self.round,
            "step": step,
            "n_new": len(scores),
            "scores": list(scores),
            "mean": self.value,
            "lm_calls": calls,
            "tokens": tokens,
            "elapsed": elapsed,
        }
        first = len(self.scores) - len(scores)
        if outputs:
            rec["outputs"] = self.outputs[first:]
        if any(f is not None for f in self.feedback[first:]):
            rec["feedback"] = self.feedback[first:]
        return rec
