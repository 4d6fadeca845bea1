"""A batch worker: claim a job, run it with a heartbeat, record the result; until none is left.

Each job runs in its own run folder under the batch folder, keyed by the job's stable key, so a
job that is claimed again after a crash resumes from its evaluation log instead of starting over.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any, Callable

from apeopt.batch.plan import Job, Plan
from apeopt.batch.queue import JobQueue
from apeopt.errors import UserError
from apeopt.registry import Registry

Runner = Callable[[Job, Path], dict[str, Any]]
RUNNERS: Registry[Runner] = Registry("job kind")


@RUNNERS.register("optimize")
def run_optimize_job(job: Job, run_dir: Path) -> dict[str, Any]:
    from apeopt.commands.optimize import resume_optimize, run_optimize
    from apeopt.optimizer.config import OptimizeConfig

    if (run_dir / "config.json").is_file():
        return resume_optimize(run_dir, quiet=True)
    if run_dir.exists():  # created but nothing written yet: start clean
        for child in run_dir.iterdir():
            child.unlink()
    return run_optimize(OptimizeConfig.from_dict(dict(job.params)), run_dir=run_dir, quiet=True)


@RUNNERS.register("compare")
def run_compare_job(job: Job, run_dir: Path) -> dict[str, Any]:
    """A compare job; a crashed attempt starts over in a clean folder (training is not resumable)."""
    import shutil

    from apeopt.batch.plan import compare_config
    from apeopt.commands.compare import run_compare

    if run_dir.exists():
        shutil.rmtree(run_dir)
    result = run_compare(compare_config(job.params), run_dir=run_dir, quiet=True)
    rows = result.get("rows", [])
    best = max(rows, key=lambda r: (r.get("test") or {}).get("score", float("-inf")), default={})
    return {
        "run_dir": str(run_dir.resolve()),
        "winner": {"test": best.get("test") or {}, "prompt": {"instruction": f"best method: {best.get('method')}"}},
        "lm_calls": sum(r.get("lm_calls") or 0 for r in rows),
        "wall_seconds": sum(r.get("wall_seconds") or 0 for r in rows),
    }


def job_result(summary: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """The number a job is told with (its winner's test score) and the attributes shown by status."""
    winner = summary.get("winner") or {}
    test = winner.get("test") or {}
    attrs = {
        "run_dir": summary.get("run_dir"),
        "test": test,
        "human_test": (summary.get("human") or {}).get("test"),
        "instruction": (winner.get("prompt") or {}).get("instruction"),
        "lm_calls": summary.get("lm_calls"),
        "tokens": summary.get("tokens"),
        "wall_seconds": summary.get("wall_seconds"),
    }
    return float(test.get("score", float("nan"))), attrs


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


def work(plan: Plan, queue: JobQueue, batch_dir: Path, log: Callable[[str], None] = print, poll: float = 5.0) -> int:
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
                summary = RUNNERS.get(job.kind)(job, batch_dir / job.key)
            except UserError as exc:
                queue.failed(trial, job, f"UserError: {exc}")
                log(f"failed {job.key}: {exc}")
                continue
            except Exception as exc:  # a job's crash must not stop the batch: record it and go on
                queue.failed(trial, job, "".join(traceback.format_exception_only(type(exc), exc)).strip())
                log(f"failed {job.key}: {type(exc).__name__}: {exc}")
                continue
        value, attrs = job_result(summary)
        attrs["job_seconds"] = round(time.monotonic() - started, 1)
        queue.done(trial, value, attrs)
        ran += 1
        log(f"done {job.key}: test {value:.3f}")
