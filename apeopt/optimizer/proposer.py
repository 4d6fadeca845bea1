"""Proposers: an LLM writes candidate instructions from demos, variations, the scored history, or failures.

Templates follow APE (Zhou et al., 2023: forward generation and resampling), OPRO (Yang et al., 2024:
a meta-prompt with previous instructions and their scores) and GEPA (Agrawal et al., 2025: reflection
on a parent's failures with the scorer's feedback, :mod:`apeopt.optimizer.reflect`; merges of two
candidates that win different dev examples, :mod:`apeopt.optimizer.merge`).
"""

from __future__ import annotations

import random
import re
from itertools import accumulate
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Sequence

from apeopt.models.base import GenerateRequest, LMBackend
from apeopt.optimizer.pareto import MergePair
from apeopt.registry import Registry
from apeopt.scorers.normalize import normalize
from apeopt.tasks.task import Example

FORWARD_TEMPLATE = (
    "I gave a friend an instruction and {k} inputs. The friend read the instruction and wrote an output "
    "for every one of the inputs. Here are the input-output pairs:\n\n{demos}\n\nThe instruction was to"
)
CHAT_TEMPLATE = (
    "Here are input-output pairs of a task:\n\n{demos}\n\n"
    "Write the one-sentence instruction that tells someone how to turn each input into its output. "
    "Reply with the instruction only."
)
VARIATION_TEMPLATE = (
    "Generate a variation of the following instruction while keeping the semantic meaning.\n\n"
    "Input: {instruction}\n\nOutput:"
)
HISTORY_TEMPLATE = (
    "Your task is to write an instruction for a task. Below are previous instructions with their scores "
    "from 0 to 100, from worst to best.\n\n{history}\n\nHere are examples of the task:\n\n{demos}\n\n"
    "Write a new instruction that is different from the old ones and has a score as high as possible.\n\ntext:"
)


@dataclass(frozen=True)
class Proposal:
    text: str
    origin: str
    parent: str | None = None


@dataclass(frozen=True)
class ScoredCandidate:
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
        return {"index": self.index, "input": self.input, "expected": self.expected, "output": self.output,
                "score": self.score, "feedback": self.feedback}

    @classmethod
    def from_dict(cls, d: dict) -> "Observed":  # type: ignore[type-arg]
        return cls(int(d["index"]), str(d["input"]), str(d["expected"]), d.get("output"), float(d["score"]), d.get("feedback"))


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
    extra: dict[str, object] = field(default_factory=dict)


class Proposer(ABC):
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
    return "\n\n".join(f"Input: {ex.input}\nOutput: {ex.target}" for ex in examples)


def demo_subsample(train: Sequence[Example], k: int, seed: int) -> list[Example]:
    k = min(k, len(train))
    return [train[i] for i in random.Random(seed).sample(range(len(train)), k)]


class ForwardProposer(Proposer):
    """APE forward mode: the model completes "The instruction was to" after demos."""

    name = "forward"

    def requests(self, ctx: ProposalContext) -> list[tuple[GenerateRequest, str | None]]:
        out = []
        for s in range(ctx.subsamples):
            demos = demo_subsample(ctx.train, ctx.k_demos, ctx.seed * 7919 + s)
            prompt = FORWARD_TEMPLATE.format(k=len(demos), demos=format_demos(demos))
            out.append((self._sample(ctx, prompt, s), None))
        return out


class ChatProposer(Proposer):
    """A chat meta-prompt for instruct models."""

    name = "chat"

    def requests(self, ctx: ProposalContext) -> list[tuple[GenerateRequest, str | None]]:
        out = []
        for s in range(ctx.subsamples):
            demos = demo_subsample(ctx.train, ctx.k_demos, ctx.seed * 7919 + 100 + s)
            msgs = (
                ("system", "You write short, precise task instructions."),
                ("user", CHAT_TEMPLATE.format(demos=format_demos(demos))),
            )
            out.append((self._sample(ctx, msgs, 100 + s), None))
        return out


