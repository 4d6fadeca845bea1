"""The ``reflect`` proposer: a revised instruction from a parent's dev failures and the scorer's feedback.

As in GEPA's reflective mutation (Agrawal et al., 2025), the proposer model sees, for one parent
candidate, a seeded minibatch of the dev examples its prompt got wrong (and a few it got right):
input, the model's answer, the expected answer and the scorer's reason, and writes a revised
instruction that may add rules or an output-format note. A parent without failures is skipped.

Every reflection prompt has a hard cap in estimated tokens (``ProposalContext.reflect_tokens``; ~4
characters a token): fields are shortened and cases dropped until it fits, so one huge example
cannot blow the prompt up (GEPA users lost runs to a 568K-token reflection prompt, dspy#9059).
Its calls go through the proposer backend like every proposer's, so the budget counts them.
"""

from __future__ import annotations

import math
import random
from typing import Callable, Sequence

from apeopt.models.base import GenerateRequest, Message
from apeopt.optimizer.proposers.base import Observed, ProposalContext, Proposer

SYSTEM = "You improve task instructions by studying the mistakes a model made while following them."
HEAD = 'A model was given this instruction:\n"""\n{instruction}\n"""\n\nHere is how it answered some inputs of the task:\n\n'
TAIL = (
    "\n\nWrite an improved instruction that would make the model answer all of these correctly. Say exactly "
    "what the answer is and its format (for example: one word, a number, no explanation); add a short rule "
    "for the mistakes above if it helps. Reply with the new instruction only, in one paragraph."
)
STOP = ("\n\n", "\nInput:", "\nCase ")
MAX_TOKENS = 96
# Characters per field tried in turn while cases are added: a case that does not fit at the first
# width is shortened to the next; one that does not fit at the last is left out.
WIDTHS = (400, 160, 60)
MIN_TOKENS = 200  # the smallest cap a reflection prompt can be built under (config validation)


def _estimate_tokens(text: str) -> int:
    """A model-free token estimate: ~4 characters a token."""
    return math.ceil(len(text) / 4)


def message_tokens(messages: Sequence[Message]) -> int:
    """Estimated tokens of chat messages (content plus a few per message)."""
    return sum(_estimate_tokens(content) + 4 for _, content in messages)


def cut(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with a marker of what was left out."""
    t = " ".join(str(text).split())
    return t if len(t) <= width else t[: max(1, width - 20)] + f" …[{len(t) - width + 20} chars cut]"


def _render_case(i: int, o: Observed, width: int, likelihood: bool) -> str:
    """One dev example as reflection shows it, each field cut to ``width`` characters."""
    lines = [f"Case {i}", f"Input: {cut(o.input, width)}"]
    if o.output is not None:
        lines.append(f"Model answer: {cut(o.output, width) or '(empty)'}")
    elif likelihood:
        lines.append(f"Model answer: (not generated; mean log-probability of the expected answer {o.score:.2f})")
    lines.append(f"Expected answer: {cut(o.expected, width)}")
    verdict = (
        "correct"
        if (not likelihood and o.score >= 1.0)
        else (o.feedback or ("wrong" if not likelihood else "low probability"))
    )
    lines.append(f"Feedback: {cut(verdict, width)}")
    return "\n".join(lines)


def _fit_prompt(
    build: Callable[[str, str], tuple[Message, ...]],
    head: str,
    cases: Sequence[Callable[[int], str]],
    cap: int,
    keep_head: int,
) -> tuple[tuple[Message, ...], int] | None:
    """Messages ``build(head, body)`` whose estimated tokens stay within ``cap``: the head cut to what is
    left after ``keep_head`` characters are kept for it at most, then as many cases as fit, each at the
    widest of ``WIDTHS`` that fits. Returns the messages and the number of cases, or None when no case fits."""
    head = head if len(head) <= keep_head else cut(head, keep_head)
    body: list[str] = []
    for render in cases:
        for width in WIDTHS:
            trial = "\n\n".join([*body, render(width)])
            if message_tokens(build(head, trial)) <= cap:
                body.append(render(width))
                break
        else:
            break
    if not body:
        return None
    return build(head, "\n\n".join(body)), len(body)


def _pick_cases(
    results: Sequence[Observed], failures: int, successes: int, likelihood: bool, seed: int
) -> list[Observed]:
    """A seeded minibatch: up to ``failures`` wrong examples, then up to ``successes`` right ones.
    Under likelihood scoring the lowest-scored examples are the failures and the highest the successes."""
    if likelihood:
        ranked = sorted(results, key=lambda o: (o.score, o.index))
        half = len(ranked) // 2
        bad, good = ranked[:half], ranked[half:]
        return bad[:failures] + good[::-1][:successes]
    bad = [o for o in results if o.score < 1.0]
    good = [o for o in results if o.score >= 1.0]
    rng = random.Random(seed)
    return rng.sample(bad, min(failures, len(bad))) + rng.sample(good, min(successes, len(good)))


class ReflectProposer(Proposer):
    """GEPA-style reflection on each parent's failures (see the module docstring)."""

    name = "reflect"
    later_only = True

    def requests(self, ctx: ProposalContext) -> list[tuple[GenerateRequest, str | None]]:
        out: list[tuple[GenerateRequest, str | None]] = []
        for i, parent in enumerate(ctx.parents):
            results = ctx.results.get(parent.id, ())
            cases = _pick_cases(
                results, ctx.reflect_failures, ctx.reflect_successes, ctx.likelihood, ctx.seed * 7919 + 400 + i
            )
            if not cases or (not ctx.likelihood and all(o.score >= 1.0 for o in cases)):
                continue  # nothing went wrong: nothing to reflect on
            fitted = self.prompt(parent.text, cases, ctx.reflect_tokens, ctx.likelihood)
            if fitted is None:
                continue
            msgs, _ = fitted
            out.append(
                (
                    GenerateRequest(
                        msgs,
                        max_tokens=MAX_TOKENS,
                        temperature=ctx.temperature,
                        n=ctx.n,
                        stop=STOP,
                        seed=ctx.seed * 1000 + 400 + i,
                    ),
                    parent.id,
                )
            )
        return out

    @staticmethod
    def prompt(
        instruction: str, cases: Sequence[Observed], cap: int, likelihood: bool = False
    ) -> tuple[tuple[Message, ...], int] | None:
        """The reflection messages for ``instruction`` and ``cases`` under ``cap`` estimated tokens."""

        def build(head: str, body: str) -> tuple[Message, ...]:
            return (("system", SYSTEM), ("user", HEAD.format(instruction=head) + body + TAIL))

        renders = [lambda w, j=j, o=o: _render_case(j, o, w, likelihood) for j, o in enumerate(cases, 1)]
        fixed = message_tokens(build("", ""))
        return _fit_prompt(build, instruction, renders, cap, keep_head=max(40, 4 * (cap - fixed) // 3))
