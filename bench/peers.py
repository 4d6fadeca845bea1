"""apeopt against DSPy COPRO, MIPROv2 and GEPA on the same model, items, scorer and LM-call budget.

    python bench/peers.py --tasks plural sentiment antonyms --budget-calls 500 --dev 30 --test 100   # ~1 h on 2 cores
    python bench/peers.py --tasks antonyms --budget-calls 500 --dev 30 --test 100 --merge   # add a task to the results
    python bench/peers.py --tasks plural --budget-calls 200 --dev 10 --test 20 --methods copro  # quick
    python bench/peers.py --tasks antonyms --budget-calls 500 --dev 30 --test 100 --methods gepa --merge  # add GEPA rows
    python bench/peers.py --render --notes bench/results/peers_notes.md  # re-render peers.md from peers.json
    python bench/peers.py --model qwen2.5-coder-0.5b --proposer-model qwen2.5-coder-0.5b --tasks antonyms larger_number \
        second_letter --budget-calls 300 --dev 30 --test 50 --methods apeopt_full apeopt_instruction gepa human_dspy \
        --name peers_gepa   # GEPA vs apeopt on an instruction-following task model (bench/results/peers_gepa.md)

One process loads the model once; every method gets a fresh call counter (MeteredBackend) over the
same LM cache (a fresh SQLite cache under --cache-dir unless --reuse-cache) and the same items:
train (demos, MIPROv2 bootstrapping), the first --dev dev items (selection), the first --test test
items (final scoring, once, not budgeted). With --proposer-model another model writes the
instructions for every method (apeopt's proposer, COPRO/MIPROv2's prompt model, GEPA's reflection
LM), on its own LM cache; its calls count in the same budget. DSPy runs through apeopt.peers.dspy_lm (a DSPy custom
engine on apeopt's backend, a ChatAdapter that counts format failures instead of raising).
Results are written after every method: --out-dir/peers.json and peers.md.
"""

from __future__ import annotations

from apeopt.process import configure_process

configure_process()  # first: OMP_WAIT_POLICY before torch loads; quiet Optuna and HF progress bars

import argparse
import json
import logging
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from apeopt.models.metered import MeteredBackend
from apeopt.models.spec import DEFAULT_SPEC
from apeopt.runs import versions
from apeopt.scorers import aggregate, paired_bootstrap
from apeopt.tasks import load_task

METHODS = ("apeopt_instruction", "apeopt_fewshot", "apeopt_full", "copro", "mipro_0shot", "mipro_demos", "gepa", "human_dspy")
PEERS = ("copro", "mipro_0shot", "mipro_demos", "gepa")
LABELS = {
    "apeopt_instruction": "apeopt (instruction space)", "apeopt_fewshot": "apeopt (fewshot space)",
    "apeopt_full": "apeopt (full space)", "copro": "DSPy COPRO", "mipro_0shot": "DSPy MIPROv2 0-shot",
    "mipro_demos": "DSPy MIPROv2 + demos", "gepa": "DSPy GEPA", "human_dspy": "human instruction, dspy.Predict",
    "human_apeopt": "human instruction, apeopt template", "human_fewshot_apeopt": "human + 5 demos, apeopt template",
}


