"""What the winner costs to deploy vs the cheapest prompt within noise of it, on every built-in task.

Per task, apeopt searches (the default `fewshot` space, default model SmolLM2-135M) on train/dev
under an LM-call budget, exactly as `apeopt optimize` does. Its cost report then names two prompts:
the **winner** (best dev score, what `--prefer best` exports) and the **cheapest within noise**
(fewest tokens per example among the prompts fully scored on dev that the winner does not credibly
beat: the paired bootstrap of the selection rule, what `--prefer cheapest` exports). Both are then
scored on the same first `--test` test items (read after the search), with the paired difference
cheapest − winner and its 95% interval. Tokens are counted by the model's own tokenizer: prompt
tokens per call (mean over dev inputs) and all tokens per example of the dev scoring.

Long benches are run one task per process, each under the shared model lock, appending its row:

    for t in $(apeopt tasks --json | python -c 'import json,sys; print(*[r["name"] for r in json.load(sys.stdin)])'); do
      flock /tmp/apeopt-model.lock python bench/cost.py --tasks $t --append; done
    python bench/cost.py --tasks plural antonyms --dev 10 --test 10 --budget-calls 60 --out /tmp/cost
"""

from __future__ import annotations

from apeopt.process import configure_process

configure_process()  # first: OMP_WAIT_POLICY before torch loads; quiet Optuna and HF progress bars

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ape_zero_shot import builtin_tasks  # noqa: E402  (bench/ is no package)

