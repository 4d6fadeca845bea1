"""`apeopt batch PLAN` and `apeopt batch status PLAN`: run a plan with N workers, show its state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from apeopt.batch.plan import Plan, load_plan, validate_tasks
from apeopt.errors import UserError


def batch_dir(plan: Plan, runs_root: Path = Path("runs")) -> Path:
    return runs_root / f"batch-{plan.name}"


def default_storage(plan: Plan, runs_root: Path = Path("runs"), create: bool = True) -> str:
    folder = batch_dir(plan, runs_root)
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'batch.db').resolve()}"


def _storage_arg(storage: str | None) -> str | None:
    """``--storage``, or for a worker started by ``apeopt batch -w N`` the URL its parent passed in the
    environment (never on the command line, where ``ps`` shows a password to every user)."""
    from apeopt.secrets import STORAGE_ENV
    from apeopt.runs.studies import check_storage_url

    storage = storage or os.environ.get(STORAGE_ENV) or None
    check_storage_url(storage)
    return storage


def _queue(plan: Plan, storage: str | None, heartbeat: int) -> Any:
    from apeopt.batch.queue import JobQueue, open_storage

    return JobQueue(plan, open_storage(storage or default_storage(plan), heartbeat=heartbeat, retries=plan.retries))


def run_batch(
    plan_path: Path, workers: int = 1, storage: str | None = None, heartbeat: int = 30, worker_only: bool = False
) -> list[Any]:
    from apeopt.batch.worker import work

    plan = load_plan(plan_path)
    storage = _storage_arg(storage)
    if not worker_only:
        validate_tasks(plan)  # every input checked before the batch folder and its database are made
    storage = storage or default_storage(plan)
    queue = _queue(plan, storage, heartbeat)
    if not worker_only:
        queue.enqueue_missing()
        queue.started_at()
    folder = batch_dir(plan)
    folder.mkdir(parents=True, exist_ok=True)
    tracking = _tracking(plan, folder)
    log = lambda msg: print(f"[worker {os.getpid()}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    if workers <= 1:
        work(plan, queue, folder, log=log, poll=min(5.0, float(heartbeat)), tracking=tracking)
    else:
        from apeopt.secrets import STORAGE_ENV

        cmd = [
            sys.executable,
            "-m",
            "apeopt.cli",
            "batch",
            str(plan_path),
            "--heartbeat",
            str(heartbeat),
            "--worker-only",
        ]
        threads = str(max(1, (os.cpu_count() or 1) // workers))  # no oversubscription of the cores
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, STORAGE_ENV: storage}
        procs = [subprocess.Popen(cmd, env=env) for _ in range(workers)]
        codes = [p.wait() for p in procs]
        if any(codes):
            print(f"workers exited with codes {codes}", file=sys.stderr)
    states = queue.states()
    if tracking is not None and not worker_only:
        from apeopt.tracking.batch import end_parent

        end_parent(tracking.config, folder, states)
    return states


def _tracking(plan: Plan, folder: Path) -> Any:
    """The plan's tracking for its jobs: its tracker and the parent run (started once, kept in the folder)."""
    if not plan.tracking.enabled:
        return None
    from apeopt.batch.worker import JobTracking
    from apeopt.tracking.batch import parent_run

    return JobTracking(plan.tracking, parent_run(plan.tracking, plan, folder))


def batch_status(plan_path: Path, storage: str | None = None) -> list[Any]:
    """The jobs' states; a read: it creates no folder and no database."""
    plan = load_plan(plan_path)
    storage = _storage_arg(storage)
    if storage is None:
        db = batch_dir(plan) / "batch.db"
        if not db.is_file():
            raise UserError(
                f"plan {plan.name!r} has not run yet (no {str(db)!r}); start it with `apeopt batch {plan_path}`"
            )
        storage = default_storage(plan, create=False)
    return _queue(plan, storage, heartbeat=30).states()


def estimate_plan(plan_path: Path) -> dict[str, Any]:
    from apeopt.optimizer.config import OptimizeConfig
    from apeopt.optimizer.estimate import estimate
    from apeopt.search_spaces import load_space
    from apeopt.tasks import load_task

    plan = load_plan(plan_path)
    rows = []
    for job in plan.jobs:
        if job.kind != "optimize":
            rows.append({"job": job.key, "kind": job.kind, "lm_calls_est": None, "tokens_est": None})
            continue
        config = OptimizeConfig.from_dict(dict(job.params))
        est = estimate(config, load_task(config.task, seed=config.split_seed), load_space(config.space))
        rows.append(
            {"job": job.key, "kind": job.kind, "lm_calls_est": est["lm_calls_est"], "tokens_est": est["tokens_est"]}
        )
    return {
        "plan": plan.name,
        "jobs": rows,
        "lm_calls_est": sum(r["lm_calls_est"] or 0 for r in rows),
        "tokens_est": sum(r["tokens_est"] or 0 for r in rows),
        "budget": dict(plan.budget),
    }


def print_states(states: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("job", "state", "tries", "test", "human test", "LM calls", "time (s)", "note")
    totals: dict[str, int] = {}
    for s in states:
        a = s.attrs
        totals[s.state] = totals.get(s.state, 0) + 1
        test = a.get("test") or {}
        human = a.get("human_test") or {}
        best = f"best method: {a['best_method']}" if a.get("best_method") else ""
        note = a.get("error", "") if s.state == "failed" else (a.get("instruction") or best)
        table.add_row(
            f"{s.job.key}\n{s.job.label()}",
            s.state,
            str(s.attempts),
            f"{test['score']:.3f} (n={test['n']})" if test else "-",
            f"{human['score']:.3f}" if human else "-",
            str(a.get("lm_calls") or "-"),
            str(a.get("job_seconds") or "-"),
            str(note)[:80],
        )
    console = Console()
    console.print(table)
    order = ("pending", "running", "done", "failed")
    console.print(f"{len(states)} jobs: " + ", ".join(f"{totals.get(k, 0)} {k}" for k in order))
