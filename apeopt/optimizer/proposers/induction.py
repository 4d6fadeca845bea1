"""Instruction induction from examples alone, made to get the most out of a small proposer model.

APE's procedure (Zhou et al., 2023) with what has been learned since, each lever switchable in
:class:`~apeopt.optimizer.config.OptimizeConfig` so its effect can be measured on its own:

- the ``induce`` proposer draws many samples (``induce_samples``) from several demo subsets
  (``subsamples``) and keeps the distinct ones. Its prompts keep a small model on task. Where the
  backend renders chat to text, three subsets in four ask how each output is made from its input
  and *begin the model's reply* for it, "Instruction: Write the" or "Each output is the", so the
  model only has to name the output ("plural form of the given noun") and cannot drift into code,
  meta-text or a copy of a demo; the fourth asks for a whole instruction (say what to write, as an
  instruction to a person; no code, no talk about "pairs" or "examples") and shows the data profile
  of the outputs (``profile``, :mod:`apeopt.optimizer.proposers.data_profile`). A backend that
  cannot render chat (an API model) gets the whole-instruction prompt for every subset;
- texts that are code or meta-text (:func:`off_task`), or that copy a demo they were shown instead of
  stating the rule (:func:`quotes_demo`), are dropped before they cost a scoring call;
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

import dataclasses
import math
import re
from itertools import accumulate
from typing import Any, Sequence

from apeopt.errors import BackendError, UserError
from apeopt.models.base import GenerateRequest, LMBackend
from apeopt.optimizer.candidates.pool import dedupe_key
from apeopt.optimizer.proposers.base import ProposalContext, Proposal, Proposer, demo_subsample, format_demos
from apeopt.optimizer.proposers.cleaning import clean_instruction
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
DESCRIBE_SYSTEM = "You describe data precisely and briefly."
DESCRIBE_TEMPLATE = (
    "Here are some inputs, each with its correct output:\n\n{demos}\n\n"
    "How is each output made from its input? Answer in one short sentence that is true for every example above."
)
# The reply begun for the model, and what its completion is put after in the instruction. With
# Qwen2.5-Coder-1.5B as proposer, "Instruction: Write the" gave 31 of 32 samples on target across 8
# built-ins (e.g. "plural form of the given noun.", "larger of the two given numbers."); a whole
# instruction asked for without a begun reply was on target about 1 in 4 (../shared/notes/model-facts.md).
PREFILLS = {"write": ("Instruction: Write the", "Write the"), "describe": ("Each output is the", "Write the")}
# Subset s uses FORMS[s % 4]; "chat" asks for a whole instruction.
FORMS = ("write", "describe", "write", "chat")
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
    """Many instructions from several demo subsets, most with a begun reply (see the module docstring)."""

    name = "induce"

    def requests(self, ctx: ProposalContext) -> list[tuple[GenerateRequest, str | None]]:
        return [(p.request, None) for p in self.plan(ctx)]

    def plan(self, ctx: ProposalContext) -> list["_Planned"]:
        """Each request with its form (``FORMS``) and the whole-instruction request that replaces it
        when the backend cannot begin a reply (:meth:`propose` renders and begins them)."""
        total = int(ctx.extra.get("induce_samples", ctx.n * ctx.subsamples))  # type: ignore[call-overload]
        subsets = max(1, ctx.subsamples)
        per = max(1, math.ceil(total / subsets))
        prof = ctx.extra.get("profile")
        hint = f"{prof.describe()}\n\n" if isinstance(prof, DataProfile) and ctx.extra.get("show_profile", True) else ""
        out: list[_Planned] = []
        for s in range(subsets):
            shown = demo_subsample(ctx.train, ctx.k_demos, ctx.seed * 7919 + 500 + s)
            demos = format_demos(shown)
            whole = GenerateRequest(
                (("system", INDUCE_SYSTEM), ("user", INDUCE_TEMPLATE.format(demos=demos, profile=hint))),
                max_tokens=40,
                temperature=ctx.temperature,
                n=per,
                stop=("\n\n", "\nInput:", "\ntext:"),
                seed=ctx.seed * 1000 + 500 + s,
            )
            form = FORMS[s % len(FORMS)]
            if form == "chat":
                out.append(_Planned(whole, form, whole, tuple(shown)))
            else:
                messages = (("system", DESCRIBE_SYSTEM), ("user", DESCRIBE_TEMPLATE.format(demos=demos)))
                out.append(
                    _Planned(dataclasses.replace(whole, prompt=messages, stop=("\n",)), form, whole, tuple(shown))
                )
        return out

    def propose(self, backend: LMBackend, ctx: ProposalContext, limit: int | None = None) -> list[Proposal]:
        planned = self.plan(ctx)
        if limit is not None:
            planned = [p for p, spent in zip(planned, accumulate(q.request.calls for q in planned)) if spent <= limit]
        reqs: list[GenerateRequest] = []
        leads: list[str] = []
        for p in planned:
            begun = _begin_reply(backend, p.request.prompt, PREFILLS[p.form][0]) if p.form in PREFILLS else None
            reqs.append(p.fallback if begun is None else dataclasses.replace(p.request, prompt=begun))
            leads.append("" if begun is None else PREFILLS[p.form][1] + " ")
        if not reqs:
            return []
        seen: set[str] = set()
        out: list[Proposal] = []
        for p, lead, completion in zip(planned, leads, backend.generate(reqs)):
            for raw in completion.texts:
                if lead and _SAME.match(raw):
                    continue
                text = clean_instruction(lead + _as_instruction(raw) if lead else raw, capitalize=True)
                key = dedupe_key(text or "")
                if not text or key in seen or off_task(text) or quotes_demo(text, p.shown):
                    continue
                seen.add(key)
                out.append(Proposal(text, self.name))
        return out


@dataclasses.dataclass(frozen=True)
class _Planned:
    request: GenerateRequest
    form: str  # one of FORMS
    fallback: GenerateRequest  # the whole-instruction request, for a backend that cannot begin a reply
    shown: tuple[Example, ...] = ()  # the demos its prompt shows


def quotes_demo(text: str, shown: Sequence[Example]) -> bool:
    """Does ``text`` copy a demo it was shown instead of stating the rule: a demo input in quotes, or
    a demo input or output of two words or more verbatim ("Write "negative" if the input is "What a
    terrible screen!"")? A one-word output alone may be a label the instruction names."""
    low = text.lower()
    for ex in shown:
        for part in (ex.input, *ex.targets):
            part = part.strip().lower()
            if not part:
                continue
            quoted = re.search("[\"'\u201c\u2018]" + re.escape(part) + "[\"'\u201d\u2019]", low) is not None
            if (part == ex.input.strip().lower() and quoted) or (len(part.split()) >= 2 and part in low):
                return True
    return False


# A described output that is the input itself ("the same word in lowercase"): no instruction.
_SAME = re.compile(r"\s*(?:same|identical)\b", re.I)
_ITS_INPUT = re.compile(r"\b(?:its|their|the) (?:corresponding |given |respective )?inputs?\b", re.I)


def _as_instruction(completion: str) -> str:
    """A begun reply's completion as the rest of "Write the ...": "its corresponding input" -> "the input"."""
    return _ITS_INPUT.sub("the input", completion.strip())


def _begin_reply(backend: LMBackend, messages: Any, prefill: str) -> str | None:
    """``messages`` rendered by the backend's chat template with the reply begun by ``prefill``;
    None when the backend cannot render chat to text."""
    try:
        return backend.render_chat(messages) + prefill
    except (NotImplementedError, UserError, BackendError):
        return None


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