def load_now() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", default=["plural", "sentiment", "antonyms"])
    p.add_argument("--budget-calls", type=int, default=500)
    p.add_argument("--dev", type=int, default=30)
    p.add_argument("--test", type=int, default=100)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--model", default=DEFAULT_SPEC)
    p.add_argument("--proposer-model", default=None,
                   help="the model that writes instructions: apeopt's proposer, COPRO/MIPROv2's prompt model, GEPA's reflection LM "
                        "(default: --model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=8, help="DSPy num_threads (concurrent calls are batched)")
    p.add_argument("--out-dir", type=Path, default=Path("bench/results"))
    p.add_argument("--name", default="peers", help="result file stem")
    p.add_argument("--runs-dir", type=Path, default=None, help="apeopt run folders (default: a temp dir)")
    p.add_argument("--cache-dir", type=Path, default=None, help="LM cache folder (default: a fresh temp dir)")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch intra-op threads (1 is several times faster than 2 on 2 cores shared with other jobs)")
    p.add_argument("--notes", type=Path, default=None, help="markdown appended to the report (observations on this run)")
    p.add_argument("--merge", action="store_true",
                   help="update --out-dir/<name>.json in place: replace the rows of the methods run now, keep the others")
    p.add_argument("--render", action="store_true", help="only re-render --out-dir/<name>.md from its JSON (e.g. with --notes)")
    p.add_argument("--reuse-cache", action="store_true", help="use apeopt's usual LM cache (faster reruns, wall times not comparable)")
    args = p.parse_args(argv)
    args.proposer_model = args.proposer_model or args.model
    return args


def open_shared_backend(spec: str, cache: Path | None) -> Any:
    """``spec`` behind its own LM cache folder ``cache`` (None: apeopt's usual cache, --reuse-cache)."""
    from apeopt.models.stack import open_backend

    if cache is None:
        return open_backend(spec)
    cache.mkdir(parents=True, exist_ok=True)
    return open_backend(spec, lm_cache=cache)


def runner(method: str, task: Any, shared: Any, items: dict[str, Any], args: argparse.Namespace, runs: Path,
           shared_proposer: Any = None) -> Callable[[], list[dict[str, Any]]]:
    """The method's run on fresh call counters: the task model's and, with another proposer model, the proposer's."""
    train, dev, test = items["train"], items["dev"], items["test"]
    backend = MeteredBackend(shared)
    proposer = None if shared_proposer is None or shared_proposer is shared else MeteredBackend(shared_proposer)
    b, seed, threads = args.budget_calls, args.seed, args.threads
    if method.startswith("apeopt_"):
        from apeopt.peers.apeopt_run import run_apeopt

        space = method.removeprefix("apeopt_")
        return lambda: run_apeopt(task, backend, b, space, train, dev, test, runs / f"{task.name}-{space}", model=args.model, seed=seed,
                                  proposer=proposer, proposer_model=args.proposer_model)
    if method == "copro":
        from apeopt.peers.copro import run_copro

        return lambda: [run_copro(task, backend, b, dev, test, seed=seed, num_threads=threads, proposer=proposer)]
    if method.startswith("mipro"):
        from apeopt.peers.mipro import run_mipro

        return lambda: [run_mipro(task, backend, b, train, dev, test, demos=method == "mipro_demos", seed=seed, num_threads=threads,
                                  proposer=proposer)]
    if method == "gepa":
        from apeopt.peers.gepa import run_gepa

        return lambda: [run_gepa(task, backend, b, train, dev, test, seed=seed, num_threads=threads, proposer=proposer)]
    from apeopt.peers.program import run_human_dspy

    return lambda: [run_human_dspy(task, backend, dev, test, num_threads=threads)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        report = json.loads((args.out_dir / f"{args.name}.json").read_text(encoding="utf-8"))
        write(report, args, None)
        return 0
    logging.getLogger("dspy").setLevel(logging.WARNING)
    logging.getLogger("dspy.clients.lm").setLevel(logging.ERROR)  # truncations are counted per method instead
    import torch

    torch.set_num_threads(args.torch_threads)
    runs = args.runs_dir or Path(tempfile.mkdtemp(prefix="apeopt-peers-runs-"))
    started = time.time()
    command = "python bench/peers.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    report: dict[str, Any] = {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_start": load_now(), "versions": versions(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "device": "cpu"},
        "settings": {"model": args.model, "proposer_model": args.proposer_model, "budget_calls": args.budget_calls, "dev": args.dev,
                     "test": args.test, "seed": args.seed, "dspy_threads": args.threads, "call_rule": "completion", "torch_threads": args.torch_threads, "reuse_cache": args.reuse_cache},
        "tasks": {}, "errors": [],
    }
    previous = args.out_dir / f"{args.name}.json"
    if args.merge and previous.is_file():
        report = json.loads(previous.read_text(encoding="utf-8"))
        same = ("model", "proposer_model", "budget_calls", "dev", "test", "seed")
        if any(report["settings"].get(k, args.model if k == "proposer_model" else None) != getattr(args, k) for k in same):
            raise SystemExit(f"error: --merge needs the same {', '.join(same)} as {previous} ({report['settings']})")
        report.setdefault("merged", []).append({"command": command, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                                                "methods": list(args.methods), "tasks": list(args.tasks), "load_start": load_now()})
        started = time.time() - report.get("elapsed_s", 0.0)
    cache_root = None if args.reuse_cache else args.cache_dir or Path(tempfile.mkdtemp(prefix="apeopt-peers-cache-"))
    shared = open_shared_backend(args.model, cache_root and cache_root / "task")
    shared_proposer = (shared if args.proposer_model == args.model
                       else open_shared_backend(args.proposer_model, cache_root and cache_root / "proposer"))
    for name in args.tasks:
        task = load_task(name, seed=args.seed)
        items = {"train": task.split("train"), "dev": task.split("dev")[: args.dev], "test": task.split("test")[: args.test]}
        entry = report["tasks"].setdefault(name, {"scorer": task.scorer, "sizes": {k: len(v) for k, v in items.items()}, "rows": []})
        for method in args.methods:
            load_before, t0 = load_now(), time.monotonic()
            print(f"[{time.strftime('%H:%M:%S')}] {name} / {method} (load {load_before})", file=sys.stderr, flush=True)
            try:
                rows = runner(method, task, shared, items, args, runs, shared_proposer)()
            except Exception as exc:  # a crashing peer is a result too; keep going
                report["errors"].append({"task": name, "method": method, "error": f"{type(exc).__name__}: {exc}"[:500]})
                print(f"  failed: {exc!r}", file=sys.stderr)
                continue
            for i, row in enumerate(rows):
                row.update(load_before=load_before, load_after=load_now())
                if i == 0:
                    row["wall_s"] = round(time.monotonic() - t0, 2)
                entry["rows"] = [r for r in entry["rows"] if r["method"] != row["method"]] + [row]
            write(report, args, started)
    report["load_end"] = load_now()
    write(report, args, started)
    return 0


def write(report: dict[str, Any], args: argparse.Namespace, started: float | None) -> None:
    if started is not None:
        report["elapsed_s"] = round(time.time() - started, 1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{args.name}.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    notes = args.notes.read_text(encoding="utf-8") if args.notes else ""
    (args.out_dir / f"{args.name}.md").write_text(markdown(report) + ("\n" + notes if notes else ""), encoding="utf-8")


def _score(agg: dict[str, Any] | None) -> str:
    if not agg:
        return "-"
    lo, hi = agg["ci"]
    return f"{agg['score']:.3f} [{lo:.2f}, {hi:.2f}]"


def _num(v: Any, fmt: str = "{:,}") -> str:
    return "-" if v is None else fmt.format(v)


def _calls(s: dict[str, Any]) -> str:
    if s.get("calls") is None:
        return "-"
    fresh = s.get("computed_calls")
    return f"{s['calls']:,}" + (f" ({fresh:,} computed)" if fresh is not None and fresh != s["calls"] else "")


def per_point(tokens: Any, test: dict[str, Any] | None) -> str:
    """Search tokens spent per point (0.01) of test score: the cost of a method's result."""
    if tokens is None or not test:
        return "-"
    return "∞ (score 0)" if test["score"] <= 0 else f"{tokens / (100 * test['score']):,.0f}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| method | test (95% CI) | test format failures | dev | search calls | search tokens | search tokens per test point | search wall s | calls to 95% of final dev | load (1-min) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r.get("search") or {}
        n = (r.get("test") or {}).get("n", 0)
        salv = r.get("test_salvaged")
        ff = f"{r.get('test_format_failures', 0)}/{n}" + (f" (lenient {salv['score']:.3f})" if salv and r.get("test_format_failures") else "")
        out.append(
            f"| {LABELS.get(r['method'], r['method'])} | {_score(r.get('test'))} | {ff} | {_num(r.get('dev'), '{:.3f}')} | "
            f"{_calls(s)} | {_num(s.get('tokens'))} | {per_point(s.get('tokens'), r.get('test'))} | {_num(s.get('wall_s'), '{:,.0f}')} | {_num(r.get('calls_to_95'))} | "
            f"{_num((r.get('load_before') or [None])[0], '{:.1f}')} |"
        )
    return out


def mean_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per method over the tasks that have it: pooled test items (equal sizes: the mean of task means)."""
    by: dict[str, list[dict[str, Any]]] = {}
    for entry in report["tasks"].values():
        for r in entry["rows"]:
            by.setdefault(r["method"], []).append(r)
    out = []
    for method, rows in by.items():
        scores = [s for r in rows for s in r.get("test_scores", [])]
        calls = [r["search"]["calls"] for r in rows if r.get("search")]
        tokens = [r["search"]["tokens"] for r in rows if r.get("search")]
        walls = [r["search"]["wall_s"] for r in rows if r.get("search")]
        c95 = [r["calls_to_95"] for r in rows if r.get("calls_to_95") is not None]
        devs = [r["dev"] for r in rows if r.get("dev") is not None]
        mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
        out.append({
            "method": method, "tasks": len(rows), "test": aggregate(scores).as_dict() if scores else None,
            "test_format_failures": sum(r.get("test_format_failures", 0) for r in rows), "dev": mean(devs),
            "search": {"calls": round(mean(calls)), "computed_calls": None, "tokens": round(mean(tokens)), "wall_s": mean(walls)} if calls else None,
            "calls_to_95": round(mean(c95)) if c95 else None, "load_before": [mean([r["load_before"][0] for r in rows])],
        })
    return out


def paired_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for name, entry in report["tasks"].items():
        rows = {r["method"]: r for r in entry["rows"]}
        ours = [m for m in rows if m.startswith("apeopt_")]
        if not ours:
            continue
        best = max(ours, key=lambda m: rows[m].get("dev") or 0.0)
        for peer in (*PEERS, "human_dspy", "human_apeopt", "human_fewshot_apeopt"):
            if peer in rows and len(rows[peer]["test_scores"]) == len(rows[best]["test_scores"]):
                d = paired_bootstrap(rows[best]["test_scores"], rows[peer]["test_scores"])
                p = "<0.001" if d["p"] < 0.001 else f"{d['p']:.3f}"
                lines.append(f"| {name} | {LABELS[best]} | {LABELS[peer]} | {d['diff']:+.3f} [{d['ci_lo']:+.2f}, {d['ci_hi']:+.2f}] | {p} |")
    return lines


HOW = [
    "## How the peers were run", "",
    "- Each model (the task model, and the proposer model when it is another) is loaded once for all methods: DSPy calls go through `apeopt.peers.dspy_lm.BackendEngine`, a DSPy 3.4 custom "
    "engine (`dspy.LM(..., engine=...)`, `complete(Request) -> Response`) on the same apeopt backend, LM cache and "
    "call counter (a fresh `MeteredBackend` per method); DSPy's own response cache is off so every call is counted.",
    "- DSPy program: `dspy.Predict(\"input -> output\")` with the task's instruction, ChatAdapter format; DSPy answers are "
    "capped at the task's answer length + 24 tokens and stopped at `[[ ## completed ## ]]` (DSPy ignores what follows), "
    "proposer answers at 128 tokens. A completion without the field markers is a format failure: counted, scored 0, "
    "never raised (the stock adapter raises, which makes `Evaluate` stop after `max_errors` and crashes COPRO/MIPROv2 "
    "on a malformed proposal); the missing field gets the completion's text so the optimizers can go on.",
    "- COPRO: DSPy defaults (breadth 10, init_temperature 1.4), compiled on dev; depth = budget // (breadth x (dev + 1)).",
    "- MIPROv2: train for bootstrapping (capped at a third of the budget), dev as valset without minibatches; "
    "candidates follow DSPy's `auto` rule with N sized to the budget; the number of trials is set from the calls left "
    "when the trials start (`apeopt.peers.mipro.BudgetedMIPROv2`). 0-shot: no demos; + demos: up to 4 bootstrapped + 4 labeled.",
    "- GEPA: `dspy.GEPA` (gepa 0.1.4) with the proposer as reflection LM, train for its reflection minibatches (3 "
    "examples), dev as its Pareto/val set, merges on (DSPy defaults); the metric returns the task scorer's score and "
    "feedback (\"expected 'geese', got 'gooses'\"). `max_metric_calls` = the budget and a stop callback that ends it between "
    "iterations once the calls spent + one iteration's worst case (dev + 7) reach the budget (`apeopt.peers.gepa`). Its "
    "instruction proposer uses the same counting ChatAdapter as the task program instead of DSPy's JSONAdapter, which small "
    "models rarely satisfy.",
    "- apeopt: `apeopt.optimizer.run.optimize` with its defaults and `budget_calls` (checked between evaluations, so "
    "it can overshoot by one rung); the human rows are the task instruction scored by the same run.",
]


# How LM calls were counted: reports before 2026-11-21 11:31 (no "call_rule") counted a request for n samples as one call.
CALLS = {
    "request": "- Calls: DSPy 3.4 fans `n=k` samples out as k engine requests, so COPRO's proposals count k calls; apeopt "
               "asked for n samples in one request (one call). Proposals are a small share of every method's calls; tokens "
               "are the size-independent cost.",
    "completion": "- Calls: one sampled completion or one scored log-prob is one call for every method (a request for n "
                  "samples is n calls, as DSPy's engine sees it and as an API bills it; `GenerateRequest.calls`).",
}


def verdicts(report: dict[str, Any]) -> list[str]:
    """Per task: the best method on test, and every peer whose test score is at least apeopt's best row's."""
    lines = ["## Where each method stands", ""]
    for name, entry in report["tasks"].items():
        rows = {r["method"]: r for r in entry["rows"]}
        if not rows:
            continue
        top = max(rows.values(), key=lambda r: r["test"]["score"])
        ours = [r for m, r in rows.items() if m.startswith("apeopt_")]
        line = f"- {name}: best on test: {LABELS.get(top['method'], top['method'])} ({top['test']['score']:.3f})"
        if ours:
            best = max(ours, key=lambda r: r["test"]["score"])
            wins = [LABELS[m] for m in PEERS if m in rows and rows[m]["test"]["score"] >= best["test"]["score"]]
            line += "; peers scoring >= apeopt's best row on test (ties included): " + (", ".join(wins) if wins else "none")
        lines.append(line)
    return lines + [""]


def markdown(report: dict[str, Any]) -> str:
    s = report["settings"]
    md = [
        "# apeopt vs DSPy COPRO / MIPROv2 / GEPA (same model, items, scorer, LM-call budget)", "",
        f"- command: `{report['command']}`",
        f"- date: {report['date']}; elapsed {report.get('elapsed_s', 0) / 60:.1f} min; load average at start {report['load_start']}, "
        f"at end {report.get('load_end', '(still running)')}; machine: {report['machine']['platform']}, {report['machine']['cpus']} CPUs",
        *[f"- rows of {', '.join(m['methods'])} on {', '.join(m.get('tasks', []))} from a later run (replacing earlier rows): "
          f"`{m['command']}` ({m['date']}, load at start {m['load_start']})"
          for m in report.get("merged", [])],
        (f"- model (task and proposer): `{s['model']}`" if s.get("proposer_model", s["model"]) == s["model"] else
         f"- task model `{s['model']}`; proposer model (apeopt's proposer, COPRO/MIPROv2 prompt model, GEPA reflection LM) "
         f"`{s['proposer_model']}`, whose calls count in the same budget") + f"; budget {s['budget_calls']} LM calls per method (search only; final "
        f"test scoring is separate and not budgeted); dev {s['dev']} items, test {s['test']} items; seed {s['seed']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), "",
        "Columns: test = task scorer on the same test items (95% CI: Wilson); format failures = DSPy answers "
        "without the `[[ ## output ## ]]` field, scored as wrong (lenient = their salvaged text scored anyway); "
        "dev = the selected program's dev score; search tokens per test point = search tokens / (100 x test score); calls to 95% = LM calls spent when the best full-dev score first "
        "reached 95% of its final value (apeopt `instruction`: exp(mean gold log-prob), the metric it selects by); "
        "load = 1-minute load average when the method started (2 shared cores).", "",
    ]
    for name, entry in report["tasks"].items():
        md += [f"## {name} ({entry['scorer']}; train {entry['sizes']['train']}, dev {entry['sizes']['dev']}, test {entry['sizes']['test']})", ""]
        md += table(entry["rows"]) + [""]
    if len(report["tasks"]) > 1:
        md += ["## Mean over tasks (pooled test items)", ""] + table(mean_rows(report)) + [""]
    pl = paired_lines(report)
    if pl:
        md += ["## Paired test differences (apeopt row with the best dev score minus peer; paired bootstrap)", "",
               "| task | apeopt | peer | diff [95% CI] | p |", "|---|---|---|---|---|"] + pl + [""]
    md += verdicts(report) + HOW + [CALLS[report["settings"].get("call_rule", "request")], ""]
    if report["errors"]:
        md += ["## Methods that crashed", ""] + [f"- {e['task']} / {e['method']}: `{e['error']}`" for e in report["errors"]] + [""]
    return "\n".join(md)


if __name__ == "__main__":
    raise SystemExit(main())
