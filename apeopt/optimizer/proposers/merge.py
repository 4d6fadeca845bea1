"""The ``merge`` proposer: one instruction that combines two candidates that win different dev examples.

The pairs come from the per-example Pareto front (:func:`apeopt.optimizer.proposers.pareto.merge_pairs`):
candidate A is best on some dev examples where B is not, and B on others. The proposer model sees
both instructions and, for each, examples it gets right that the other does not (input and
expected answer), and writes one instruction that keeps what makes each work. GEPA merges
candidates module by module; a single instruction has one module, so here the proposer model
does the combining. The prompt has the same hard token cap as a reflection prompt.
"""

from __future__ import annotations

from typing import Sequence

from apeopt.models.base import GenerateRequest, Message
from apeopt.optimizer.proposers.base import Observed, ProposalContext, Proposer
from apeopt.optimizer.proposers.reflect import MAX_TOKENS, STOP, cut, message_tokens

SYSTEM = "You combine task instructions into one that keeps the strengths of each."
HEAD = (
    'Two instructions for the same task work on different inputs.\n\nInstruction A:\n"""\n{a}\n"""\n\n'
    'Instruction B:\n"""\n{b}\n"""\n\n'
)
TAIL = (
    "\n\nWrite one instruction that combines A and B so that a model following it answers all of these "
    "inputs correctly. Reply with the new instruction only, in one paragraph."
)
SHOWN = 3  # examples shown per parent at most
WIDTHS = (300, 120, 50)


def _cases(label: str, shown: Sequence[Observed], width: int) -> str:
    rows = [f"Input: {cut(o.input, width)}\nExpected answer: {cut(o.expected, width)}" for o in shown]
    return f"Examples that only {label} gets right:\n\n" + "\n\n".join(rows)


class MergeProposer(Proposer):
    """GEPA's merge: one instruction that combines two Pareto-front candidates winning different examples."""

    name = "merge"
    later_only = True

    def planned_requests(self, parents: int, subsamples: int) -> int:
        return min(2, max(1, parents // 2))

    def requests(self, ctx: ProposalContext) -> list[tuple[GenerateRequest, str | None]]:
        texts = {c.id: c.text for c in ctx.history}
        out: list[tuple[GenerateRequest, str | None]] = []
        for i, pair in enumerate(ctx.merges):
            if pair.a not in texts or pair.b not in texts:
                continue
            by_a = {o.index: o for o in ctx.results.get(pair.a, ())}
            by_b = {o.index: o for o in ctx.results.get(pair.b, ())}
            shown_a = [by_a[j] for j in pair.only_a if j in by_a][:SHOWN]
            shown_b = [by_b[j] for j in pair.only_b if j in by_b][:SHOWN]
            msgs = self.prompt(texts[pair.a], texts[pair.b], shown_a, shown_b, ctx.reflect_tokens)
            if msgs is None:
                continue
            out.append(
                (
                    GenerateRequest(
                        msgs,
                        max_tokens=MAX_TOKENS,
                        temperature=ctx.temperature,
                        n=ctx.n,
                        stop=STOP,
                        seed=ctx.seed * 1000 + 500 + i,
                    ),
                    pair.a,
                )
            )
        return out

    @staticmethod
    def prompt(
        a: str, b: str, shown_a: Sequence[Observed], shown_b: Sequence[Observed], cap: int
    ) -> tuple[Message, ...] | None:
        """The merge messages under ``cap`` estimated tokens: instructions cut to a third of the cap each
        at most, then the examples at the widest width that fits (fewer of them if none does)."""

        def build(ia: str, ib: str, body: str) -> tuple[Message, ...]:
            return (("system", SYSTEM), ("user", HEAD.format(a=ia, b=ib) + body + TAIL))

        room = max(40, 4 * (cap - message_tokens(build("", "", ""))) // 3)
        ia, ib = (t if len(t) <= room else cut(t, room) for t in (a, b))
        for k in range(max(len(shown_a), len(shown_b)), 0, -1):
            for width in WIDTHS:
                body = _cases("A", shown_a[:k], width) + "\n\n" + _cases("B", shown_b[:k], width)
                msgs = build(ia, ib, body)
                if message_tokens(msgs) <= cap:
                    return msgs
        return None
