"""apeopt's winner vs the human instruction vs 5-shot prompting, on every built-in task.

Runs `apeopt optimize` (default settings unless overridden) per task and seed on the embedded
model, then tabulates test scores with 95% intervals, LM calls and wall time.

    python bench/quality.py                      # all built-in tasks, seed 0
    python bench/quality.py --seeds 3 --tasks plural sentiment
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from apeopt.models.spec import DEFAULT_SPEC
from apeopt.optimizer.config import OptimizeConfig
from apeopt.services.optimize import run_optimize
from apeopt.tasks import builtin_task_names


def fmt(score: dict | None) -> str:
    if not score:
        return "-"
    lo, hi = score["ci"]
    return f"{score['score']:.2f} [{lo:.2f}, {hi:.2f}]"


def _split(scored: Any, split: str = "test") -> dict | None:
    """A winner's or baseline's score on ``split`` as in summary.json (None when it has none)."""
    score = scored.score(split) if scored is not None else None
    return score.to_dict() if score is not None else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=None, help="default: every built-in task")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--space", default="fewshot")
    ap.add_argument("--model", default=DEFAULT_SPEC)
    ap.add_argument("--budget-minutes", type=float, default=10.0)
    ap.add_argument("--runs", default="runs/bench-quality")
    ap.add_argument("--out", default="bench/results/quality")
    args = ap.parse_args()
    tasks = args.tasks or builtin_task_names()
    rows = []
    for task in tasks:
        for seed in range(args.seeds):
            config = OptimizeConfig(task=task, model=args.model, space=args.space, seed=seed, budget_minutes=args.budget_minutes)
            load = os.getloadavg()[0]
            s = run_optimize(config, runs_root=Path(args.runs), quiet=True)
            pt = {k: p.to_dict() if p else None for k, p in s.paired_test.items()}
            row = {
                "task": task, "seed": seed, "space": args.space, "load_avg_at_start": round(load, 2),
                "human": _split(s.human), "few_shot": _split(s.few_shot), "winner": _split(s.winner),
                "human_shift": _split(s.human, "test_shift"), "winner_shift": _split(s.winner, "test_shift"),
                "winner_vs_human": pt["winner_vs_human"], "winner_vs_few_shot": pt["winner_vs_few_shot"],
                "instruction": s.winner.prompt.instruction, "demos": len(s.winner.prompt.demos),
                "lm_calls": s.lm_calls, "tokens": s.tokens, "wall_seconds": s.wall_seconds, "stop_reason": s.stop_reason,
                "run_dir": s.run_dir,
            }
            rows.append(row)
            print(f"{task} s{seed}: human {fmt(row['human'])} | 5-shot {fmt(row['few_shot'])} | apeopt {fmt(row['winner'])} | "
                  f"{row['lm_calls']} calls {row['wall_seconds']:.0f}s", flush=True)
            write(rows, args)


def write(rows: list[dict], args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": f"python bench/quality.py --space {args.space} --seeds {args.seeds} --budget-minutes {args.budget_minutes}"
        + (f" --tasks {' '.join(args.tasks)}" if args.tasks else ""),
        "date": time.strftime("%Y-%m-%d %H:%M"), "model": args.model, "python": platform.python_version(), "cpus": os.cpu_count(),
    }
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    win = lambda r, k: r["winner"]["score"] - r[k]["score"] if r.get(k) and r.get("winner") else 0.0  # noqa: E731
    sig = lambda p: p is not None and p["ci_lo"] > 0  # noqa: E731
    lines = [
        f"# apeopt vs human instruction vs 5-shot ({args.space} space, {meta['model']})\n",
        f"`{meta['command']}` — {meta['date']}, {meta['cpus']} CPUs. Test scores with 95% intervals (n=100 per task); "
        "`Δ` is the paired bootstrap difference winner − human on the same test items (* = interval above 0).\n",
        "| task | human | 5-shot | apeopt | Δ vs human | Δ vs 5-shot | shift: human → apeopt | demos | LM calls | wall s | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d_h, d_f = r["winner_vs_human"], r["winner_vs_few_shot"]
        lines.append(
            f"| {r['task']}{'' if args.seeds == 1 else ' s' + str(r['seed'])} | {fmt(r['human'])} | {fmt(r['few_shot'])} | {fmt(r['winner'])} | "
            f"{d_h['diff']:+.2f}{'*' if sig(d_h) else ''} | {d_f['diff']:+.2f}{'*' if sig(d_f) else ''} | "
            f"{fmt(r['human_shift'])} → {fmt(r['winner_shift'])} | {r['demos']} | {r['lm_calls']} | {r['wall_seconds']:.0f} | {r['load_avg_at_start']:.1f} |"
        )
    beats_h = sum(win(r, "human") > 0 for r in rows)
    beats_f = sum(win(r, "few_shot") > 0 for r in rows)
    ties_f = sum(win(r, "few_shot") == 0 for r in rows)
    mean = lambda k: statistics.fmean(r[k]["score"] for r in rows if r.get(k))  # noqa: E731
    lines += [
        "",
        f"Mean test score: human {mean('human'):.3f}, 5-shot {mean('few_shot'):.3f}, apeopt {mean('winner'):.3f}. "
        f"apeopt beats the human instruction on {beats_h}/{len(rows)} runs and 5-shot on {beats_f}/{len(rows)} (ties: {ties_f}).",
        "",
        "Winning instructions:",
        "",
    ] + [f"- {r['task']}: “{r['instruction']}” + {r['demos']} demos" for r in rows]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
