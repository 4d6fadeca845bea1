"""Reflective search at equal LM-call budget: which later-round proposers find better wording?

Rows (the same round 0 for all: APE forward + chat; they differ in the rounds after it):

- ``forward+chat``: then variations of the best candidates only (APE resampling);
- ``+history``: variations + the scored history (OPRO; apeopt's later rounds before reflection);
- ``+reflect``: + reflection on a parent's dev failures with the scorer's feedback (GEPA-style);
- ``+reflect+pareto+merge``: + parents from the per-example Pareto front and merges of two front
  members that win different dev examples.

Every row is one ``optimize`` run per task with the same task model, proposer model, items (all of
train, the first --dev dev items, the first --test test items), seed and --budget-calls (search
only; the final dev/test scoring is not budgeted), in --space (default ``bench/spaces/wording.yaml``:
only the wording is searched, in a fixed 3-demo format, scored by the task scorer so that every
answer gets the scorer's feedback). The selection rule is the same for all rows (credible paired
gain on dev). One model load per process; the rows share one fresh LM cache, so round 0, which is
the same for every row, is computed once (calls are counted per row all the same; wall times of
later rows are lower for it: see "computed").

    python bench/reflect.py                                                  # 3 tasks x 4 rows
    python bench/reflect.py --tasks antonyms --budget-calls 60 --dev 10 --test 10 --rounds 2   # smoke
    python bench/reflect.py --task-model qwen2.5-coder-0.5b --proposer-model openai:http://host:8000/v1/qwen
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
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from apeopt.models.spec import ALIASES, DEFAULT_SPEC
from apeopt.scorers import paired_bootstrap

ROWS: dict[str, dict[str, Any]] = {
    "forward+chat": {"later_proposers": ("variation",)},
    "+history": {"later_proposers": ("variation", "history")},
    "+reflect": {"later_proposers": ("variation", "history", "reflect")},
    "+reflect+pareto+merge": {"later_proposers": ("variation", "history", "reflect", "merge"), "parents": "pareto"},
}
TASKS = ("antonyms", "larger_number", "second_letter")
SPACE = Path(__file__).parent / "spaces" / "wording.yaml"


def default_proposer() -> str:
    """Qwen2.5-Coder-0.5B-Instruct where its alias exists (it writes real instructions), else the task model's default."""
    return next((a for a in sorted(ALIASES) if a.startswith("qwen2.5-coder-0.5b")), DEFAULT_SPEC)


