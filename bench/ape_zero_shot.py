"""APE's own experiment: zero-shot instruction search vs the human instruction, on every built-in task.

The APE paper's setting (Zhou et al. 2023): the prompt is an instruction alone, no demos; the task
model is an instruction-following model (default Qwen2.5-Coder-0.5B-Instruct, `qwen2.5-coder-0.5b`)
and the proposer the same model unless `--proposer-model` names another (`qwen2.5-coder-1.5b`).
Per task, apeopt's `instruction` space (its completion template, or `--template chat`) searches on
train/dev under a call budget; then the winner and the human instruction — in the same prompt
format, so only the instruction differs — are scored on the same first `--test` test items, with a
paired bootstrap 95% interval of the difference (apeopt.scorers.stats). The model is loaded once
and shared by all tasks; test is read only after each search has finished.

    python bench/ape_zero_shot.py                                   # all 14 built-ins: est. ~25 min on 2 CPU cores
    python bench/ape_zero_shot.py --tasks plural antonyms --dev 10 --test 10 --budget-calls 40 --out /tmp/ape
    python bench/ape_zero_shot.py --proposer-model qwen2.5-coder-1.5b
"""

from __future__ import annotations

from apeopt.process import configure_process

configure_process()  # first: OMP_WAIT_POLICY before torch loads; quiet Optuna and HF progress bars

import argparse
import dataclasses
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

