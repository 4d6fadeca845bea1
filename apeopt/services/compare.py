"""A comparison from its config: load the task and model, check every method applies, open the run
folder, then :func:`apeopt.baselines.compare.run_comparison`."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from apeopt.baselines.config import CompareConfig
from apeopt.records.compare import CompareResult


def run_compare(
    config: CompareConfig,
    run_dir: Path | None = None,
    runs_root: Path = Path("runs"),
    quiet: bool = False,
    make_parents: bool = True,
) -> CompareResult:
    """Every chosen method on the task; returns the rows and the comparison's summary."""
    from apeopt.baselines.compare import check_methods, run_comparison
    from apeopt.models.stack import open_backend
    from apeopt.runs import RunStore, new_run_id, versions
    from apeopt.services.preflight import absolute_task, check_run_dir
    from apeopt.tasks import load_task

    check_run_dir(run_dir, make_parents=make_parents)
    config = dataclasses.replace(
        config,
        task=absolute_task(config.task),
        apeopt_prompt=(str(Path(config.apeopt_prompt).resolve()) if config.apeopt_prompt else None),
    )  # stored absolute
    task = load_task(config.task, seed=config.split_seed)
    started = time.monotonic()

    def progress(msg: str) -> None:
        if not quiet:
            print(f"[{time.monotonic() - started:6.0f} s] {msg}", file=sys.stderr, flush=True)

    if not task.splits.get("train"):
        check_methods(config, task, None)  # the one-line error, before loading a model
    from apeopt.models.device import tuning_dtype

    backend = open_backend(
        config.model, device=config.device, use_cache=config.use_cache, dtype=tuning_dtype(config.device)
    )  # the tuning baselines train in this dtype
    base = backend.base_backend()
    check_methods(config, task, backend)  # applicability, before any work or run folder
    store = RunStore.create(run_dir, runs_root, new_run_id(task.name, "compare", config.seed))
    store.write_config({"compare": config.to_dict(), "task": task.name, "versions": versions(), "kind": "compare"})
    progress(
        f"compare {task.name} on {config.model} ({getattr(base, 'device', '?')}): {', '.join(config.methods or ())}"
        f" -> {store.root}"
    )
    result = run_comparison(config, task, backend, store.root, progress)
    meta = dataclasses.replace(result.meta, load_seconds=round(getattr(base, "load_seconds", 0.0), 2))
    return CompareResult(result.rows, meta)
