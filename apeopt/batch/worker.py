"""A batch worker: claim a job, run it with a heartbeat, record the result; until none is left.

Each job runs in its own run folder under the batch folder, keyed by the job's stable key, so a
job that is claimed again after a crash resumes from its evaluation log instead of starting over.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from apeopt.batch.plan import Job, Plan
from apeopt.batch.queue import JobQueue
from apeopt.errors import UserError
from apeopt.records.job import JobResult
from apeopt.registry import Registry
from apeopt.secrets import mask_url
from apeopt.tracking.base import TrackingConfig

Runner = Callable[[Job, Path, "JobTracking | None"], JobResult]


@dataclass(frozen=True)
class JobTracking:
    """Where a job's run is tracked: the plan's tracker, under the plan's parent run."""

    config: TrackingConfig
    parent: str | None


RUNNERS: Registry[Runner] = Registry("job kind")


@RUNNERS.register("optimize")
def run_optimize_job(job: Job, run_dir: Path, tracking: JobTracking | None = None) -> JobResult:
    from apeopt.optimizer.config import OptimizeConfig
    from apeopt.runs import CONFIG
    from apeopt.services.optimize import resume_optimize, run_optimize

    config, parent = (tracking.config, tracking.parent) if tracking is not None else (None, None)
    if (run_dir / CONFIG).is_file():
        resumed = resume_optimize(run_dir, quiet=True, tracking=config, parent=parent)
        return JobResult(str(run_dir.resolve()), optimize=resumed)
    if run_dir.exists():  # created but nothing written yet: start clean
        for child in run_dir.iterdir():
            child.unlink()
    summary = run_optimize(
        OptimizeConfig.from_dict(dict(job.params)), run_dir=run_dir, quiet=True, tracking=config, parent=parent
    )
    return JobResult(str(run_dir.resolve()), optimize=summary)


@RUNNERS.register("compare")
def run_compare_job(job: Job, run_dir: Path, tracking: JobTracking | None = None) -> JobResult:
    """A compare job; a crashed attempt starts over in a clean folder (training is not resumable).
    Tracked, it is a child run with the job's params and the comparison's result attributes."""
    import shutil

    from apeopt.batch.plan import compare_config
    from apeopt.services.compare import run_compare

    if run_dir.exists():
        shutil.rmtree(run_dir)
    result = JobResult(
        str(run_dir.resolve()), compare=run_compare(compare_config(job.params), run_dir=run_dir, quiet=True)
    )
    if tracking is not None:
        from apeopt.tracking.batch import track_job

        track_job(tracking.config, tracking.parent, job, result)
    return result


def plan_budget_spent(plan: Plan, queue: JobQueue) -> str | None:
    """Why the whole plan's budget (hours, calls, tokens) is spent, or None."""
    b = plan.budget
    if "hours" in b and time.time() - queue.started_at() >= 3600 * float(b["hours"]):
        return f"plan wall-time budget of {b['hours']} h spent"
    if "calls" in b or "tokens" in b:
        spent = queue.spent()
        for k in ("calls", "tokens"):
            if k in b and spent[k] >= float(b[k]):
                return f"plan {k} budget spent ({spent[k]:.0f} >= {b[k]})"
    return None


def work(
    plan: Plan,
    queue: JobQueue,
    batch_dir: Path,
    log: Callable[[str], None] = print,
    poll: float = 5.0,
    tracking: JobTracking | None = None,
) -> int:
    """Run jobs until none is waiting or running (or the plan's budget is spent); returns the number run.

    While other workers' jobs run, a worker waits: if one of them died, its job is re-queued once
    its heartbeat is stale, and this worker takes it over.
    """
    ran = claim_errors = 0
    while True:
        reason = plan_budget_spent(plan, queue)
        if reason:
            log(f"{reason}: not claiming more jobs")
            return ran
        try:
            claimed = queue.claim()
            claim_errors = 0
        except Exception as exc:  # a transient storage error (lock, lost race): look again shortly
            claim_errors += 1
            if claim_errors > 10:
                raise
            log(f"claim failed ({type(exc).__name__}: {exc}); retrying")
            time.sleep(poll)
            continue
        if claimed is None:
            if not any(st.state == "running" for st in queue.states()):
                return ran
            time.sleep(poll)  # another worker's job is running (or its worker died: it will be reaped)
            continue
        trial, job = claimed
        log(f"running {job.key} ({job.label()})")
        started = time.monotonic()
        with queue.heartbeat(trial):
            try:
                result = RUNNERS.get(job.kind)(job, batch_dir / job.key, tracking)
            except UserError as exc:
                queue.failed(trial, job, mask_url(f"UserError: {exc}"))
                log(mask_url(f"failed {job.key}: {exc}"))
                continue
            except Exception as exc:  # a job's crash must not stop the batch: record it and go on
                queue.failed(trial, job, mask_url("".join(traceback.format_exception_only(type(exc), exc)).strip()))
                log(mask_url(f"failed {job.key}: {type(exc).__name__}: {exc}"))
                continue
        queue.done(trial, result.value, {**result.attrs(), "job_seconds": round(time.monotonic() - started, 1)})
        ran += 1
        log(f"done {job.key}: test {result.value:.3f}")
