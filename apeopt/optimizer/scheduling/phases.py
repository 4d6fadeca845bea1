"""The phases of a round, as small objects by name, and the order a round runs them in.

A phase makes the entries it wants scored against the incumbent (demo sets, format trials, new
instructions); the loop scores them by successive halving under the phase's budget share
(:mod:`.budget`), finishes the leaders and applies the acceptance rule. A new phase is one class
plus one ``PHASES`` line (and its share in :mod:`.budget`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from apeopt.registry import Registry

if TYPE_CHECKING:
    from apeopt.optimizer.candidates.entry import Entry
    from apeopt.optimizer.loop import Optimizer


class Phase(ABC):
    """One phase: the entries it asks the loop to score in round ``rnd``."""

    name: str = ""
    first_round_only: bool = False  # runs in round 0 only

    @abstractmethod
    def entries(self, opt: "Optimizer", rnd: int) -> "list[Entry]":
        """New entries against ``opt``'s incumbent (empty: the phase has nothing to try)."""


class IncumbentsPhase(Phase):
    """The incumbent ladder: the prompts a user would try by hand (round 0)."""

    name = "incumbents"
    first_round_only = True

    def entries(self, opt: "Optimizer", rnd: int) -> "list[Entry]":
        return opt.incumbent_entries(rnd)


class DemosPhase(Phase):
    """New demo sets of the incumbent's size (credit-assigned, random, bootstrapped, retrieval sizes)."""

    name = "demos"

    def entries(self, opt: "Optimizer", rnd: int) -> "list[Entry]":
        return opt.demo_entries(rnd)


class FormatPhase(Phase):
    """The sampler's trials over the space's format dimensions, with the incumbent's instruction."""

    name = "format"

    def entries(self, opt: "Optimizer", rnd: int) -> "list[Entry]":
        return opt.format_entries(rnd)


class InstructionPhase(Phase):
    """Instructions the proposers write, in the incumbent's format."""

    name = "instruction"

    def entries(self, opt: "Optimizer", rnd: int) -> "list[Entry]":
        return opt.instruction_entries(rnd)


PHASES: Registry[type[Phase]] = Registry("phase")
PHASES.add("incumbents", IncumbentsPhase)
PHASES.add("demos", DemosPhase)
PHASES.add("format", FormatPhase)
PHASES.add("instruction", InstructionPhase)
# The order of a round: incumbents first (round 0), then demos, format and wording.
PHASE_ORDER = ("incumbents", "demos", "format", "instruction")


def round_phases(rnd: int, order: tuple[str, ...] = PHASE_ORDER) -> list[Phase]:
    """The phases round ``rnd`` runs, in order."""
    phases = [PHASES.get(name)() for name in order]
    return [p for p in phases if rnd == 0 or not p.first_round_only]
