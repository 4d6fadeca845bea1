"""A batch plan in the tracker: one parent run per plan (its id kept in the batch folder, so every
worker process and a resumed batch use the same one) with a child run per job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from apeopt.atomic_files import atomic_write_json
from apeopt.tracking.base import TrackingConfig, open_tracker

PARENT_FILE = "tracking.json"


def parent_run(config: TrackingConfig, plan: Any, folder: Path) -> str | None:
    """The plan's parent run id: read from the batch folder, else started (by the first process) and saved."""
    path = folder / PARENT_FILE
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("experiment") == config.experiment and saved.get("run_id"):
            return str(saved["run_id"])
    tracker = open_tracker(config)
    params = {
        "plan": plan.name,
        "plan_path": str(plan.path),
        "jobs": len(plan.jobs),
        "retries": plan.retries,
        **{f"budget.{k}": v for k, v in plan.budget.items()},
    }
    run_id = tracker.start(f"batch-{plan.name}", params, tags={"apeopt.kind": "batch"})
    if run_id:
        atomic_write_json(path, {"run_id": run_id, "experiment": config.experiment})
    return run_id


def end_parent(config: TrackingConfig, folder: Path, states: Sequence[Any]) -> None:
    """Log the job table and counts to the parent run and close it (FINISHED when every job is done)."""
    path = folder / PARENT_FILE
    if not path.is_file():
        return
    tracker = open_tracker(config)
    tracker.attach(str(json.loads(path.read_text())["run_id"]))
    counts = {k: sum(1 for s in states if s.state == k) for k in ("done", "failed", "pending", "running")}
    tracker.log_metrics({f"jobs_{k}": v for k, v in counts.items()})
    tracker.log_table(
        "jobs",
        [
            {"job": s.job.key, "kind": s.job.kind, "state": s.state, "attempts": s.attempts, "value": s.value}
            for s in states
        ],
    )
    tracker.end("FINISHED" if counts["done"] == len(states) else "FAILED")


def track_job(config: TrackingConfig, parent: str | None, job: Any, result: Any) -> None:
    """A job without its own tracking (a comparison) as a child run: its params and result attributes."""
    from apeopt.tracking.runs import flat_params

    tracker = open_tracker(config)
    tracker.start(job.key, flat_params(dict(job.params)), tags={"apeopt.kind": job.kind}, parent=parent)
    attrs = result.attrs()
    metrics = {k: float(v) for k, v in attrs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    for name in ("test", "human_test"):
        if isinstance(attrs.get(name), dict) and "score" in attrs[name]:
            metrics[name] = float(attrs[name]["score"])
    tracker.log_metrics(metrics)
    tracker.log_table("result", [attrs])
    tracker.end("FINISHED")
