"""The run's study: samplers by name, the halving pruner, and a clean slate on resume."""

from __future__ import annotations

import optuna
import pytest

from apeopt.errors import UserError
from apeopt.optimizer.scheduling.pruner import SyncHalvingPruner
from apeopt.optimizer.scheduling.study import SAMPLERS, open_study


def test_samplers_by_name_and_the_pruner(tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    tpe = open_study(storage, "a", "tpe", seed=3, eta=3, resume=False)
    assert isinstance(tpe.sampler, optuna.samplers.TPESampler) and isinstance(tpe.pruner, SyncHalvingPruner)
    assert tpe.pruner.reduction_factor == 3
    rnd = open_study(storage, "b", "random", seed=3, eta=2, resume=False)
    assert isinstance(rnd.sampler, optuna.samplers.RandomSampler)
    assert sorted(SAMPLERS.names()) == ["random", "tpe"]
    with pytest.raises(UserError, match="unknown sampler"):
        SAMPLERS.get("grid")


def test_resume_replaces_the_stale_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    first = open_study(storage, "run", "tpe", seed=0, eta=3, resume=False)
    first.tell(first.ask(), 1.0)
    with pytest.raises(optuna.exceptions.DuplicatedStudyError):
        open_study(storage, "run", "tpe", seed=0, eta=3, resume=False)
    again = open_study(storage, "run", "tpe", seed=0, eta=3, resume=True)
    assert len(again.trials) == 0
