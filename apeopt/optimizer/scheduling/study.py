"""The Optuna study of a run: its sampler, the synchronous halving pruner, and a clean slate on resume."""

from __future__ import annotations

import optuna

from apeopt.optimizer.scheduling.pruner import SyncHalvingPruner


def open_study(storage: str, name: str, sampler_name: str, seed: int, eta: int, resume: bool) -> optuna.Study:
    """A new study for the run (a resumed run rebuilds its study by deterministic replay, so the
    stale one is removed first); TPE or random sampling, halving by ``eta``."""
    if resume:
        try:
            optuna.delete_study(study_name=name, storage=storage)
        except KeyError:
            pass
    sampler: optuna.samplers.BaseSampler = (
        optuna.samplers.TPESampler(seed=seed, n_startup_trials=6, multivariate=True)
        if sampler_name == "tpe"
        else optuna.samplers.RandomSampler(seed=seed)
    )
    return optuna.create_study(storage=storage, study_name=name, direction="maximize", sampler=sampler,
                               pruner=SyncHalvingPruner(eta))
