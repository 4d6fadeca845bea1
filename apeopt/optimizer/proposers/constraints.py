"""Constraint clauses: deterministic output-format sentences derived from the data profile, appended
to instructions (a SAMMO-style structural mutation: no LLM call).

From a :class:`~apeopt.optimizer.proposers.data_profile.DataProfile` come clauses such as "Answer with one word.",
"Answer with one of: positive, negative." or "Answer with a number only."; the ``constraints``
proposer appends them to its parents (the human instruction or the best candidates so far; with no
instruction at all, a clause alone is a candidate: the answer's shape, nothing about the task).
"""

from __future__ import annotations

from apeopt.models.base import GenerateRequest, LMBackend
from apeopt.optimizer.candidates.pool import dedupe_key
from apeopt.optimizer.proposers.base import ProposalContext, Proposal, Proposer
from apeopt.optimizer.proposers.data_profile import DataProfile, profile

ONLY = "Give only the answer, with no explanation."
MAX_LABELS_SHOWN = 8


def shape_clause(p: DataProfile) -> str | None:
    """The clause that says what the answer is (its kind, and its casing where that is uniform)."""
    case = {"upper": " in capital letters", "lower": " in lowercase"}.get(p.casing, "")
    if p.kind == "label" and p.labels:
        return f"Answer with one of: {', '.join(p.labels[:MAX_LABELS_SHOWN])}."
    if p.kind == "number":
        return "Answer with a number only."
    if p.kind == "letter":
        return f"Answer with a single letter{case}."
    if p.kind == "letters":
        return f"Answer with letters separated by spaces{case}."
    if p.kind == "word":
        return f"Answer with one word{case}."
    if p.kind == "words":
        return f"Answer in at most {p.max_words} words{case}."
    return None


def clauses(p: DataProfile) -> list[str]:
    """The clauses to try, most specific first (at most two)."""
    out = [c for c in (shape_clause(p),) if c]
    if p.copied and p.kind not in ("label", "number"):
        out.append("Answer with a part of the input, copied exactly.")
    out.append(ONLY)
    return out[:2]


def with_clause(instruction: str, clause: str) -> str:
    """``instruction`` followed by ``clause`` (the clause alone for an empty instruction)."""
    text = instruction.strip()
    if not text:
        return clause
    if dedupe_key(clause) in dedupe_key(text):
        return text
    return f"{text}{'' if text[-1] in '.!?' else '.'} {clause}"


class ConstraintProposer(Proposer):
    """Appends the data profile's clauses to each parent (no LM calls)."""

    name = "constraints"

    def planned_requests(self, parents: int, subsamples: int) -> int:
        return 0

    def requests(self, ctx: ProposalContext) -> list[tuple[GenerateRequest, str | None]]:
        return []

    def propose(self, backend: LMBackend, ctx: ProposalContext, limit: int | None = None) -> list[Proposal]:
        prof = ctx.extra.get("profile")
        if not isinstance(prof, DataProfile):
            prof = profile(ctx.train, ctx.extra.get("labels"))  # type: ignore[arg-type]
        bases: list[tuple[str, str | None]] = [(p.text, p.id) for p in ctx.parents]
        if not bases:
            bases = [(str(ctx.extra.get("human") or ""), None)]
        out: list[Proposal] = []
        for text, parent in bases:
            for clause in clauses(prof):
                new = with_clause(text, clause)
                if dedupe_key(new) != dedupe_key(text):
                    out.append(Proposal(new, self.name, parent))
        return out