def load_now() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--task-model", default=DEFAULT_SPEC)
    p.add_argument("--proposer-model", default=None, help=f"any model spec (default: {default_proposer()})")
    p.add_argument("--space", default=str(SPACE))
    p.add_argument("--budget-calls", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dev", type=int, default=30)
    p.add_argument("--test", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reflect-tokens", type=int, default=1200)
    p.add_argument("--subsamples", type=int, default=2, help="demo subsamples per round-0 proposer (fewer: a cheaper round 0)")
    p.add_argument("--per-subsample", type=int, default=3, help="candidates sampled per proposer request")
    p.add_argument("--torch-threads", type=int, default=2)
    p.add_argument("--out-dir", type=Path, default=Path("bench/results"))
    p.add_argument("--name", default="reflect", help="result file stem")
    p.add_argument("--runs-dir", type=Path, default=None, help="run folders (default: a temp dir)")
    p.add_argument("--render", action="store_true", help="only re-render --out-dir/<name>.md from its JSON")
    args = p.parse_args(argv)
    args.proposer_model = args.proposer_model or default_proposer()
    return args


def run_row(name: str, task: Any, items: dict[str, Any], task_lm: Any, proposer_lm: Any, args: argparse.Namespace,
            runs: Path) -> dict[str, Any]:
    from apeopt.models.metered import MeteredBackend
    from apeopt.optimizer.config import OptimizeConfig
    from apeopt.runs import PROPOSER_CALLS
    from apeopt.optimizer.run import optimize
    from apeopt.runs import RunStore
    from apeopt.optimizer.progress import View
    from apeopt.search_spaces import load_space

    sub = dataclasses.replace(task, splits={k: tuple(v) for k, v in items.items()})
    cfg = OptimizeConfig(task=task.name, model=args.task_model, proposer_model=args.proposer_model, space=args.space,
                         seed=args.seed, budget_calls=args.budget_calls, budget_minutes=None, rounds=args.rounds,
                         patience=args.rounds, reflect_tokens=args.reflect_tokens, subsamples=args.subsamples,
                         per_subsample=args.per_subsample, **ROWS[name])
    run_dir = runs / f"{task.name}-{name.strip('+').replace('+', '-')}"
    store = RunStore.create(run_dir, run_dir.parent, run_dir.name)
    backend = MeteredBackend(task_lm)
    proposer = backend if proposer_lm is task_lm else MeteredBackend(proposer_lm)
    bases = list({id(b.base_backend()): b.base_backend() for b in (task_lm, proposer_lm)}.values())
    before = sum(b.usage.calls for b in bases)
    t0, load = time.monotonic(), load_now()
    s = optimize(cfg, sub, load_space(args.space), backend, proposer, store, View())
    wall = time.monotonic() - t0
    computed = sum(b.usage.calls for b in bases) - before
    preds = [r for r in store.predictions() if r["split"] == "test"]
    used = json.loads(store.path(PROPOSER_CALLS).read_text()) if store.path(PROPOSER_CALLS).is_file() else {}
    by_round: dict[str, int] = {}
    for rec in store.evaluations():
        by_round[str(rec["round"])] = by_round.get(str(rec["round"]), 0) + int(rec["lm_calls"])
    return {
        "row": name, "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in ROWS[name].items()},
        "dev": s.winner.scores["dev"].to_dict(), "test": s.winner.scores["test"].to_dict(),
        "human_test": s.human.scores["test"].to_dict() if s.human.scores.get("test") else None,
        "test_scores": [float(r["score"]) for r in preds if r["method"] == "winner"],
        "search_calls": s.search.lm_calls, "search_tokens": s.search.tokens, "proposer_calls": used,
        "scoring_calls_by_round": by_round,
        "computed_calls": computed, "wall_s": round(wall, 1), "search_s": s.search.seconds,
        "winner": {"instruction": s.winner.prompt.instruction, "origin": s.winner.origin},
        "candidates": s.candidates, "stop_reason": s.stop_reason, "load_before": load, "run_dir": str(run_dir),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        report = json.loads((args.out_dir / f"{args.name}.json").read_text(encoding="utf-8"))
        (args.out_dir / f"{args.name}.md").write_text(markdown(report), encoding="utf-8")
        return 0
    import torch

    from apeopt.models.stack import open_backend
    from apeopt.runs import versions
    from apeopt.tasks import load_task

    torch.set_num_threads(args.torch_threads)
    runs = args.runs_dir or Path(tempfile.mkdtemp(prefix="apeopt-reflect-runs-"))
    cache = Path(tempfile.mkdtemp(prefix="apeopt-reflect-cache-"))
    command = "python bench/reflect.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    report: dict[str, Any] = {
        "command": command, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_start": load_now(), "versions": versions(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in ("out_dir", "runs_dir")},
        "tasks": {}, "errors": [],
    }
    started = time.monotonic()
    t_load = time.monotonic()
    task_lm = open_backend(args.task_model, lm_cache=cache / "task")
    proposer_lm = task_lm if args.proposer_model == args.task_model else open_backend(args.proposer_model, lm_cache=cache / "proposer")
    report["model_load_s"] = round(time.monotonic() - t_load, 1)
    for tname in args.tasks:
        task = load_task(tname, seed=args.seed)
        items = {"train": task.split("train"), "dev": task.split("dev")[: args.dev], "test": task.split("test")[: args.test]}
        entry = report["tasks"].setdefault(tname, {"scorer": task.scorer, "sizes": {k: len(v) for k, v in items.items()}, "rows": []})
        for name in args.rows:
            print(f"[{time.strftime('%H:%M:%S')}] {tname} / {name} (load {load_now()})", file=sys.stderr, flush=True)
            try:
                entry["rows"].append(run_row(name, task, items, task_lm, proposer_lm, args, runs))
            except Exception as exc:  # a crashing row is a result too; keep going
                report["errors"].append({"task": tname, "row": name, "error": f"{type(exc).__name__}: {exc}"[:500]})
                print(f"  failed: {exc!r}", file=sys.stderr)
            report["elapsed_s"] = round(time.monotonic() - started, 1)
            write(report, args)
    report["load_end"] = load_now()
    write(report, args)
    return 0


def _ci(agg: dict[str, Any] | None) -> str:
    if not agg:
        return "-"
    lo, hi = agg["ci"]
    return f"{agg['score']:.3f} [{lo:.2f}, {hi:.2f}] (n={agg['n']})"


def _paired(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Each row's paired test difference against the first row (same test items)."""
    out: dict[str, str] = {}
    if not rows:
        return out
    base = rows[0]
    for r in rows[1:]:
        if len(r["test_scores"]) == len(base["test_scores"]) and r["test_scores"]:
            d = paired_bootstrap(r["test_scores"], base["test_scores"])
            out[r["row"]] = f"{d['diff']:+.3f} [{d['ci_lo']:+.2f}, {d['ci_hi']:+.2f}]"
    return out


def write(report: dict[str, Any], args: argparse.Namespace) -> None:
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{args.name}.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (args.out_dir / f"{args.name}.md").write_text(markdown(report), encoding="utf-8")


def markdown(report: dict[str, Any]) -> str:
    s = report["settings"]
    md = [
        "# Reflective search at equal LM-call budget (later-round proposers)", "",
        f"- command: `{report['command']}`",
        f"- date: {report['date']}; elapsed {report.get('elapsed_s', 0) / 60:.1f} min (model load {report.get('model_load_s', 0):.0f} s); "
        f"{report['machine']['cpus']} CPUs ({report['machine']['platform']}); load average at start {report['load_start']}, "
        f"at end {report.get('load_end', '(still running)')}",
        f"- task model `{s['task_model']}`, proposer model `{s['proposer_model']}`; space `{Path(s['space']).name}`; "
        f"budget {s['budget_calls']} LM calls per run (search only), {s['rounds']} rounds at most; dev {s['dev']}, test {s['test']} "
        f"items; seed {s['seed']}; reflection prompts capped at {s['reflect_tokens']} estimated tokens",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), "",
        "Columns: dev/test = the winner on all of dev / on test, task scorer, 95% interval; Δ test = paired bootstrap "
        "difference to the first row on the same test items; calls/tokens = the search's (task + proposer); proposer calls "
        "by proposer; scoring calls by round = task-model calls spent scoring candidates per round (a round-0 that takes the whole budget leaves nothing for the later-round proposers these rows differ in); computed = calls the models computed (the rows share one LM cache, so round 0 is computed once); "
        "wall = the run, final scoring included.", "",
    ]
    pooled: dict[str, list[float]] = {}
    for tname, entry in report["tasks"].items():
        rows = entry["rows"]
        paired = _paired(rows)
        md += [f"## {tname} ({entry['scorer']}; train {entry['sizes']['train']}, dev {entry['sizes']['dev']}, test {entry['sizes']['test']})", "",
               "| row | dev | test | Δ test vs first | search calls | scoring calls by round | tokens | proposer calls | computed | search s | wall s | winner (origin) |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            pooled.setdefault(r["row"], []).extend(r["test_scores"])
            used = ", ".join(f"{k} {v}" for k, v in r["proposer_calls"].items() if v)
            text = r["winner"]["instruction"].replace("|", "\\|")
            rounds = ", ".join(f"r{k} {v}" for k, v in sorted(r["scoring_calls_by_round"].items()))
            md.append(f"| {r['row']} | {_ci(r['dev'])} | {_ci(r['test'])} | {paired.get(r['row'], '-')} | {r['search_calls']:,} | {rounds} | "
                      f"{r['search_tokens']:,} | {used} | {r['computed_calls']:,} | "
                      f"{r['search_s']:.0f} | {r['wall_s']:.0f} | “{text}” ({r['winner']['origin']}) |")
        if rows and rows[0].get("human_test"):
            md.append(f"\nThe human instruction alone (0 demos: the run's `human` baseline, not the wording space's 3-demo format) on test: "
                      f"{_ci(rows[0]['human_test'])}")
        md.append("")
    if len(report["tasks"]) > 1 and pooled:
        from apeopt.scorers import aggregate

        md += ["## Pooled over tasks (test items of every task)", "", "| row | test |", "|---|---|"]
        md += [f"| {row} | {_ci(aggregate(v).as_dict())} |" for row, v in pooled.items()] + [""]
    if report["errors"]:
        md += ["## Rows that crashed", ""] + [f"- {e['task']} / {e['row']}: `{e['error']}`" for e in report["errors"]] + [""]
    return "\n".join(md)


if __name__ == "__main__":
    raise SystemExit(main())
