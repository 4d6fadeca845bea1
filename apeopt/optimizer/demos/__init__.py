"""Demonstrations: the incumbent ladder (k-shot and retrieval prompts, :mod:`.ladder`), credit assignment
for train examples (:mod:`.credit`), new demo sets around the incumbent's (:mod:`.search`) and
bootstrapped chain-of-thought demos (:mod:`.bootstrap`)."""

__all__ = ["bootstrap", "credit", "ladder", "search"]