MODEL = "qwen2.5-coder-0.5b"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=None, help="built-in task names (default: all of them)")
    p.add_argument("--model", default=MODEL, help="the task model (scored)")
    p.add_argument("--proposer-model", default=None, help="the model that writes candidates (default: --model)")
    p.add_argument("--template", choices=("completion", "chat"), default="completion",
                   help="the prompt template (default: the instruction space's own, completion)")
    p.add_argument("--dev", type=int, default=30, help="dev items per task the search scores on")
    p.add_argument("--test", type=int, default=100, help="test items per task (the first N; the built-ins have 100)")
    p.add_argument("--budget-calls", type=int, default=300,
                   help="LM calls per task search: ~24 proposals a round, then 10+ dev log-probs per candidate")
    p.add_argument("--budget-minutes", type=float, default=None, help="also stop each search after this long")
    p.add_argument("--rounds", type=int, default=2, help="search rounds per task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the LM cache (honest timings)")
    p.add_argument("--runs", type=Path, default=None, help="run folders (default: runs/bench-ape-<time>)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ape_zero_shot",
                   help="writes OUT.json and OUT.md")
    args = p.parse_args(argv)
    for name in ("dev", "test", "budget_calls", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def instruction_space(template: str) -> Any:
    """The built-in `instruction` space (zero-shot, likelihood selection) with its template set."""
    from apeopt.search_spaces import load_space
    from apeopt.search_spaces.space import parse_space

    base = load_space("instruction")
    raw = dict(base.raw)
    raw["params"] = {**raw["params"], "template": template}
    return parse_space(raw, where=f"instruction space (template {template})")


def builtin_tasks(names: list[str] | None) -> list[str]:
    """``names`` (default: every built-in task), each checked to be a built-in task."""
    from apeopt.tasks import builtin_task_names

    unknown = [t for t in names or () if t not in builtin_task_names()]
    if unknown:
        raise SystemExit(f"error: unknown built-in task(s): {', '.join(unknown)}")
    return list(names or builtin_task_names())


def fmt(score: dict[str, Any]) -> str:
    lo, hi = score["ci"]
    return f"{score['score']:.2f} [{lo:.2f}, {hi:.2f}]"


def run_task(name: str, args: argparse.Namespace, space: Any, base: Any, base_proposer: Any | None,
             runs: Path) -> dict[str, Any]:
    """One task: a search on train/dev, then winner and human on the same test items. ``base`` (and
    ``base_proposer``, None for the task model itself) are loaded once; each task meters them afresh,
    so that its call budget counts its own calls only."""
    from apeopt.evaluation import evaluate_many
    from apeopt.models.stack import stacked
    from apeopt.optimizer.config import OptimizeConfig
    from apeopt.optimizer.run import optimize
    from apeopt.runs import RunStore, new_run_id
    from apeopt.optimizer.progress import View
    from apeopt.scorers import get_scorer
    from apeopt.scorers.stats import paired_bootstrap
    from apeopt.tasks import load_task

    config = OptimizeConfig(task=name, model=args.model, proposer_model=args.proposer_model, space=space.name,
                            seed=args.seed, split_seed=args.seed, dev_limit=args.dev, rounds=args.rounds,
                            budget_calls=args.budget_calls, budget_minutes=args.budget_minutes, few_shot_k=0,
                            device=args.device, use_cache=not args.no_cache)
    task = load_task(name, seed=config.split_seed)
    backend = stacked(base, use_cache=False, metered=True)
    proposer = backend if base_proposer is None else stacked(base_proposer, use_cache=False, metered=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    store = RunStore.create(None, runs, new_run_id(name, space.name, args.seed))
    summary = optimize(config, task, space, backend, proposer, store, View(), final=False)
    search_seconds = time.perf_counter() - started

    winner = summary.winner.prompt
    human = dataclasses.replace(winner, instruction=task.instruction)  # the same format: only the instruction differs
    test = task.split("test")[: args.test]
    scored = time.perf_counter()
    w, h = evaluate_many([(winner, test), (human, test)], backend, get_scorer(task.scorer), task.labels)
    test_seconds = time.perf_counter() - scored
    calls = backend.usage.calls + (proposer.usage.calls if proposer is not backend else 0)
    tokens = backend.usage.completion_tokens + (proposer.usage.completion_tokens if proposer is not backend else 0)
    return {
        "task": name, "scorer": task.scorer, "n_dev": len(config.dev_split(task)), "n_test": len(test),
        "human": h.aggregate.as_dict(), "apeopt": w.aggregate.as_dict(),
        "apeopt_vs_human": paired_bootstrap(w.scores, h.scores),
        "instruction": winner.instruction, "human_instruction": task.instruction, "origin": summary.winner.origin,
        "dev_selection": summary.winner.dev_selection.to_dict(), "candidates": summary.candidates,
        "search_calls": summary.search.lm_calls, "lm_calls": calls, "stop_reason": summary.stop_reason,
        "search_seconds": round(search_seconds, 1), "test_seconds": round(test_seconds, 1),
        "new_tokens": tokens,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "load_avg_before": round(load_before, 2), "load_avg_after": round(os.getloadavg()[0], 2),
        "run_dir": summary.run_dir,
    }


def main(argv: list[str] | None = None) -> None:
    from apeopt.models.stack import open_backend

    args = parse_args(argv)
    tasks = builtin_tasks(args.tasks)
    space = instruction_space(args.template)
    runs = args.runs or Path("runs") / f"bench-ape-{time.strftime('%Y%m%d-%H%M%S')}"
    meta: dict[str, Any] = {
        "command": "python " + shlex.join(["bench/ape_zero_shot.py", *sys.argv[1:]] if argv is None else ["bench/ape_zero_shot.py", *argv]),
        "date": time.strftime("%Y-%m-%d %H:%M"), "model": args.model, "proposer_model": args.proposer_model or args.model,
        "template": args.template, "dev": args.dev, "test": args.test, "budget_calls": args.budget_calls,
        "budget_minutes": args.budget_minutes, "rounds": args.rounds, "seed": args.seed, "cache": not args.no_cache,
        "python": platform.python_version(), "cpus": os.cpu_count(), "load_avg_at_start": list(os.getloadavg()),
    }
    started = time.perf_counter()
    backend = open_backend(args.model, device=args.device, use_cache=not args.no_cache)
    proposer = None if (args.proposer_model or args.model) == args.model else open_backend(
        args.proposer_model, device=args.device, use_cache=not args.no_cache)
    meta["load_seconds"] = round(time.perf_counter() - started, 1)
    print(f"models loaded in {meta['load_seconds']:.0f}s", flush=True)
    rows: list[dict[str, Any]] = []
    for name in tasks:
        row = run_task(name, args, space, backend, proposer, runs)
        rows.append(row)
        d = row["apeopt_vs_human"]
        print(f"{name}: human {fmt(row['human'])} | apeopt {fmt(row['apeopt'])} | diff {d['diff']:+.2f} "
              f"[{d['ci_lo']:+.2f}, {d['ci_hi']:+.2f}] | {row['lm_calls']} calls {row['wall_seconds']:.0f}s", flush=True)
        meta["wall_seconds"] = round(time.perf_counter() - started, 1)
        write(rows, meta, args.out)
    print(f"total {meta['wall_seconds']:.0f}s -> {args.out.with_suffix('.md')}", flush=True)


def write(rows: list[dict[str, Any]], meta: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "load_avg_at_end": list(os.getloadavg())}
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    beats = [r for r in rows if r["apeopt_vs_human"]["ci_lo"] > 0]
    worse = [r for r in rows if r["apeopt_vs_human"]["ci_hi"] < 0]
    mean_diff = statistics.fmean(r["apeopt_vs_human"]["diff"] for r in rows)
    lines = [
        f"# APE zero-shot: apeopt's instruction vs the human instruction ({meta['model']})\n",
        f"`{meta['command']}` — {meta['date']}, {meta['cpus']} CPUs, load average at start "
        f"{meta['load_avg_at_start'][0]:.2f}, end {meta['load_avg_at_end'][0]:.2f}; model load {meta['load_seconds']:.0f} s, "
        f"total {meta.get('wall_seconds', 0):.0f} s.\n",
        f"Task model `{meta['model']}`, proposer `{meta['proposer_model']}`; `instruction` space (zero-shot, no demos, "
        f"selected by gold-answer log-likelihood on the first {meta['dev']} dev items), {meta['template']} template, "
        f"{meta['budget_calls']} LM calls per search, {meta['rounds']} rounds, seed {meta['seed']}. Test: the first "
        f"{meta['test']} test items per task, scored with the task's scorer; the human instruction is scored in the "
        "winner's prompt format (only the instruction differs). Δ = paired bootstrap difference apeopt − human with "
        "its 95% interval (* above 0, ° below 0).\n",
        "| task | n | human | apeopt | Δ [95% CI] | winner from | LM calls | wall s | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d = r["apeopt_vs_human"]
        mark = "*" if d["ci_lo"] > 0 else "°" if d["ci_hi"] < 0 else ""
        lines.append(f"| {r['task']} | {r['n_test']} | {fmt(r['human'])} | {fmt(r['apeopt'])} | {d['diff']:+.2f} "
                     f"[{d['ci_lo']:+.2f}, {d['ci_hi']:+.2f}]{mark} | {r['origin']} | {r['lm_calls']} | "
                     f"{r['wall_seconds']:.0f} | {r['load_avg_before']:.1f} |")
    lines += [
        "",
        f"apeopt's instruction beats the human one on test (interval above 0) on **{len(beats)} of {len(rows)}** tasks, "
        f"is worse (interval below 0) on {len(worse)}; mean difference {mean_diff:+.3f}. Mean test score: human "
        f"{statistics.fmean(r['human']['score'] for r in rows):.3f}, apeopt {statistics.fmean(r['apeopt']['score'] for r in rows):.3f}.",
        "",
        "Winning instructions (`human` = the task's own instruction was kept):",
        "",
    ] + [f"- {r['task']}: “{r['instruction']}” ({r['origin']})" for r in rows]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
