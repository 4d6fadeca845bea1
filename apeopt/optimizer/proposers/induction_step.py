"""The search loop's side of induction: which proposers a round uses, what they read besides the
scored history (the data profile, the sample count), the likelihood pre-screen of new instructions,
and the generation guard (see :mod:`apeopt.optimizer.proposers.induction` for the levers)."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.proposers.base import ProposalContext
from apeopt.optimizer.proposers.data_profile import profile
from apeopt.optimizer.proposers.induction import later_proposers, prescreen, round0_proposers
from apeopt.optimizer.selection.guard import GenerationGuard
from apeopt.tasks.task import Example, Task


class Induction:
    """Per run: the data profile of train, the pre-screens done and the guard (if any)."""

    def __init__(
        self,
        config: OptimizeConfig,
        task: Task,
        dev: Sequence[Example],
        backend: Any,
        calls_left: Callable[[], int | None],
    ) -> None:
        self.config = config
        self.task = task
        self.dev = dev
        self.backend = backend
        self.calls_left = calls_left
        self.profile = profile(task.split("train"), task.labels)
        self.screens: list[dict[str, Any]] = []
        self._guard: GenerationGuard | None = None

    def proposers(self, rnd: int) -> list[str]:
        has = self.task.has_instruction
        return (
            round0_proposers(self.config.proposers, has)
            if rnd == 0
            else later_proposers(self.config.later_proposers, has)
        )

    def extra(self) -> dict[str, object]:
        """What the induction proposers read from ``ProposalContext.extra``."""
        return {
            "profile": self.profile,
            "show_profile": self.config.profile,
            "induce_samples": self.config.induce_samples,
            "labels": self.task.labels,
            "human": self.task.instruction,
        }

    @staticmethod
    def context_for(name: str, ctx: ProposalContext) -> ProposalContext:
        """``ctx`` as proposer ``name`` reads it: the empty "no instruction" candidate is a parent only
        of ``constraints`` (a clause alone) and ``reflect`` (an instruction from its failures)."""
        if name in ("constraints", "reflect") or all(p.text.strip() for p in [*ctx.parents, *ctx.history]):
            return ctx
        return dataclasses.replace(
            ctx, parents=[p for p in ctx.parents if p.text.strip()], history=[c for c in ctx.history if c.text.strip()]
        )

    def prescreen(
        self, cands: list[Any], prompts: Sequence[Any], rnd: int, cost: Callable[[Any, Sequence[Example]], int]
    ) -> list[Any]:
        """The candidates whose prompts pass the likelihood pre-screen on the first ``prescreen_items``
        dev items (all of them when there are no more than ``prescreen_keep``). It spends at most half
        of the phase's calls left, counted by ``cost`` (a prompt's LM calls on some items: an item with
        several gold answers costs a call each): on fewer items, or (below one item each) on the first
        candidates."""
        keep, n_items = self.config.prescreen_keep, self.config.prescreen_items
        left = self.calls_left()
        if len(cands) <= keep:
            return cands
        if left is not None:  # the pre-screen may spend half the phase's calls: fewer items, then fewer candidates
            while n_items > 0 and len(cands) * cost(prompts[0], self.dev[:n_items]) > left // 2:
                n_items -= 1
            if n_items < 1:
                m = max(keep, (left // 2) // max(1, cost(prompts[0], self.dev[:1])))
                cands, prompts, n_items = cands[:m], prompts[:m], 1
        items = self.dev[:n_items]
        chosen = prescreen([c.text for c in cands], prompts, items, self.backend, keep)
        self.screens.append(
            {"round": rnd, "items": len(items), "screened": len(cands), "kept": [cands[i].id for i in chosen]}
        )
        return [cands[i] for i in chosen]

    def guard(self, scorer: Any, calls_left: Callable[[], int | None]) -> Callable[[Sequence[Any], Any], Any | None]:
        """The guard's check (it may spend what is left of the run's budget, not only the phase's share)."""
        self._guard = GenerationGuard(self.dev, self.backend, scorer, self.task.labels, calls_left)
        return self._guard.choose

    def guard_checks(self) -> list[dict[str, Any]]:
        return self._guard.rows() if self._guard is not None else []
