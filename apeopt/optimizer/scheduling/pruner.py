"""Synchronous successive halving as an Optuna pruner.

Optuna's own SuccessiveHalvingPruner is asynchronous: the first trial to reach a rung is compared
only with trials that reached it before. apeopt evaluates a whole batch of candidates at a rung
before deciding, so this pruner ranks a trial's value at its last step among every trial that
reported the same step (earlier rounds included) and keeps the top ``ceil(n/eta)``. Ties are broken
by trial number (earlier first), so a batch of equal scores is still halved: on small dev
minibatches equal scores are indistinguishable, and keeping them all would spend the budget on
noise.
"""

from __future__ import annotations

import math

import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState


class SyncHalvingPruner(BasePruner):
    """Keeps the top ``ceil(n/eta)`` of every trial that reported the same step (see the module docstring)."""

    def __init__(self, reduction_factor: int = 3, min_keep: int = 1) -> None:
        if reduction_factor < 2:
            raise ValueError(f"reduction_factor must be >= 2, got {reduction_factor}")
        self.reduction_factor = reduction_factor
        self.min_keep = min_keep

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        value = trial.intermediate_values[step]
        if math.isnan(value):
            return True
        states = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)
        competing = [
            (t.intermediate_values[step], -t.number)
            for t in study.get_trials(deepcopy=False, states=states)
            if step in t.intermediate_values and not math.isnan(t.intermediate_values[step])
        ]
        keep = max(self.min_keep, math.ceil(len(competing) / self.reduction_factor))
        rank = sum(1 for c in competing if c > (value, -trial.number))
        return rank >= keep


def rung_sizes(n: int, minibatch: int, eta: int) -> list[int]:
    """Cumulative example counts at each rung: minibatch, minibatch*eta, ..., then all ``n``."""
    sizes: list[int] = []
    size = minibatch
    while size < n:
        sizes.append(size)
        size *= eta
    sizes.append(n)
    return sizes


def halving_examples(n_trials: int, sizes: list[int], eta: int) -> int:
    """Dev examples a batch of ``n_trials`` scores through the rungs, keeping ``ceil(n/eta)`` per rung."""
    total, prev, active = 0, 0, n_trials
    for size in sizes:
        total += active * (size - prev)
        prev, active = size, max(1, math.ceil(active / eta))
    return total
