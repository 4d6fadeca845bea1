"""The Optuna study of a run: its sampler (a small policy by name), the synchronous halving pruner,
and a clean slate on resume."""

from __future__ import annotations

from typing import Callable

import optuna

from apeopt.optimizer.scheduling.pruner import SyncHalvingPruner
from apeopt.registry import Registry

SamplerFactory = Callable[[int], optuna.samplers.BaseSampler]


def tpe_sampler(seed: int) -> optuna.samplers.BaseSampler:
    """Multivariate TPE after 6 random startup trials."""
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=6, multivariate=True)


def random_sampler(seed: int) -> optuna.samplers.BaseSampler:
    """Uniform random sampling of the format dimensions."""
    return optuna.samplers.RandomSampler(seed=seed)


# A search space's ``sampler`` names one of these; anything else samples randomly (as before the registry).
SAMPLERS: Registry[SamplerFactory] = Registry("sampler")
SAMPLERS.add("tpe", tpe_sampler)
SAMPLERS.add("random", random_sampler)


def open_study(storage: str, name: str, sampler_name: str, seed: int, eta: int, resume: bool) -> optuna.Study:
    """A new study for the run (a resumed run rebuilds its study by deterministic replay, so the
    stale one is removed first); the space's sampler, halving by ``eta``."""
    if resume:
        try:
            optuna.delete_study(study_name=name, storage=storage)
        except KeyError:
            pass
    make = SAMPLERS.get(sampler_name) if sampler_name in SAMPLERS else random_sampler
    return optuna.create_study(
        storage=storage, study_name=name, direction="maximize", sampler=make(seed), pruner=SyncHalvingPruner(eta)
    )
