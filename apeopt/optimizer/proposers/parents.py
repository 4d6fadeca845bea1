"""Parent selection: which scored candidates the later rounds' proposers vary, as small policies by name.

``top`` takes the ``k`` best candidates by dev mean; ``pareto`` draws from the per-example Pareto front
on dev with probability proportional to the examples each member wins (GEPA), then fills up with the
best by mean. A new policy is one class here (or in its own module) plus one ``PARENTS`` line.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

from apeopt.optimizer.proposers.base import ScoredCandidate
from apeopt.optimizer.proposers.pareto import Front, sample_parents
from apeopt.registry import Registry


class ParentPolicy(ABC):
    """Chooses ``k`` parents from the candidates ranked by dev mean (ascending)."""

    needs_front: bool = False  # reads the Pareto front (the context computes it only when asked)

    @abstractmethod
    def select(
        self, ranked: Sequence[ScoredCandidate], front: Front | None, k: int, seed: int
    ) -> list[ScoredCandidate]:
        """The parents, best first."""


class TopParents(ParentPolicy):
    """The ``k`` best candidates by dev mean."""

    def select(
        self, ranked: Sequence[ScoredCandidate], front: Front | None, k: int, seed: int
    ) -> list[ScoredCandidate]:
        return list(ranked[-k:][::-1])


class ParetoParents(ParentPolicy):
    """Drawn from the per-example Pareto front (weighted by examples won), then the best by mean."""

    needs_front = True

    def select(
        self, ranked: Sequence[ScoredCandidate], front: Front | None, k: int, seed: int
    ) -> list[ScoredCandidate]:
        top = list(ranked[-k:][::-1])
        if front is None or not front.wins:
            return top
        by_id = {c.id: c for c in ranked}
        drawn = [by_id[c] for c in sample_parents(front, k, seed=seed) if c in by_id]
        return drawn + [c for c in top if c not in drawn][: max(0, k - len(drawn))]


PARENTS: Registry[type[ParentPolicy]] = Registry("parent selection")
PARENTS.add("top", TopParents)
PARENTS.add("pareto", ParetoParents)