class VariationProposer(Proposer):
    """APE resampling: semantic variations of the best candidates."""

    name = "variation"
    later_only = True

    def requests(self, ctx: ProposalContext) -> list[tuple[GenerateRequest, str | None]]:
        return [
            (self._sample(ctx, VARIATION_TEMPLATE.format(instruction=p.text), 200 + i), p.id)
            for i, p in enumerate(ctx.parents)
        ]


class HistoryProposer(Proposer):
    """OPRO: new candidates conditioned on previous instructions and their dev scores."""

    name = "history"
    later_only = True

    def planned_requests(self, parents: int, subsamples: int) -> int:
        return max(1, subsamples // 2)

    def requests(self, ctx: ProposalContext) -> list[tuple[GenerateRequest, str | None]]:
        if not ctx.history:
            return []
        ranked = sorted(ctx.history, key=lambda c: c.score)
        shown = ranked[:2] + ranked[-6:] if len(ranked) > 8 else ranked  # worst and best
        history = "\n\n".join(f"text:\n{c.text}\nscore:\n{round(100 * c.score)}" for c in shown)
        out = []
        for s in range(max(1, ctx.subsamples // 2)):
            demos = demo_subsample(ctx.train, min(3, ctx.k_demos), ctx.seed * 7919 + 300 + s)
            prompt = HISTORY_TEMPLATE.format(history=history, demos=format_demos(demos))
            out.append((self._sample(ctx, prompt, 300 + s), None))
        return out


PROPOSERS: Registry[type[Proposer]] = Registry("proposer")
PROPOSERS.add("forward", ForwardProposer)
PROPOSERS.add("chat", ChatProposer)
PROPOSERS.add("variation", VariationProposer)
PROPOSERS.add("history", HistoryProposer)
PROPOSERS.add("reflect", "apeopt.optimizer.reflect:ReflectProposer")
PROPOSERS.add("merge", "apeopt.optimizer.merge:MergeProposer")
PROPOSERS.add("induce", "apeopt.optimizer.induction:InduceProposer")
PROPOSERS.add("constraints", "apeopt.optimizer.constraint_clauses:ConstraintProposer")

# Text that is no instruction: the writer speaking of themselves, a question, a header ("Refinements
# of this instruction:"), the meta-prompt echoed or named ("Instruction A and B combine…", "The
# instruction should include…"), or a template placeholder ("Your response here.").
_NOT_INSTRUCTION = re.compile(
    r"\b(?:i|i'm|i've|i'll|i'd|me|my|mine|myself)\b|\?\s*$|:\s*$|one-sentence instruction"
    r"|the (?:\w+ )?instruction (?:was|is|should|must|will)\b|\binstructions? [ab]\b"
    r"|^\W*your (?:\w+ )?(?:response|answer|instruction|text|reply) (?:goes )?here\W*$"
    r"|input-output pairs|\bthe friend\b",
    re.I,
)
_PREFIX = re.compile(r"^(?:the\s+)?(?:(?:new|improved|revised|updated|combined|merged)\s+)?(?:instruction|text|answer|output)\s*(?:was|is)?\s*[:\-]\s*", re.I)


def clean_instruction(text: str, capitalize: bool = True) -> str | None:
    """First non-empty line, without quotes or an "Instruction:" label; None when it is no instruction."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = _PREFIX.sub("", line).strip().strip("\"'`*").strip()
    line = " ".join(line.split())
    words = line.split()
    if len(words) < 3 or len(words) > 60 or "Input:" in line or "Output:" in line or _NOT_INSTRUCTION.search(line):
        return None
    if capitalize:
        line = line[0].upper() + line[1:]
    if line[-1] not in ".!?":
        line += "."
    return line


def dedupe_key(text: str) -> str:
    return normalize(text)
