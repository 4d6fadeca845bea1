"""apeopt's winner vs the human instruction vs fixed k-shot prompting, on every built-in task.

Runs `apeopt optimize` (default settings unless overridden) per task and seed on the embedded
model, then scores the human instruction with k random train demos (k = 1, 3, 5, 8, 16, 32, the
run's own k-shot seed) on the same test items, and tabulates test scores with 95% intervals, LM
calls, wall time and the winners' texts. "Best fixed k" is the single k with the highest mean test
score over all tasks (an oracle choice on test, so a strong baseline); "best k per task" picks k per
task on test (stronger still, and not available to a user).

    python bench/quality.py                      # all built-in tasks, seed 0
    python bench/quality.py --seeds 3 --tasks plural sentiment
"""

from __future__ import annotations

from apeopt.process import configure_process

configure_process()  # first: OMP_WAIT_POLICY before torch loads; quiet Optuna and HF progress bars

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


K_SHOTS = (1, 3, 5, 8, 16, 32)


def k_shot_scores(task_name: str, model: str, split_seed: int) -> dict[str, dict]:
    """Test scores of the human instruction + k random train demos, for each k that fits the prompt cap."""
    from apeopt.evaluation import evaluate_many
    from apeopt.models.stack import open_backend
    from apeopt.optimizer.demos.ladder import max_demos
    from apeopt.prompts.demos import sample_demos
    from apeopt.prompts.prompt import PromptConfig
    from apeopt.scorers import get_scorer
    from apeopt.tasks import load_task

    task = load_task(task_name, seed=split_seed)
    train, test = task.split("train"), task.split("test")
    ks = [k for k in K_SHOTS if k <= max_demos(train, task.instruction)]
    prompts = [PromptConfig(task.instruction, demos=sample_demos(train, k, seed=split_seed), max_tokens=task.max_tokens) for k in ks]
    backend = open_backend(model)
    results = evaluate_many([(p, test) for p in prompts], backend, get_scorer(task.scorer), task.labels)
    return {str(k): r.aggregate.as_dict() for k, r in zip(ks, results)}


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
                "instruction": s.winner.prompt.instruction, "demos": s.winner.prompt.demo_count,
                "demo_source": "retrieved" if s.winner.prompt.retrieves else "fixed", "origin": s.winner.origin,
                "k_shot": k_shot_scores(task, args.model, config.split_seed),
                "dev_test_gap": s.dev_test_gap,
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
    sig = lambda p: p is not None and p["ci_lo"] > 0  # noqa: E731
    ks = [k for k in map(str, K_SHOTS) if all(k in r["k_shot"] for r in rows)]
    k_mean = {k: statistics.fmean(r["k_shot"][k]["score"] for r in rows) for k in ks}
    best_k = max(ks, key=lambda k: k_mean[k])
    per_task = [max(r["k_shot"][k]["score"] for k in r["k_shot"]) for r in rows]
    lines = [
        f"# apeopt vs the human instruction vs fixed k-shot ({args.space} space, {meta['model']})\n",
        f"`{meta['command']}` — {meta['date']}, {meta['cpus']} CPUs. Test scores with 95% intervals (n=100 per task). "
        f"k-shot = the human instruction + k random train demos (the run's k-shot seed); best fixed k = {best_k} "
        "(highest mean test score over the tasks). `Δ` = paired bootstrap difference on the same test items "
        "(* = 95% interval above 0, ° = below 0). `wall s` is with the LM cache as earlier runs left it "
        "(scores do not depend on it; cold-cache run time is `bench/optimize_time.py`'s).\n",
        f"| task | human | 5-shot | {best_k}-shot | best k (test) | apeopt | Δ vs {best_k}-shot | Δ vs human | winner | dev − test | LM calls | wall s | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r, top in zip(rows, per_task):
        d_h = r["winner_vs_human"]
        best = r["k_shot"][best_k]
        diff = r["winner"]["score"] - best["score"]
        kind = f"{r['origin']} + {r['demos']} {r['demo_source']}"
        gap = "-" if r["dev_test_gap"] is None else f"{r['dev_test_gap']:+.2f}"
        lines.append(
            f"| {r['task']}{'' if args.seeds == 1 else ' s' + str(r['seed'])} | {fmt(r['human'])} | {fmt(r['few_shot'])} | {fmt(best)} | "
            f"{top:.2f} | {fmt(r['winner'])} | {diff:+.2f} | {d_h['diff']:+.2f}{'*' if sig(d_h) else '°' if d_h['ci_hi'] < 0 else ''} | "
            f"{kind} | {gap} | {r['lm_calls']} | {r['wall_seconds']:.0f} | {r['load_avg_at_start']:.1f} |"
        )
    mean = lambda k: statistics.fmean(r[k]["score"] for r in rows if r.get(k))  # noqa: E731
    lines += [
        "",
        f"Mean test score over {len(rows)} runs: human {mean('human'):.3f}, 5-shot {mean('few_shot'):.3f}, "
        + ", ".join(f"{k}-shot {k_mean[k]:.3f}" for k in ks)
        + f"; best k per task (oracle) {statistics.fmean(per_task):.3f}; **apeopt {mean('winner'):.3f}** "
        f"(apeopt − best fixed k-shot: {mean('winner') - k_mean[best_k]:+.3f}). "
        f"apeopt is below the best fixed k-shot by more than 0.03 on "
        f"{sum(r['winner']['score'] < r['k_shot'][best_k]['score'] - 0.03 for r in rows)} of {len(rows)} tasks.",
        "",
        "Winning prompts (instruction; `origin` human = the task's own instruction, kept unless a proposal beat it credibly on dev):",
        "",
    ] + [f"- {r['task']}: “{r['instruction']}” ({r['origin']}) + {r['demos']} {r['demo_source']} demos" for r in rows]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
