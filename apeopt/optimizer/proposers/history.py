"""OPRO (Yang et al., 2024): a meta-prompt with previous instructions and their dev scores."""

from __future__ import annotations

from apeopt.models.base import GenerateRequest
from apeopt.optimizer.proposers.base import Proposer, ProposalContext, demo_subsample, format_demos

HISTORY_TEMPLATE = (
    "Your task is to write an instruction for a task. Below are previous instructions with their scores "
    "from 0 to 100, from worst to best.\n\n{history}\n\nHere are examples of the task:\n\n{demos}\n\n"
    "Write a new instruction that is different from the old ones and has a score as high as possible.\n\ntext:"
)


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
        out: list[tuple[GenerateRequest, str | None]] = []
        for s in range(max(1, ctx.subsamples // 2)):
            demos = demo_subsample(ctx.train, min(3, ctx.k_demos), ctx.seed * 7919 + 300 + s)
            prompt = HISTORY_TEMPLATE.format(history=history, demos=format_demos(demos))
            out.append((self._sample(ctx, prompt, 300 + s), None))
        return out
