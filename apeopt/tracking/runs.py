"""An apeopt run as a tracked run: params from the resolved config, metrics per scored step, the final
table, the run's files as artifacts and the best prompt in the prompt registry.

:func:`tracked_optimize` is called from one place, :mod:`apeopt.services.optimize` (one tracked run
per optimize run; inside a batch, a child of the plan's run from :mod:`apeopt.tracking.batch`).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Mapping

from apeopt.optimizer.progress import View
from apeopt.records.summary import Baseline, RunSummary, Winner
from apeopt.tracking.base import SafeTracker, TrackingConfig, open_tracker

ARTIFACTS = (
    "best_prompt.json",
    "best_fixed_prompt.json",
    "partial_prompt.json",
    "cheapest_prompt.json",
    "leaderboard.json",
    "leaderboard.md",
    "summary.json",
    "config.json",
)


def flat_params(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested mapping as ``a.b``-keyed string params (lists joined by commas, None as "")."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_params(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = ",".join(str(v) for v in value)
        else:
            out[name] = "" if value is None else str(value)
    return out


def run_params(config: Any, space: Any, task: Any) -> dict[str, str]:
    """The params of an optimize run: its resolved config, the space's settings, the task's identity."""
    return {
        **flat_params(config.to_dict()),
        **flat_params(dict(space.raw), "space."),
        "space_name": str(space.name),
        "task_name": str(task.name),
        "data_fingerprint": str(task.fingerprint()),
    }


class TrackedView(View):
    """A progress view that also logs metrics to the tracker at each scored step: the best dev score
    so far, the LM calls and tokens spent (the optimizer reports them through its view)."""

    def __init__(self, inner: View, tracker: SafeTracker) -> None:
        super().__init__()
        self.inner = inner
        self.tracker = tracker
        self.step = 0

    def update(self, **fields: Any) -> None:
        super().update(**fields)
        self.inner.update(**fields)
        if "calls" in fields:  # one scored step (the optimizer's record of an evaluation)
            self.step += 1
            f = self.fields
            metrics = {
                k: float(f[v])
                for k, v in (("lm_calls", "calls"), ("tokens", "tokens"), ("best_dev", "best"))
                if isinstance(f.get(v), (int, float))
            }
            self.tracker.log_metrics(metrics, step=self.step)
        elif isinstance(fields.get("best"), (int, float)):  # the incumbent after a phase's selection
            self.tracker.log_metrics({"best_dev": fields["best"]}, step=self.step)

    def __enter__(self) -> "TrackedView":
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)


def final_rows(summary: RunSummary) -> list[dict[str, Any]]:
    """The final table: one row per prompt (winner, human, k-shot) with its score per split."""
    rows = []
    scored: dict[str, Winner | Baseline] = {"winner": summary.winner, **summary.baselines()}
    for name, row in scored.items():
        out: dict[str, Any] = {"method": name}
        for split in ("dev", "test", "test_shift"):
            s = row.score(split)
            if s is not None:
                out[split] = s.score
                out[f"{split}_ci"] = list(s.ci)
                out[f"{split}_n"] = s.n
        rows.append(out)
    return rows


def final_metrics(summary: RunSummary) -> dict[str, float]:
    """Scores of the final table as metrics (``winner_test``, ``human_test_ci_lo``, ...) and the run's cost."""
    out: dict[str, float] = {}
    for row in final_rows(summary):
        for split in ("dev", "test", "test_shift"):
            if split in row:
                out[f"{row['method']}_{split}"] = row[split]
                out[f"{row['method']}_{split}_ci_lo"], out[f"{row['method']}_{split}_ci_hi"] = row[f"{split}_ci"]
                out[f"{row['method']}_{split}_n"] = row[f"{split}_n"]
    out.update(
        {
            "lm_calls_total": summary.lm_calls,
            "tokens_total": summary.tokens,
            "wall_seconds": summary.wall_seconds,
            "winner_dev_selection": summary.winner.dev_selection.score,
        }
    )
    c = summary.cost
    if c is not None:
        out.update(
            {
                "winner_prompt_tokens": c.winner.prompt_tokens,
                "winner_tokens_per_example": c.winner.tokens_per_example,
                "winner_tokens_per_1000_calls": c.per_1000_calls,
                "cheapest_dev": c.cheapest.score,
                "cheapest_tokens_per_example": c.cheapest.tokens_per_example,
                "cheapest_saves": c.saves,
                "front_size": len(c.front),
            }
        )
        if c.money_per_1000_calls is not None:
            out["winner_money_per_1000_calls"] = c.money_per_1000_calls
    return out


def prompt_name(task: str) -> str:
    """A prompt registry name for a task: ``apeopt-<task>`` with characters MLflow refuses replaced."""
    return "apeopt-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", task).strip("-")


def track_result(tracker: SafeTracker, summary: RunSummary, run_dir: Path) -> None:
    """The final table, the run's files and an HTML report as artifacts, the best prompt registered."""
    tracker.log_metrics(final_metrics(summary))
    tracker.log_table("final_table", final_rows(summary))
    if summary.cost is not None:
        tracker.log_table("cost_front", [p.to_dict() for p in summary.cost.front])
    tracker.log_artifacts([run_dir / name for name in ARTIFACTS])
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.html"
        try:
            from apeopt.html_report import build_report

            html, _ = build_report([run_dir])
            report.write_text(html)
        except Exception:  # the report is a convenience; the run's files are already logged
            pass
        tracker.log_artifacts([report])
    p = summary.winner.prompt
    if summary.complete and not p.retrieves:
        rendered = p.render("{{input}}")
        template: str | list[dict[str, str]] = (
            rendered if isinstance(rendered, str) else [{"role": r, "content": c} for r, c in rendered]
        )
        test = summary.winner.score("test")
        tracker.register_prompt(
            prompt_name(summary.task),
            template,
            {
                "commit": f"apeopt winner of {summary.run_dir}",
                "task": summary.task,
                "model": summary.model,
                "dev": f"{summary.winner.dev_selection.score:.4f}",
                "test": "" if test is None else f"{test.score:.4f}",
                "source_run": str(tracker.run_id or ""),
            },
        )


def tracked_optimize(
    config: Any,
    task: Any,
    space: Any,
    backend: Any,
    proposer: Any,
    store: Any,
    view: View,
    tracking: TrackingConfig,
    parent: str | None = None,
    resume: bool = False,
) -> RunSummary:
    """:func:`apeopt.optimizer.run.optimize` mirrored into the tracker: params first, metrics per scored
    step, then the final table and files; the tracked run ends FAILED or KILLED where the run does."""
    from apeopt.optimizer.run import optimize

    tracker = open_tracker(tracking)
    tracker.start(
        store.root.name,
        run_params(config, space, task),
        tags={"apeopt.kind": "optimize", "apeopt.task": task.name, "apeopt.run_dir": str(store.root.resolve())},
        parent=parent,
    )
    status = "FAILED"
    try:
        with TrackedView(view, tracker) as tracked:
            summary = optimize(config, task, space, backend, proposer, store, tracked, resume=resume)
        track_result(tracker, summary, store.root)
        status = "FINISHED" if summary.complete else "KILLED"
        return summary
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.end(status)
