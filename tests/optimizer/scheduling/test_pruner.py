from __future__ import annotations

import optuna
import pytest

from apeopt.optimizer.scheduling.pruner import SyncHalvingPruner, rung_sizes


def test_rung_sizes():
    assert rung_sizes(100, 10, 3) == [10, 30, 90, 100]
    assert rung_sizes(90, 10, 3) == [10, 30, 90]
    assert rung_sizes(5, 10, 3) == [5]


def test_keeps_top_third_of_a_batch():
    study = optuna.create_study(direction="maximize", pruner=SyncHalvingPruner(3))
    trials = [study.ask() for _ in range(9)]
    for i, t in enumerate(trials):
        t.report(float(i), 10)
    kept = [i for i, t in enumerate(trials) if not t.should_prune()]
    assert kept == [6, 7, 8]


def test_history_counts():
    study = optuna.create_study(direction="maximize", pruner=SyncHalvingPruner(2))
    old = study.ask()
    old.report(0.9, 10)
    study.tell(old, 0.9)
    new = [study.ask() for _ in range(3)]
    for t, v in zip(new, [0.5, 0.5, 0.95]):
        t.report(v, 10)
    assert [t.should_prune() for t in new] == [True, True, False]


def test_ties_are_halved_by_trial_order():
    study = optuna.create_study(direction="maximize", pruner=SyncHalvingPruner(3))
    trials = [study.ask() for _ in range(6)]
    for t in trials:
        t.report(1.0, 10)
    assert [t.should_prune() for t in trials] == [False, False, True, True, True, True]


def test_bad_factor():
    with pytest.raises(ValueError):
        SyncHalvingPruner(1)
