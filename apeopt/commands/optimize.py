"""`apeopt optimize`: load the task, space and models, then run apeopt.optimizer.run.optimize."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.run import optimize
from apeopt.optimizer.runstore import SUMMARY, RunStore, new_run_id
from apeopt.search_spaces import SearchSpace


def run_optimize(config: OptimizeConfig, run_dir: Path | None = None, runs_root: Path = Path("runs"), quiet: bool = False) -> dict[str, Any]:
    """A new run: load the space named by ``config`` and run :func:`optimize` in a new run folder."""
    from apeopt.search_spaces import load_space

    space = load_space(config.space)
    return _execute(config, space, lambda: RunStore.create(run_dir, runs_root, new_run_id(config.task, space.name, config.seed)), quiet, resume=False)


def resume_optimize(run: Path, quiet: bool = False) -> dict[str, Any]:
    """Continue an interrupted run from its log; a finished run just returns its summary."""
    from apeopt.errors import UserError
    from apeopt.search_spaces import parse_space

    store = RunStore.open(run)
    if store.path(SUMMARY).is_file() and store.summary().get("status") == "complete":
        return store.summary()
    saved = store.config()
    if "optimize" not in saved or "space" not in saved:
        raise UserError(f"{str(run)!r} is not an optimize run (its config.json has no 'optimize' and 'space')")
    config = OptimizeConfig.from_dict(saved["optimize"], where=str(store.path("config.json")))
    space = parse_space(saved["space"], where=f"{store.path('config.json')}: space")
    return _execute(config, space, lambda: store, quiet, resume=True)


def _execute(config: OptimizeConfig, space: SearchSpace, make_store: Any, quiet: bool, resume: bool) -> dict[str, Any]:
    from apeopt.models.metered import MeteredBackend
    from apeopt.models.stack import open_backend
    from apeopt.optimizer.view import LiveView, View
    from apeopt.tasks import load_task

    task = load_task(config.task, seed=config.split_seed)
    task.split("train"), task.split("dev")  # fail early on empty splits
    store = make_store()
    backend = MeteredBackend(open_backend(config.model, device=config.device, use_cache=config.use_cache))
    proposer = backend if config.proposer_spec == config.model else MeteredBackend(
        open_backend(config.proposer_spec, device=config.device, use_cache=config.use_cache)
    )
    view: Any = View() if quiet else LiveView(f"apeopt optimize {task.name} ({space.name})")
    with view:
        return optimize(config, task, space, backend, proposer, store, view, resume=resume)

def _fmt(score: dict[str, Any] | None) -> str:
    if not score:
        return "-"
    lo, hi = score["ci"]
    return f"{score['score']:.3f} [{lo:.2f}, {hi:.2f}] n={score['n']}"


def print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table("method", "dev", "test", "test_shift", title=f"{summary['task']} — {summary['space']} — {summary['model']}")
    for name in ("human", "few_shot", "winner"):
        row = summary.get(name) or {}
        label = f"{name} (k={row.get('k')})" if name == "few_shot" and row else name
        table.add_row(label, _fmt(row.get("dev")), _fmt(row.get("test")), _fmt(row.get("test_shift")))
    console.print(table)
    console.print(f"[bold]winner instruction:[/] {summary['winner']['prompt']['instruction']}")
    w = summary["winner"]["prompt"]
    console.print(
        f"format: template={w['template']} demos={len(w['demos'])} cot={w['cot']!r} votes={w['votes']} "
        f"answer_prefix={w['answer_prefix']!r}"
    )
    pt = (summary.get("paired_test") or {}).get("winner_vs_human")
    if pt:
        console.print(f"winner - human on test: {pt['diff']:+.3f} (95% CI [{pt['ci_lo']:+.3f}, {pt['ci_hi']:+.3f}], p={pt['p']:.3f})")
    console.print(
        f"{summary['status']} ({summary['stop_reason']}); {summary['candidates']} candidates, {summary['trials']} trials, "
        f"{summary['lm_calls']} LM calls, {summary['tokens']} tokens, {summary['wall_seconds']:.0f} s -> {summary['run_dir']}"
    )
