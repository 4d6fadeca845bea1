"""Instruction induction from examples alone, made to get the most out of a small proposer model.

APE's procedure (Zhou et al., 2023) with what has been learned since, each lever switchable in
:class:`~apeopt.optimizer.config.OptimizeConfig` so its effect can be measured on its own:

- the ``induce`` proposer draws many samples (``induce_samples``) from several demo subsets
  (``subsamples``), half with a chat prompt and half with APE's forward prompt, and keeps the
  distinct ones; its prompts keep a small model on task (say what to write, as an instruction to a
  person; no code, no talk about "pairs" or "examples") and show it the data profile of the outputs
  (``profile``, :mod:`apeopt.optimizer.proposers.data_profile`);
- texts that are code or meta-text (:func:`off_task`) are dropped before they cost a scoring call;
- a cheap pre-screen (``prescreen_items``): new instructions are ranked by the task model's mean
  gold-answer log-likelihood on a few dev items and only the best ``prescreen_keep`` go on to
  successive halving (APE's own filter);
- without a human instruction, round 0 proposes with ``induce`` and ``constraints``
  (:mod:`apeopt.optimizer.proposers.constraints`) and later rounds also append constraint clauses to
  the best candidates; APE's resampling around the best is the ``variation`` proposer of later rounds.

The guard that keeps likelihood from choosing meta-text that generation punishes is
:mod:`apeopt.optimizer.selection.guard`.
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

from apeopt.models.base import GenerateRequest, LMBackend
from apeopt.optimizer.candidates.pool import dedupe_key
from apeopt.optimizer.proposers.ape import FORWARD_TEMPLATE
from apeopt.optimizer.proposers.base import ProposalContext, Proposal, Proposer, demo_subsample, format_demos
from apeopt.optimizer.proposers.data_profile import DataProfile
from apeopt.tasks.task import Example

INDUCE_SYSTEM = "You write short, clear instructions for people doing simple tasks."
INDUCE_TEMPLATE = (
    "A person is given an input and must write the output. Here are some inputs with the correct outputs:\n\n"
    "{demos}\n\n{profile}"
    "Write the instruction you would give the person so that they write the correct output for a new input. "
    'Start with a verb (for example "Write ..." or "Give ..."), say exactly what the output is, in one '
    "sentence. It is not a programming task: do not mention code, functions or programs, and do not mention "
    "these examples. Reply with the instruction only."
)
# Round 0's proposers when the task has no human instruction; later rounds add ``constraints``.
NO_INSTRUCTION_PROPOSERS = ("induce", "constraints")
# Code, or talk about the prompt instead of the task: a generic failure of small (coder) proposers.
_OFF_TASK = re.compile(
    r"\b(?:function|program|script|code|python|javascript|java|algorithm|variable|def)s?\b"
    r"|\(\)|[{}`;]|=>|input-output|\bpairs?\b|\bexamples?\b|corresponding output|the (?:given|following) (?:outputs?|list)"
    r"|\bfriend\b|\binstructions?\b",
    re.I,
)


def off_task(text: str) -> bool:
    """Is ``text`` code or meta-text rather than an instruction for the task? (see ``_OFF_TASK``)."""
    return bool(_OFF_TASK.search(text))


def round0_proposers(names: Sequence[str], has_instruction: bool) -> list[str]:
    """Round 0's proposers: ``names``, led by ``induce`` and ``constraints`` when there is no human instruction."""
    if has_instruction:
        return list(names)
    return list(NO_INSTRUCTION_PROPOSERS) + [n for n in names if n not in NO_INSTRUCTION_PROPOSERS]


def later_proposers(names: Sequence[str], has_instruction: bool) -> list[str]:
    """Later rounds' proposers: ``names``, plus ``constraints`` on the best candidates without a human instruction."""
    return list(names) if has_instruction or "constraints" in names else [*names, "constraints"]


class InduceProposer(Proposer):
    """Many instructions from several demo subsets, chat and forward prompts (see the module docstring)."""

    name = "induce"

    def requests(self, ctx: ProposalContext) -> list[tuple[GenerateRequest, str | None]]:
        total = int(ctx.extra.get("induce_samples", ctx.n * ctx.subsamples))  # type: ignore[call-overload]
        subsets = max(1, ctx.subsamples)
        per = max(1, math.ceil(total / subsets))
        prof = ctx.extra.get("profile")
        hint = f"{prof.describe()}\n\n" if isinstance(prof, DataProfile) and ctx.extra.get("show_profile", True) else ""
        out: list[tuple[GenerateRequest, str | None]] = []
        for s in range(subsets):
            demos = demo_subsample(ctx.train, ctx.k_demos, ctx.seed * 7919 + 500 + s)
            if s % 2 == 0:
                prompt: Any = (
                    ("system", INDUCE_SYSTEM),
                    ("user", INDUCE_TEMPLATE.format(demos=format_demos(demos), profile=hint)),
                )
            else:  # APE's forward prompt, with the profile as a note before it
                prompt = (hint.replace("Every output", "Note: every output") if hint else "") + FORWARD_TEMPLATE.format(
                    k=len(demos), demos=format_demos(demos)
                )
            req = GenerateRequest(
                prompt,
                max_tokens=40,
                temperature=ctx.temperature,
                n=per,
                stop=("\n\n", "\nInput:", "\ntext:"),
                seed=ctx.seed * 1000 + 500 + s,
            )
            out.append((req, None))
        return out

    def propose(self, backend: LMBackend, ctx: ProposalContext, limit: int | None = None) -> list[Proposal]:
        seen: set[str] = set()
        out: list[Proposal] = []
        for p in super().propose(backend, ctx, limit):
            key = dedupe_key(p.text)
            if key in seen or off_task(p.text):
                continue
            seen.add(key)
            out.append(p)
        return out


def prescreen(
    texts: Sequence[str], prompts: Sequence[Any], dev: Sequence[Example], backend: LMBackend, keep: int
) -> list[int]:
    """Indices of the ``keep`` texts whose prompts give the gold answers of ``dev`` the highest mean
    log-likelihood under ``backend`` (ties: the earlier text), in their original order."""
    from apeopt.evaluation import evaluate_many
    from apeopt.scorers import get_scorer

    if len(texts) <= keep or not dev:
        return list(range(len(texts)))
    results = evaluate_many([(p, dev) for p in prompts], backend, get_scorer("likelihood"))
    means = [sum(r.scores) / len(r.scores) if r.scores else -math.inf for r in results]
    best = sorted(range(len(texts)), key=lambda i: (-means[i], i))[:keep]
    return sorted(best)
