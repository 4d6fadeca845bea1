"""The selection rule: a challenger replaces the incumbent only on a credible paired gain on dev.

Dev sets are small (30-100 items) and the search scores dozens of candidates on them, so the best
dev mean is biased upwards (the winner's curse), and most "wins" of a point or two are noise that
does not carry to test. The rule, applied with both prompts scored on all of dev:

- the paired difference challenger - incumbent over the same dev items is bootstrapped
  (``reps`` resamples of the items); the challenger wins only if the one-sided lower bound at
  ``confidence`` (default 0.95, i.e. the 5th percentile) is above 0;
- challengers are tried best dev mean first; ties in dev mean go to the shorter prompt.

It is paired because both prompts see the same items, which removes the item difficulty that
dominates the variance of each mean; one-sided because only a gain matters. It is corrected for
the number of candidates the phase compared (Bonferroni: confidence ``1 - 0.05 / m`` for ``m``
candidates): the best of 24 proposed instructions clears an uncorrected 95% bound by luck far more
often than 5% of the time, and such lucky winners were the nonsense instructions that a small
proposer model wrote. The price is a
conservative search: a true gain of a few points on 30 items is often not accepted, and the run
then keeps its incumbent (a win within noise is no win).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

CONFIDENCE = 0.95
REPS = 4000


@dataclass(frozen=True)
class Verdict:
    """The paired comparison of a challenger with the incumbent on the same dev items."""

    diff: float  # mean(challenger) - mean(incumbent) on the shared items
    lower: float  # one-sided lower bound of diff at the confidence level
    n: int
    credible: bool

    def to_dict(self) -> dict[str, float | int | bool]:
        return {"diff": round(self.diff, 6), "lower": round(self.lower, 6), "n": self.n, "credible": self.credible}


def corrected_confidence(m: int, confidence: float = CONFIDENCE) -> float:
    """The per-comparison confidence that keeps the chance of any false win among ``m`` at ``1 - confidence``."""
    return 1.0 - (1.0 - confidence) / max(1, m)


def paired_gain(
    challenger: Sequence[float],
    incumbent: Sequence[float],
    confidence: float = CONFIDENCE,
    reps: int = REPS,
    seed: int = 0,
) -> Verdict:
    """Is ``challenger`` credibly better than ``incumbent`` on the same items (in the same order)?"""
    n = min(len(challenger), len(incumbent))
    if n == 0:
        return Verdict(0.0, 0.0, 0, False)
    d = np.asarray(challenger[:n], dtype=float) - np.asarray(incumbent[:n], dtype=float)
    if not d.any():
        return Verdict(0.0, 0.0, n, False)
    reps = max(reps, int(20 / (1.0 - confidence)))  # enough resamples for the tail quantile
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, n, size=(reps, n))].mean(axis=1)
    lower = float(np.quantile(means, 1.0 - confidence))
    return Verdict(float(d.mean()), lower, n, lower > 0.0)


def contends(scores: Sequence[float], reference: Sequence[float], near: bool = False, seed: int = 0) -> bool:
    """Is a prompt scored on a prefix of dev (``scores``) worth finishing against ``reference``
    (scored on at least as many items, in the same order)? When its mean on the shared items is
    above the reference's; with ``near``, also when it is not credibly behind it."""
    if not scores:
        return False
    shared = reference[: len(scores)]
    if sum(scores) / len(scores) > sum(shared) / len(shared) + 1e-9:
        return True
    return near and not paired_gain(shared, scores, seed=seed).credible


def rank_key(mean: float, length: int) -> tuple[float, int]:
    """Sort key, best first: higher dev mean, then the shorter prompt."""
    return (-round(mean, 9), length)
