"""Scheduling: what the search may spend and on what. The budget and every share of it
(:mod:`.budget`, the one owner of the phase shares, the closing reserve and the per-phase slices),
the phases of a round (:mod:`.phases`), successive halving (:mod:`.halving`), its synchronous pruner (:mod:`.pruner`) and the Optuna study
with its samplers (:mod:`.study`)."""

__all__ = ["budget", "halving", "phases", "pruner", "study"]
