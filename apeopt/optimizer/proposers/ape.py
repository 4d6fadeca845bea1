"""APE proposers (Zhou et al., 2023): forward generation from demos, a chat meta-prompt, and resampling
(semantic variations of the best candidates)."""

from __future__ import annotations

from apeopt.models.base import GenerateRequest
from apeopt.optimizer.proposers.base import Proposer, ProposalContext, demo_subsample, format_demos

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


class ForwardProposer(Proposer):
    """APE forward mode: the model completes "The instruction was to" after demos."""

    name = "forward"

    def requests(self, ctx: ProposalContext) -> list[tuple[GenerateRequest, str | None]]:
        out: list[tuple[GenerateRequest, str | None]] = []
        for s in range(ctx.subsamples):
            demos = demo_subsample(ctx.train, ctx.k_demos, ctx.seed * 7919 + s)
            prompt = FORWARD_TEMPLATE.format(k=len(demos), demos=format_demos(demos))
            out.append((self._sample(ctx, prompt, s), None))
        return out


class ChatProposer(Proposer):
    """A chat meta-prompt for instruct models."""

    name = "chat"

    def requests(self, ctx: ProposalContext) -> list[tuple[GenerateRequest, str | None]]:
        out: list[tuple[GenerateRequest, str | None]] = []
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
