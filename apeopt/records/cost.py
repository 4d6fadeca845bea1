"""What the run's prompts cost to deploy, as ``summary.json`` records it: each prompt fully scored on
dev as a point (dev score, prompt tokens per call, tokens per example), the dev-score x tokens
Pareto front, the winner's cost per 1,000 calls, and the cheapest prompt within noise of the best."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

PREFER = ("best", "cheapest")


@dataclass(frozen=True)
class CostPoint:
    """One scored prompt: its dev score (mean over ``n`` items, 95% interval) and what a call costs.

    ``prompt_tokens``: the mean over the dev inputs of the rendered prompt's tokens (instruction,
    demos, template and the input), the model's input on every call; ``tokens_per_example``: all
    tokens its dev scoring took per example (prompt and generated, both CoT stages, every vote)."""

    trial: int
    candidate: str
    phase: str
    label: str
    instruction: str
    demos: int
    score: float
    n: int
    ci: tuple[float, float]
    prompt_tokens: float
    tokens_per_example: float

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci"] = [self.ci[0], self.ci[1]]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CostPoint":
        lo, hi = data.get("ci") or (0.0, 0.0)
        return cls(
            int(data["trial"]),
            str(data.get("candidate", "")),
            str(data.get("phase", "")),
            str(data.get("label", "")),
            str(data.get("instruction", "")),
            int(data.get("demos", 0)),
            float(data["score"]),
            int(data["n"]),
            (float(lo), float(hi)),
            float(data["prompt_tokens"]),
            float(data["tokens_per_example"]),
        )

    def describe(self) -> str:
        what = self.label or self.phase
        return f"trial {self.trial} ({what}, {self.demos} demos)"


@dataclass(frozen=True)
class CostReport:
    """The cost side of a run. ``best``: the search's winner by dev score; ``winner``: the prompt the
    run exports (``best``, or ``cheapest`` with ``prefer == "cheapest"``); ``cheapest``: the prompt
    with the fewest tokens per example that is not credibly worse than ``best`` on dev (the paired
    bootstrap of :mod:`apeopt.optimizer.selection.rule`, best minus it: ``diff`` and its one-sided lower
    bound ``lower`` on ``n`` shared items)."""

    prefer: str
    tokenizer: str  # "model" (the task model's tokenizer) | "estimate" (~4 characters a token)
    best: CostPoint
    winner: CostPoint
    cheapest: CostPoint
    diff: float
    lower: float
    n: int
    front: tuple[CostPoint, ...]
    max_prompt_tokens: int | None = None
    price_per_mtok: float | None = None
    over_limit: int = 0  # candidates never scored because they were longer than max_prompt_tokens

    @property
    def per_1000_calls(self) -> float:
        """The winner's tokens for 1,000 deployed calls (one call answers one input)."""
        return round(1000 * self.winner.tokens_per_example, 1)

    @property
    def money_per_1000_calls(self) -> float | None:
        return None if self.price_per_mtok is None else round(self.per_1000_calls * self.price_per_mtok / 1e6, 6)

    @property
    def saves(self) -> float:
        """The share of the best prompt's tokens per example that the cheapest one within noise saves."""
        if self.best.tokens_per_example <= 0:
            return 0.0
        return round(1.0 - self.cheapest.tokens_per_example / self.best.tokens_per_example, 4)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prefer": self.prefer,
            "tokenizer": self.tokenizer,
            "max_prompt_tokens": self.max_prompt_tokens,
            "price_per_mtok": self.price_per_mtok,
            "over_limit": self.over_limit,
            "winner": self.winner.to_dict(),
            "best": self.best.to_dict(),
            "cheapest_within_noise": self.cheapest.to_dict(),
            "cheapest_vs_best": {"diff": self.diff, "lower": self.lower, "n": self.n, "saves": self.saves},
            "per_1000_calls": {"tokens": self.per_1000_calls, "money": self.money_per_1000_calls},
            "front": [p.to_dict() for p in self.front],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CostReport":
        vs = data.get("cheapest_vs_best") or {}
        limit, price = data.get("max_prompt_tokens"), data.get("price_per_mtok")
        return cls(
            str(data.get("prefer", "best")),
            str(data.get("tokenizer", "model")),
            CostPoint.from_dict(data["best"]),
            CostPoint.from_dict(data["winner"]),
            CostPoint.from_dict(data["cheapest_within_noise"]),
            float(vs.get("diff", 0.0)),
            float(vs.get("lower", 0.0)),
            int(vs.get("n", 0)),
            tuple(CostPoint.from_dict(p) for p in data.get("front") or ()),
            None if limit is None else int(limit),
            None if price is None else float(price),
            int(data.get("over_limit", 0)),
        )


def pareto_front(points: list[CostPoint]) -> tuple[CostPoint, ...]:
    """The points no other point beats on both axes (higher dev score, fewer tokens per example),
    cheapest first; of equal points the earliest trial."""
    front: list[CostPoint] = []
    for p in sorted(points, key=lambda p: (p.tokens_per_example, -p.score, p.trial)):
        if not front or p.score > front[-1].score + 1e-12:
            front.append(p)
    return tuple(front)
