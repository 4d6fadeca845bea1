"""`apeopt batch PLAN` and `apeopt batch status PLAN`: their options and help, and the job states as
JSON (``--json``); running the plan, reading its state and the table are :mod:`apeopt.commands.batch`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from apeopt.commands.output import echo_json
from apeopt.errors import UserError


def batch_cmd(
    target: str = typer.Argument(..., help="PLAN.yaml to run, or `status`."),
    plan: Optional[Path] = typer.Argument(None, help="With `status`: the plan file."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes on this machine."),
    storage: Optional[str] = typer.Option(
        None, "--storage", help="Optuna storage URL shared by all workers (default SQLite)."
    ),
    heartbeat: int = typer.Option(30, "--heartbeat", min=1, help="Seconds between worker heartbeats."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan's estimated cost, run nothing."),
    worker_only: bool = typer.Option(False, "--worker-only", hidden=True),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run a plan of optimize/compare jobs with N workers (resumable), or show its status."""
    from apeopt.commands import batch as b

    if target == "status":
        if plan is None:
            raise UserError("usage: apeopt batch status PLAN.yaml [--storage URL]")
        states = b.batch_status(plan, storage)
    elif dry_run:
        echo_json(b.estimate_plan(Path(target)))
        return
    else:
        states = b.run_batch(
            Path(target), workers=workers, storage=storage, heartbeat=heartbeat, worker_only=worker_only
        )
        if worker_only:
            return
    if as_json:
        echo_json(
            [
                {
                    "job": s.job.key,
                    "kind": s.job.kind,
                    "state": s.state,
                    "attempts": s.attempts,
                    "value": s.value,
                    **s.attrs,
                }
                for s in states
            ]
        )
    else:
        b.print_states(states)
