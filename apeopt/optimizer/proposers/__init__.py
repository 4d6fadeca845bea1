"""Proposers: who writes new candidate instructions and what they may read. The ``Proposer`` base and
``ProposalContext`` (:mod:`.base`), the registry, parent selection (:mod:`.parents`), APE forward/chat/variation (:mod:`.ape`), OPRO
(:mod:`.history`), reflection, merge, the round's context, the Pareto front, and text cleaning."""

__all__ = ["ape", "base", "cleaning", "context", "history", "merge", "parents", "pareto", "reflect", "registry"]
