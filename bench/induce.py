"""Instruction induction from examples alone vs a person's instruction, and the ceiling, per built-in task.

Task model Qwen2.5-Coder-0.5B-Instruct (`qwen2.5-coder-0.5b`), proposer the same unless
`--proposer-model` names another. Per task and space (`instruction`: zero-shot, selected by gold-answer
log-likelihood; `fewshot`: the default space, demos and generation), in the space's start format:

- `none`: no instruction (the format and, in the default space, its demos alone);
- `human`: the task's human instruction;
- `induced`: apeopt's winner on the task with its instruction removed (from examples alone);
- `with_human`: apeopt's winner with the human instruction available (induce + constraint proposers);
- `ceiling_induced` / `ceiling_with_human`: the best on test of the winner and of up to
  `--ceiling-top` of that search's candidates best on dev plus `--ceiling-random` others (the winner
  among them), each scored on test in the winner's format. An oracle pick: reported as a ceiling only, never used for selection.

Every row is scored on the same first `--test` test items with the task's scorer and carries a paired
bootstrap 95% interval of its difference to the `human` row (and, for induced rows, to `none`). Each
search runs on train/dev under a call budget; test is read only after it has finished. `--variant`
runs the `induced` search with one lever switched off (the lever table). Results MERGE into OUT.json
(one row per task, space, method and variant), so the bench runs in chunks:

    python bench/induce.py --tasks plural antonyms                 # adds/replaces these tasks' rows
    python bench/induce.py --tasks plural --variant no_clauses --methods induced
    python bench/induce.py --tasks plural --dev 10 --test 10 --budget-calls 60 --out /tmp/induce
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from ape_zero_shot import MODEL, builtin_tasks, fmt, instruction_space  # noqa: E402  (bench/ is no package)

METHODS = ("none", "human", "induced", "with_human")
# Both searches propose with induce and constraint clauses (variants below switch levers off).
INDUCE: dict[str, Any] = {"proposers": ("induce", "constraints"),
                          "later_proposers": ("variation", "history", "reflect", "constraints")}
# Induced-search variants: one lever off each (OptimizeConfig fields), for the lever table.
VARIANTS: dict[str, dict[str, Any]] = {
    "all": {},
    "no_profile": {"profile": False},  # the proposer does not see the data profile
    "no_begun_reply": {"begin_reply": False},  # induce asks for whole instructions (no "Instruction: Write the")
    "no_clauses": {"proposers": ("induce", "forward"), "later_proposers": ("variation", "history", "reflect", "forward"),
                   "auto_induce": False},
    "no_prescreen": {"prescreen_items": 0},
    "no_guard": {"guard": False},
    "ape": {"proposers": ("forward", "chat"), "later_proposers": ("variation", "history", "reflect", "forward"),
            "prescreen_items": 0, "guard": False, "profile": False, "auto_induce": False},  # APE's proposers, no levers
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=None, help="built-in task names (default: all of them)")
    p.add_argument("--space", choices=("instruction", "fewshot"), default="instruction")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--variant", choices=tuple(VARIANTS), default="all", help="the induced search's levers")
    p.add_argument("--model", default=MODEL)
    p.add_argument("--proposer-model", default=None)
    p.add_argument("--dev", type=int, default=30)
    p.add_argument("--test", type=int, default=50)
    p.add_argument("--budget-calls", type=int, default=300)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--prescreen", type=int, default=3, help="dev items of the likelihood pre-screen (0: off)")
    p.add_argument("--ceiling-top", type=int, default=3)
    p.add_argument("--ceiling-random", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--runs", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "induce")
    return p.parse_args(argv)


def space_for(name: str) -> Any:
    from apeopt.search_spaces import load_space

    return instruction_space("completion") if name == "instruction" else load_space(name)


def search(task: Any, name: str, method: str, args: argparse.Namespace, space: Any, backend: Any, proposer: Any, runs: Path,
           overrides: dict[str, Any]) -> tuple[Any, Any]:
    """One apeopt search on train/dev (final=False: nothing read from test); (summary, store)."""
    from apeopt.optimizer.config import OptimizeConfig
    from apeopt.optimizer.run import optimize
    from apeopt.runs import RunStore, new_run_id
    from apeopt.optimizer.progress import View

    kw: dict[str, Any] = dict(task=name, model=args.model, proposer_model=args.proposer_model, space=space.name,
                              seed=args.seed, split_seed=args.seed, dev_limit=args.dev, rounds=args.rounds,
                              budget_calls=args.budget_calls, budget_minutes=None, few_shot_k=0, device=args.device,
                              use_cache=not args.no_cache, prescreen_items=args.prescreen)
    kw.update(overrides)
    config = OptimizeConfig(**kw)
    store = RunStore.create(None, runs, new_run_id(f"{name}-{method}", space.name, args.seed))
    return optimize(config, task, space, backend, proposer, store, View(), final=False), store


def candidates(store: Any, top: int, others: int, seed: int) -> list[str]:
    """Texts of the search's ``top`` candidates best on dev (most items first) and ``others`` drawn from the rest."""
    rows = [json.loads(line) for line in store.path("candidates.jsonl").read_text().splitlines() if line.strip()]
    scored = []
    for r in rows:
        if r["evaluations"] and r["text"].strip():
            best = max(r["evaluations"], key=lambda e: (e["n"], e["score"]))
            scored.append((best["n"], best["score"], r["text"]))
    scored.sort(reverse=True)
    head = [t for _, _, t in scored[:top]]
    rest = [t for _, _, t in scored[top:]] + [r["text"] for r in rows if not r["evaluations"] and r["text"].strip()]
    return head + random.Random(seed).sample(rest, min(others, len(rest)))


