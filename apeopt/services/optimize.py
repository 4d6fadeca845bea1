"""An optimize run from its config: load the task, space and models, open the run folder, and run
:func:`apeopt.optimizer.run.optimize`; or continue an interrupted run folder from its log."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from apeopt.errors import UserError
from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.run import optimize
from apeopt.runs import CONFIG, SUMMARY, RunStore, new_run_id
from apeopt.records.summary import RunSummary
from apeopt.search_spaces import SearchSpace
from apeopt.tracking.base import TrackingConfig


def run_optimize(config: OptimizeConfig, run_dir: Path | None = None, runs_root: Path = Path("runs"),
                 quiet: bool = False, tracking: TrackingConfig | None = None, parent: str | None = None) -> RunSummary:
    """A new run: load the space named by ``config`` and run :func:`optimize` in a new run folder."""
    from apeopt.search_spaces import load_space

    space = load_space(config.space)
    return _execute(config, space, lambda task: RunStore.create(run_dir, runs_root, new_run_id(task.name, space.name, config.seed)),
                    quiet, resume=False, tracking=tracking, parent=parent)


def resume_optimize(run: Path, quiet: bool = False, tracking: TrackingConfig | None = None,
                    parent: str | None = None) -> RunSummary:
    """Continue an interrupted run from its log; a finished run just returns its summary."""
    from apeopt.search_spaces import parse_space

    store = RunStore.open(run)
    if store.path(SUMMARY).is_file() and store.summary().complete:
        return store.summary()
    saved = store.config()
    if "optimize" not in saved or "space" not in saved:
        raise UserError(f"{str(run)!r} is not an optimize run (its config.json has no 'optimize' and 'space')")
    config = OptimizeConfig.from_dict(saved["optimize"], where=str(store.path(CONFIG)))
    space = parse_space(saved["space"], where=f"{store.path(CONFIG)}: space")
    return _execute(config, space, lambda task: store, quiet, resume=True, tracking=tracking, parent=parent)


def _execute(config: OptimizeConfig, space: SearchSpace, make_store: Callable[[Any], RunStore], quiet: bool,
             resume: bool, tracking: TrackingConfig | None = None, parent: str | None = None) -> RunSummary:
    """Load the task, open the run folder (named after the task's ``name``), load the models, run.
    A start that fails (a bad model, a missing file) leaves no empty run folder behind. With
    ``tracking``, the run is mirrored into the tracker (a child of run ``parent`` in a batch)."""
    from apeopt.models.stack import open_backend
    from apeopt.optimizer.progress import make_view
    from apeopt.tasks import load_task

    task = load_task(config.task, seed=config.split_seed)
    task.split("train"), task.split("dev")  # fail early on empty splits
    store = make_store(task)  # before the models load: a taken --run-dir fails in a second, not after a load
    try:
        backend = open_backend(config.model, device=config.device, use_cache=config.use_cache, metered=True)
        proposer = backend if config.proposer_spec == config.model else open_backend(
            config.proposer_spec, device=config.device, use_cache=config.use_cache, metered=True)
        view = make_view(f"apeopt optimize {task.name} ({space.name})", quiet=quiet, budget=config)
        if tracking is None or not tracking.enabled:
            with view:
                return optimize(config, task, space, backend, proposer, store, view, resume=resume)
        from apeopt.tracking.runs import tracked_optimize

        return tracked_optimize(config, task, space, backend, proposer, store, view, tracking, parent, resume=resume)
    finally:
        store.discard_if_empty()

