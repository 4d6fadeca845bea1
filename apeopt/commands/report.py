"""Human-readable report of an optimize run's summary."""

from __future__ import annotations

from typing import Any


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