def run_task(name: str, args: argparse.Namespace, space: Any, base: Any, base_proposer: Any | None,
             runs: Path) -> list[dict[str, Any]]:
    from apeopt.evaluation import evaluate_many
    from apeopt.models.stack import stacked
    from apeopt.optimizer.candidates.entries import prompt_for
    from apeopt.scorers import get_scorer
    from apeopt.scorers.stats import paired_bootstrap
    from apeopt.tasks import load_task

    task = load_task(name, seed=args.seed)
    bare = dataclasses.replace(task, instruction="")
    test = task.split("test")[: args.test]
    scorer = get_scorer(task.scorer)
    start = space.defaults()

    def prompt(instruction: str, fmt_: Any = start) -> Any:
        return prompt_for(instruction, fmt_, task.split("train"), task.max_tokens)

    def score(prompts: list[Any], backend: Any) -> list[Any]:
        return evaluate_many([(p, test) for p in prompts], backend, scorer, task.labels)

    meter = stacked(base, use_cache=False, metered=True)
    human_res, none_res = score([prompt(task.instruction), prompt("")], meter)
    rows: list[dict[str, Any]] = []

    def row(method: str, res: Any, instruction: str, **extra: Any) -> dict[str, Any]:
        r = {"task": name, "space": space.name, "method": method, "variant": args.variant if method == "induced" else "all",
             "scorer": task.scorer, "n_test": len(test), "test": res.aggregate.as_dict(), "instruction": instruction,
             "vs_human": paired_bootstrap(res.scores, human_res.scores),
             "vs_none": paired_bootstrap(res.scores, none_res.scores),
             "human_instruction": task.instruction, "load_avg": round(os.getloadavg()[0], 2), **extra}
        rows.append(r)
        return r

    if "human" in args.methods:
        row("human", human_res, task.instruction, lm_calls=len(test), new_tokens=None, wall_seconds=None)
    if "none" in args.methods:
        row("none", none_res, "", lm_calls=len(test), new_tokens=None, wall_seconds=None)
    searches = [("induced", bare, {**INDUCE, **VARIANTS[args.variant]}), ("with_human", task, INDUCE)]
    for method, t, overrides in searches:
        if method not in args.methods:
            continue
        backend = stacked(base, use_cache=False, metered=True)
        proposer = backend if base_proposer is None else stacked(base_proposer, use_cache=False, metered=True)
        started = time.perf_counter()
        summary, store = search(t, name, method, args, space, backend, proposer, runs, overrides)
        winner = summary.winner.prompt
        (won,) = score([winner], backend)
        calls = backend.usage.calls + (proposer.usage.calls if proposer is not backend else 0)
        tokens = backend.usage.completion_tokens + (proposer.usage.completion_tokens if proposer is not backend else 0)
        wall = round(time.perf_counter() - started, 1)
        row(method, won, winner.instruction, origin=summary.winner.origin, candidates=summary.candidates,
            search_calls=summary.search.lm_calls, lm_calls=calls, new_tokens=tokens, wall_seconds=wall,
            stop_reason=summary.stop_reason, dev_selection=summary.winner.dev_selection.to_dict(), run_dir=summary.run_dir)
        if args.variant != "all" and method == "induced":
            continue  # lever rows: no ceiling
        pool = candidates(store, args.ceiling_top, args.ceiling_random, args.seed)
        texts = [winner.instruction] + [c for c in pool if c not in (task.instruction, winner.instruction)]
        ceiling_started = time.perf_counter()
        results = [won] + score([dataclasses.replace(winner, instruction=c) for c in texts[1:]], meter)
        i = max(range(len(texts)), key=lambda j: (results[j].aggregate.score, -j))
        row(f"ceiling_{method}", results[i], texts[i], pool=len(texts), lm_calls=len(test) * (len(texts) - 1),
            new_tokens=None, wall_seconds=round(time.perf_counter() - ceiling_started, 1),
            scored={c: round(r.aggregate.score, 4) for c, r in zip(texts, results)})
    return rows


