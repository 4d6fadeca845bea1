"""Acceptance rules: when a challenger that is complete on all of dev replaces the incumbent, as small
policies by name. The default, ``credible_gain``, is the paired-bootstrap rule of :mod:`.rule`
(Bonferroni-corrected for the candidates a phase compared). A new rule is one class plus one
``ACCEPTANCE`` line."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

from apeopt.optimizer.selection.rule import Verdict, corrected_confidence, paired_gain
from apeopt.registry import Registry

DEFAULT_ACCEPTANCE = "credible_gain"


class AcceptanceRule(ABC):
    """Judges one challenger against the incumbent on the same dev items."""

    @abstractmethod
    def judge(self, challenger: Sequence[float], incumbent: Sequence[float], tried: int, seed: int) -> Verdict:
        """The verdict; ``tried``: how many candidates the phase compared."""


class CredibleGain(AcceptanceRule):
    """A paired-bootstrap lower bound above 0 at ``1 - 0.05 / tried`` confidence."""

    def judge(self, challenger: Sequence[float], incumbent: Sequence[float], tried: int, seed: int) -> Verdict:
        return paired_gain(challenger, incumbent, confidence=corrected_confidence(tried), seed=seed)


ACCEPTANCE: Registry[type[AcceptanceRule]] = Registry("acceptance rule")
ACCEPTANCE.add(DEFAULT_ACCEPTANCE, CredibleGain)
