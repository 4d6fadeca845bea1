"""The proposer interface: what a proposer reads (``ProposalContext``), what it returns (``Proposal``),
and the ``Proposer`` base class that samples its requests and cleans the texts.

Templates follow APE (Zhou et al., 2023: forward generation and resampling, :mod:`.ape`), OPRO (Yang
et al., 2024: a meta-prompt with previous instructions and their scores, :mod:`.history`) and GEPA
(Agrawal et al., 2025: reflection on a parent's failures with the scorer's feedback, :mod:`.reflect`;
merges of two candidates that win different dev examples, :mod:`.merge`).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Sequence

from apeopt.models.base import GenerateRequest, LMBackend
from apeopt.optimizer.proposers.cleaning import clean_instruction
from apeopt.optimizer.proposers.pareto import MergePair
from apeopt.tasks.task import Example


@dataclass(frozen=True)
class Proposal:
    """A cleaned instruction text, the proposer that wrote it, and the candidate it varies (if any)."""

    text: str
    origin: str
    parent: str | None = None


@dataclass(frozen=True)
class ScoredCandidate:
    """A candidate as the proposers see it: id, text and its dev score in [0, 1]."""

    id: str
    text: str
    score: float


@dataclass(frozen=True)
class Observed:
    """One dev example as a candidate's prompt fared on it: what reflection and merges show."""

    index: int  # position in dev
    input: str
    expected: str
    output: str | None  # None: not generated (likelihood scoring) or not logged
    score: float
    feedback: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "input": self.input,
            "expected": self.expected,
            "output": self.output,
            "score": self.score,
            "feedback": self.feedback,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Observed":
        return cls(
            int(d["index"]), str(d["input"]), str(d["expected"]), d.get("output"), float(d["score"]), d.get("feedback")
        )


@dataclass
class ProposalContext:
    """What a proposer may read: train examples and the dev-scored history (never test).

    ``results`` holds, per candidate id, the dev examples its best-scored prompt was scored on;
    ``merges`` the pairs of Pareto-front candidates that win different dev examples."""

    train: Sequence[Example]
    history: Sequence[ScoredCandidate] = ()
    parents: Sequence[ScoredCandidate] = ()
    n: int = 4
    subsamples: int = 4
    k_demos: int = 5
    temperature: float = 0.9
    seed: int = 0
    results: dict[str, tuple[Observed, ...]] = field(default_factory=dict)
    merges: Sequence[MergePair] = ()
    likelihood: bool = False  # scores are log-probabilities (no generated answers, no feedback)
    reflect_tokens: int = 1200  # hard cap on a reflection or merge prompt (estimated tokens)
    reflect_failures: int = 4
    reflect_successes: int = 1
    # what a proposer reads beyond the scored history (the induction proposers: the data profile,
    # the sample count, the labels and the human instruction; apeopt.optimizer.proposers.induction_step)
    extra: dict[str, object] = field(default_factory=dict)


class Proposer(ABC):
    """Writes candidate instructions: builds generation requests from the context, samples them, cleans the texts."""

    name: str = ""
    later_only: bool = False  # needs scored candidates: used in the rounds after round 0 only

    def planned_requests(self, parents: int, subsamples: int) -> int:
        """Requests (of ``n`` samples each) it sends in a later round at most, for the cost estimate."""
        return parents

    @abstractmethod
    def requests(self, ctx: ProposalContext) -> list[tuple[GenerateRequest, str | None]]:
        """Generation requests, each with the id of the parent candidate it varies (or None)."""

    def propose(self, backend: LMBackend, ctx: ProposalContext, limit: int | None = None) -> list[Proposal]:
        """Sample the requests (those that fit ``limit``, the calls left in a budget) and clean the texts."""
        reqs = self.requests(ctx)
        if limit is not None:
            reqs = [r for r, spent in zip(reqs, accumulate(q.calls for q, _ in reqs)) if spent <= limit]
        if not reqs:
            return []
        completions = backend.generate([r for r, _ in reqs])
        out: list[Proposal] = []
        for (_, parent), completion in zip(reqs, completions):
            for text in completion.texts:
                cleaned = clean_instruction(text, capitalize=True)
                if cleaned:
                    out.append(Proposal(cleaned, self.name, parent))
        return out

    def _sample(self, ctx: ProposalContext, prompt: object, salt: int) -> GenerateRequest:
        return GenerateRequest(
            prompt,  # type: ignore[arg-type]
            max_tokens=48,
            temperature=ctx.temperature,
            n=ctx.n,
            stop=("\n\n", "\nInput:", "\ntext:", "\nscore:"),
            seed=ctx.seed * 1000 + salt,
        )


def format_demos(examples: Sequence[Example]) -> str:
    """Input/Output pairs, one blank line apart."""
    return "\n\n".join(f"Input: {ex.input}\nOutput: {ex.target}" for ex in examples)


def demo_subsample(train: Sequence[Example], k: int, seed: int) -> list[Example]:
    """``k`` train examples drawn with ``seed`` (all of train when it is smaller)."""
    k = min(k, len(train))
    return [train[i] for i in random.Random(seed).sample(range(len(train)), k)]