def key(r: dict[str, Any]) -> tuple[str, str, str, str]:
    return (r["task"], r["space"], r["method"], r.get("variant", "all"))


def main(argv: list[str] | None = None) -> None:
    from apeopt.models.stack import open_backend

    args = parse_args(argv)
    tasks = builtin_tasks(args.tasks)
    space = space_for(args.space)
    runs = args.runs or Path("runs") / f"bench-induce-{time.strftime('%Y%m%d-%H%M%S')}"
    command = "python " + shlex.join(["bench/induce.py", *(sys.argv[1:] if argv is None else argv)])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip() or None
    started = time.perf_counter()
    backend = open_backend(args.model, device=args.device, use_cache=not args.no_cache)
    proposer = None if (args.proposer_model or args.model) == args.model else open_backend(
        args.proposer_model, device=args.device, use_cache=not args.no_cache)
    load_seconds = round(time.perf_counter() - started, 1)
    print(f"models loaded in {load_seconds:.0f}s", flush=True)
    for name in tasks:
        load_before = os.getloadavg()[0]
        rows = run_task(name, args, space, backend, proposer, runs)
        chunk = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M"), "model": args.model,
                 "proposer_model": args.proposer_model or args.model, "dev": args.dev, "test": args.test,
                 "budget_calls": args.budget_calls, "rounds": args.rounds, "prescreen": args.prescreen,
                 "cache": not args.no_cache, "cpus": os.cpu_count(), "load_seconds": load_seconds,
                 "load_avg_before": round(load_before, 2), "commit": commit}
        for r in rows:
            r["chunk"] = chunk
            d = r["vs_human"]
            print(f"{name} {r['method']:<20} {fmt(r['test'])}  vs human {d['diff']:+.2f} [{d['ci_lo']:+.2f}, "
                  f"{d['ci_hi']:+.2f}]  {r['instruction'][:70]!r}", flush=True)
        merge(rows, args.out)
    print(f"total {time.perf_counter() - started:.0f}s -> {args.out.with_suffix('.md')}", flush=True)


def merge(rows: list[dict[str, Any]], out: Path) -> None:
    """Replace the rows with the same (task, space, method, variant) in OUT.json and rewrite OUT.md."""
    path = out.with_suffix(".json")
    old = json.loads(path.read_text())["rows"] if path.is_file() else []
    new = {key(r): r for r in old}
    new.update({key(r): r for r in rows})
    merged = sorted(new.values(), key=lambda r: (r["space"], r["task"], METHOD_ORDER.get(r["method"], 9), r.get("variant", "")))
    out.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": merged}, indent=2) + "\n")
    from induce_report import render

    out.with_suffix(".md").write_text(render(merged))


METHOD_ORDER = {m: i for i, m in enumerate(("none", "human", "induced", "ceiling_induced", "with_human", "ceiling_with_human"))}


if __name__ == "__main__":
    main()
