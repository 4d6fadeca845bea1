"""`apeopt optimize`: load the task, space and models, then run apeopt.optimizer.run.optimize."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.run import optimize
from apeopt.optimizer.runstore import RunStore, new_run_id


def run_optimize(config: OptimizeConfig, run_dir: Path | None = None, runs_root: Path = Path("runs"), quiet: bool = False) -> dict[str, Any]:
    """Load the task, space and models named by ``config``, then run :func:`optimize`."""
    from apeopt.models.metered import MeteredBackend
    from apeopt.optimizer.view import LiveView, View
    from apeopt.runtime import open_backend
    from apeopt.search_spaces import load_space
    from apeopt.tasks import load_task

    task = load_task(config.task, seed=config.split_seed)
    space = load_space(config.space)
    task.split("train"), task.split("dev")  # fail early on empty splits
    store = RunStore.create(run_dir, runs_root, new_run_id(config.task, space.name, config.seed))
    backend = MeteredBackend(open_backend(config.model, device=config.device, use_cache=config.use_cache))
    proposer = backend if config.proposer_spec == config.model else MeteredBackend(
        open_backend(config.proposer_spec, device=config.device, use_cache=config.use_cache)
    )
    view: Any = View() if quiet else LiveView(f"apeopt optimize {task.name} ({space.name})")
    with view:
        return optimize(config, task, space, backend, proposer, store, view)
