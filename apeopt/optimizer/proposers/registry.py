"""The proposer registry: a name (``forward``, ``chat``, ...) to its class, loaded on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apeopt.registry import Registry

if TYPE_CHECKING:
    from apeopt.optimizer.proposers.base import Proposer

PROPOSERS: "Registry[type[Proposer]]" = Registry("proposer")
PROPOSERS.add("forward", "apeopt.optimizer.proposers.ape:ForwardProposer")
PROPOSERS.add("chat", "apeopt.optimizer.proposers.ape:ChatProposer")
PROPOSERS.add("variation", "apeopt.optimizer.proposers.ape:VariationProposer")
PROPOSERS.add("history", "apeopt.optimizer.proposers.history:HistoryProposer")
PROPOSERS.add("reflect", "apeopt.optimizer.proposers.reflect:ReflectProposer")
PROPOSERS.add("merge", "apeopt.optimizer.proposers.merge:MergeProposer")