MODEL = "smollm2-135m"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=None, help="built-in task names (default: all of them)")
    p.add_argument("--model", default=MODEL, help="the task model (scored; also the proposer)")
    p.add_argument("--space", default="fewshot", help="the search space (default: the default space, fewshot)")
    p.add_argument("--dev", type=int, default=30, help="dev items per task the search scores on")
    p.add_argument("--test", type=int, default=100, help="test items per task (the first N; the built-ins have 100)")
    p.add_argument("--budget-calls", type=int, default=300, help="LM calls per task search")
    p.add_argument("--rounds", type=int, default=2, help="search rounds per task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="float32", help="model precision (float32, the committed rows; auto: bf16 where the CPU has it)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the LM cache")
    p.add_argument("--append", action="store_true", help="add (or replace) these tasks' rows in OUT.json")
    p.add_argument("--runs", type=Path, default=None, help="run folders (default: runs/bench-cost-<time>)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cost", help="writes OUT.json and OUT.md")
    args = p.parse_args(argv)
    for name in ("dev", "test", "budget_calls", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def fmt(score: dict[str, Any]) -> str:
    lo, hi = score["ci"]
    return f"{score['score']:.2f} [{lo:.2f}, {hi:.2f}]"


def run_task(name: str, args: argparse.Namespace, base: Any, runs: Path) -> dict[str, Any]:
    """One task: the search, its cost report, then winner and cheapest-within-noise on the same test items."""
    from apeopt.evaluation import evaluate_many
    from apeopt.models.stack import stacked
    from apeopt.optimizer.config import OptimizeConfig
    from apeopt.optimizer.run import optimize
    from apeopt.optimizer.progress import View
    from apeopt.prompts.file import load_prompt_file
    from apeopt.runs import CHEAPEST_PROMPT, RunStore, new_run_id
    from apeopt.scorers import get_scorer
    from apeopt.scorers.stats import paired_bootstrap
    from apeopt.search_spaces import load_space
    from apeopt.tasks import load_task

    space = load_space(args.space)
    config = OptimizeConfig(task=name, model=args.model, space=space.name, seed=args.seed, split_seed=args.seed,
                            dev_limit=args.dev, rounds=args.rounds, budget_calls=args.budget_calls, budget_minutes=None,
                            few_shot_k=0, device=args.device, dtype=args.dtype, use_cache=not args.no_cache)
    task = load_task(name, seed=config.split_seed)
    backend = stacked(base, use_cache=False, metered=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    store = RunStore.create(None, runs, new_run_id(name, space.name, args.seed))
    summary = optimize(config, task, space, backend, backend, store, View(), final=False)
    search_seconds = time.perf_counter() - started
    cost = summary.cost
    assert cost is not None
    prompts = {"winner": summary.winner.prompt}
    if cost.cheapest.trial != cost.best.trial:  # the cheapest prompt within noise, as the run wrote it
        prompts["cheapest"] = load_prompt_file(store.path(CHEAPEST_PROMPT)).prompt
    test = task.split("test")[: args.test]
    results = evaluate_many([(p, test) for p in prompts.values()], backend, get_scorer(task.scorer), task.labels)
    got = dict(zip(prompts, results))
    w = got["winner"]
    c = got.get("cheapest", w)
    diff = paired_bootstrap(c.scores, w.scores)
    return {
        "task": name, "scorer": task.scorer, "n_dev": len(config.dev_split(task)), "n_test": len(test),
        "winner": {**cost.best.to_dict(), "test": w.aggregate.as_dict()},
        "cheapest": {**cost.cheapest.to_dict(), "test": c.aggregate.as_dict()},
        "same_prompt": cost.cheapest.trial == cost.best.trial,
        "dev_winner_minus_cheapest": {"diff": cost.diff, "lower": cost.lower, "n": cost.n},
        "test_cheapest_minus_winner": diff, "saves": cost.saves, "front": len(cost.front),
        "tokenizer": cost.tokenizer, "search_calls": summary.search.lm_calls, "stop_reason": summary.stop_reason,
        "search_seconds": round(search_seconds, 1), "wall_seconds": round(time.perf_counter() - started, 1),
        "load_avg_before": round(load_before, 2), "load_avg_after": round(os.getloadavg()[0], 2),
        "run_dir": summary.run_dir,
    }


def main(argv: list[str] | None = None) -> None:
    from apeopt.models.stack import open_backend
    from apeopt.tasks import builtin_task_names

    args = parse_args(argv)
    tasks = builtin_tasks(args.tasks)
    runs = args.runs or Path("runs") / f"bench-cost-{time.strftime('%Y%m%d-%H%M%S')}"
    given = list(sys.argv[1:] if argv is None else argv)
    if args.append and "--tasks" in given:  # one chunk of tasks per process: the command shows the shared options
        i = given.index("--tasks")
        j = next((k for k in range(i + 1, len(given)) if given[k].startswith("--")), len(given))
        given[i:j] = ["--tasks", "<chunk>"]
    shown = ["bench/cost.py", *given]
    meta: dict[str, Any] = {
        "command": "python " + shlex.join([a for a in shown if a != "--append"]), "date": time.strftime("%Y-%m-%d %H:%M"),
        "model": args.model, "space": args.space, "dev": args.dev, "test": args.test, "budget_calls": args.budget_calls,
        "rounds": args.rounds, "seed": args.seed, "cache": not args.no_cache, "python": platform.python_version(),
        "cpus": os.cpu_count(), "load_avg_at_start": list(os.getloadavg()),
    }
    rows: list[dict[str, Any]] = []
    if args.append and args.out.with_suffix(".json").is_file():
        old = json.loads(args.out.with_suffix(".json").read_text())
        rows = [r for r in old["rows"] if r["task"] not in tasks]
        meta = {**old["meta"], "date": meta["date"], "load_avg_at_start": meta["load_avg_at_start"]}
    started = time.perf_counter()
    base = open_backend(args.model, device=args.device, use_cache=not args.no_cache, dtype=args.dtype)
    print(f"model loaded in {time.perf_counter() - started:.0f}s", flush=True)
    for name in tasks:
        row = run_task(name, args, base, runs)
        rows.append(row)
        w, c = row["winner"], row["cheapest"]
        print(f"{name}: winner test {fmt(w['test'])} {w['tokens_per_example']:.0f} tok/ex | cheapest test {fmt(c['test'])} "
              f"{c['tokens_per_example']:.0f} tok/ex (saves {row['saves']:.0%}) | {row['wall_seconds']:.0f}s", flush=True)
        order = {t: i for i, t in enumerate(builtin_task_names())}
        rows.sort(key=lambda r: order.get(r["task"], 99))
        write(rows, meta, args.out)
    print(f"-> {args.out.with_suffix('.md')}", flush=True)


def write(rows: list[dict[str, Any]], meta: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "load_avg_at_end": list(os.getloadavg())}
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    cheaper = [r for r in rows if not r["same_prompt"]]
    worse = [r for r in cheaper if r["test_cheapest_minus_winner"]["ci_hi"] < 0]
    lines = [
        f"# Deployment cost: the winner vs the cheapest prompt within noise of it ({meta['model']})\n",
        f"`{meta['command']}` (one task per process under the model lock, `--append`) — last row {meta['date']}, "
        f"{meta['cpus']} CPUs; load average per row in the table.\n",
        f"`{meta['space']}` space, {meta['budget_calls']} LM calls per search, {meta['rounds']} rounds, selection on the "
        f"first {meta['dev']} dev items, seed {meta['seed']}. **winner**: the best dev score (`--prefer best`, the "
        "default); **cheapest**: the fewest tokens per example among prompts fully scored on dev that the winner does not "
        "credibly beat (paired bootstrap, one-sided 95%; `--prefer cheapest`). Scores: mean [95% interval]; dev n = "
        f"{meta['dev']}, test n = the first {meta['test']} test items, read after the search. tok = prompt tokens per call "
        "(the model's tokenizer, mean over dev inputs) / all tokens per example of the dev scoring (prompt + generated). "
        "Δ test = paired bootstrap cheapest − winner with its 95% interval (° below 0).\n",
        "| task | winner: dev | test | tok (prompt/ex) | demos | cheapest: dev | test | tok (prompt/ex) | demos | saves | Δ test [95% CI] | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        w, c, d = r["winner"], r["cheapest"], r["test_cheapest_minus_winner"]
        dev = lambda p: f"{p['score']:.2f} [{p['ci'][0]:.2f}, {p['ci'][1]:.2f}] n={p['n']}"  # noqa: E731
        tok = lambda p: f"{p['prompt_tokens']:.0f} / {p['tokens_per_example']:.0f}"  # noqa: E731
        if r["same_prompt"]:
            rest = "(the winner itself) | | | | 0% | |"
        else:
            mark = "°" if d["ci_hi"] < 0 else ""
            rest = (f"{dev(c)} | {fmt(c['test'])} | {tok(c)} | {c['demos']} | {r['saves']:.0%} | {d['diff']:+.2f} "
                    f"[{d['ci_lo']:+.2f}, {d['ci_hi']:+.2f}]{mark} |")
        lines.append(f"| {r['task']} | {dev(w)} | {fmt(w['test'])} n={w['test']['n']} | {tok(w)} | {w['demos']} | {rest} "
                     f"{r['load_avg_before']:.1f} |")
    if rows:
        saved = statistics.fmean(r["saves"] for r in rows)
        lines += [
            "",
            f"A cheaper prompt within noise of the winner on dev was found on **{len(cheaper)} of {len(rows)}** tasks; "
            f"mean saving over all rows {saved:.0%} of the winner's tokens per example. On test it was credibly worse "
            f"(interval below 0) on {len(worse)} of those {len(cheaper)}"
            + (f" ({', '.join(r['task'] for r in worse)})" if worse else "") + ".",
        ]
    if meta.get("note"):
        lines += ["", f"Note: {meta['note']}."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
