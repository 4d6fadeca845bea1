"""An optimize run from its config: load the task, space and models, open the run folder, and run
:func:`apeopt.optimizer.run.optimize`; or continue an interrupted run folder from its log."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from apeopt.errors import UserError
from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.run import optimize
from apeopt.runs import CONFIG, EVALUATIONS, SUMMARY, RunStore, new_run_id
from apeopt.records.summary import RunSummary
from apeopt.search_spaces import SearchSpace
from apeopt.tracking.base import TrackingConfig


def run_optimize(
    config: OptimizeConfig,
    run_dir: Path | None = None,
    runs_root: Path = Path("runs"),
    quiet: bool = False,
    make_parents: bool = True,
    tracking: TrackingConfig | None = None,
    parent: str | None = None,
) -> RunSummary:
    """A new run: load the space named by ``config`` and run :func:`optimize` in a new run folder.
    Every input is checked before a model loads or a folder is made; a ``run_dir`` whose parent is missing
    is an error unless ``make_parents`` (the CLI's ``--make-parents``; programs that pass a folder get it)."""
    import dataclasses

    from apeopt.search_spaces import load_space
    from apeopt.services.preflight import absolute_task, check_run_dir
    from apeopt.runs.studies import check_storage_url

    check_storage_url(config.storage)
    check_run_dir(run_dir, make_parents=make_parents)
    config = dataclasses.replace(config, task=absolute_task(config.task))
    space = load_space(config.space)
    return _execute(
        config,
        space,
        lambda task: RunStore.create(run_dir, runs_root, new_run_id(task.name, space.name, config.seed)),
        quiet,
        resume=False,
        tracking=tracking,
        parent=parent,
    )


def resume_optimize(
    run: Path, quiet: bool = False, tracking: TrackingConfig | None = None, parent: str | None = None
) -> RunSummary:
    """Continue an interrupted run from its log; a finished run just returns its summary. The run
    folder is locked meanwhile: a second process resuming it gets a one-line error."""
    from apeopt.runs.lock import RunLock
    from apeopt.search_spaces import parse_space
    from apeopt.secrets import unmask_storage

    store = RunStore.open(run)
    with RunLock(store.root):
        if store.path(SUMMARY).is_file() and store.summary().complete:
            return store.summary()
        saved = store.config()
        if "optimize" not in saved or "space" not in saved:
            raise UserError(f"{str(run)!r} is not an optimize run (its config.json has no 'optimize' and 'space')")
        where = str(store.path(CONFIG))
        config = OptimizeConfig.from_dict(saved["optimize"], where=where)
        if config.storage:
            import dataclasses

            config = dataclasses.replace(config, storage=unmask_storage(config.storage, where))
        space = parse_space(saved["space"], where=f"{store.path(CONFIG)}: space")
        return _execute(config, space, lambda task: store, quiet, resume=True, tracking=tracking, parent=parent)


def _execute(
    config: OptimizeConfig,
    space: SearchSpace,
    make_store: Callable[[Any], RunStore],
    quiet: bool,
    resume: bool,
    tracking: TrackingConfig | None = None,
    parent: str | None = None,
) -> RunSummary:
    """Load the task and check its scorer and the storage, load the models, then open the run folder
    (named after the task's ``name``) and run. A start that fails before anything was scored (a bad
    model, a user scorer that raises) leaves no half-made run behind: not its files, not its study. With
    ``tracking``, the run is mirrored into the tracker (a child of run ``parent`` in a batch)."""
    from apeopt.models.stack import open_backend
    from apeopt.optimizer.progress import make_view
    from apeopt.runs.lock import RunLock
    from apeopt.runs.studies import open_checked_storage
    from apeopt.services.preflight import probe_scorer
    from apeopt.tasks import load_task

    task = config.apply_instruction(load_task(config.task, seed=config.split_seed))
    task.split("train"), task.split("dev")  # fail early on empty splits
    probe_scorer(task, "likelihood" if space.scoring == "likelihood" else None)
    if config.storage:
        open_checked_storage(config.storage)
    backend = open_backend(
        config.model, device=config.device, use_cache=config.use_cache, metered=True, dtype=config.dtype
    )
    proposer = (
        backend
        if config.proposer_spec == config.model
        else open_backend(
            config.proposer_spec, device=config.device, use_cache=config.use_cache, metered=True, dtype=config.dtype
        )
    )
    store = make_store(task)
    lock = None
    try:
        lock = RunLock(store.root).acquire() if not resume else None  # a resume holds its lock already
        view = make_view(f"apeopt optimize {task.name} ({space.name})", quiet=quiet, budget=config)
        if tracking is None or not tracking.enabled:
            with view:
                return optimize(config, task, space, backend, proposer, store, view, resume=resume)
        from apeopt.tracking.runs import tracked_optimize

        return tracked_optimize(config, task, space, backend, proposer, store, view, tracking, parent, resume=resume)
    except Exception:
        if lock is not None and not _scored(store):  # only what this process made, and nothing scored
            _discard_start(store, config.storage)
        raise
    finally:
        if lock is not None:
            lock.release()
        store.discard_if_empty()


def _scored(store: RunStore) -> bool:
    """Anything in the run's evaluation log (a run with scores is kept, to resume)."""
    log = store.path(EVALUATIONS)
    return log.is_file() and log.stat().st_size > 0


def _discard_start(store: RunStore, storage: str | None) -> None:
    """Remove what a failed start wrote in its new run folder (nothing was scored)."""
    from apeopt.services.preflight import remove_half_made
    from apeopt.runs.studies import STUDY_FILE

    made = [p.name for p in store.root.iterdir()] if store.root.is_dir() else []
    study = None
    if STUDY_FILE in made:
        import json

        try:
            study = json.loads(store.path(STUDY_FILE).read_text(encoding="utf-8")).get("study")
        except (OSError, ValueError, AttributeError):
            study = None
    remove_half_made(store.root, made, storage, study)  # the folder was empty before this start
