"""`apeopt compare` over several built-in tasks: one table of prompt routes vs PEFT tuning routes.

    python bench/compare.py                                   # defaults of `apeopt compare` (hours on 2 CPU cores)
    python bench/compare.py --preset reduced                  # the setting committed in bench/results/
    python bench/compare.py --tasks plural,sentiment --steps 40 --test-limit 50 --out /tmp/cmp

Every task runs the same methods on the same model through ``apeopt.services.compare.run_compare``
(the code behind the CLI), in one process, one task after the other. Writes ``compare.json`` (all
rows of all tasks, the settings, the command line, the machine and the load average before and
after every task) and ``compare.md`` (one score table, paired differences, costs) to ``--out``.
Run folders (adapters, curves, predictions) go to ``--runs`` (default: runs/bench-compare-<time>).
"""

from __future__ import annotations

from apeopt.process import configure_process

configure_process()  # first: OMP_WAIT_POLICY before torch loads; quiet Optuna and HF progress bars

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from apeopt.models.spec import DEFAULT_SPEC

TASKS = ("plural", "past_tense", "antonyms", "sentiment", "larger_number", "second_letter")
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # For a 2-core CPU shared with other jobs: all of compare's default methods and all test items, but 20
    # training steps and an 800-call search (a call budget does the same work at any load; minutes would not).
    "reduced": {"steps": 20, "eval_every": 10, "dev_limit": 30, "apeopt_calls": 800},
}

NOTES = {
    "reduced": "**Reduced setting.** `apeopt compare` with its defaults (8 methods, 80 training steps, all test "
               "items, an 8-minute search) took 17.8 min on `plural` alone on this shared 2-core machine, so 6 tasks do "
               "not fit ~40 min. Here: the same 8 methods and all test items, but 20 training steps per tuning method "
               "(checkpoint chosen on 30 dev examples at steps 0/10/20) and an 800-LM-call apeopt search (200 before the incumbent ladder: the ladder alone takes ~130 calls on 30 dev examples).",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated built-in tasks (at least 6 for the README)")
    p.add_argument("--methods", default=None, help="comma-separated methods (default: compare's defaults)")
    p.add_argument("--model", default=DEFAULT_SPEC)
    p.add_argument("--preset", choices=sorted(PRESETS), default="default")
    for name, kind in (("steps", int), ("eval_every", int), ("dev_limit", int), ("test_limit", int),
                       ("apeopt_minutes", float), ("apeopt_calls", int)):
        p.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None, help="overrides the preset")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the LM cache (honest timings)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    p.add_argument("--runs", type=Path, default=None)
    return p.parse_args(argv)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    out = dict(PRESETS[args.preset])
    for name in ("steps", "eval_every", "dev_limit", "test_limit", "apeopt_minutes", "apeopt_calls"):
        if getattr(args, name) is not None:
            out[name] = getattr(args, name)
    return out


def main(argv: list[str] | None = None) -> int:
    from apeopt.baselines.config import CompareConfig
    from apeopt.services.compare import run_compare
    from apeopt.runs import versions

    args = parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    chosen = settings(args)
    runs = args.runs or Path("runs") / f"bench-compare-{time.strftime('%Y%m%d-%H%M%S')}"
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    for task in tasks:
        methods = args.methods or chosen.get("methods")
        config = CompareConfig(task=task, methods=tuple(methods.split(",")) if methods else None, model=args.model,
                               seed=args.seed, device=args.device, use_cache=not args.no_cache,
                               **{k: v for k, v in chosen.items() if k != "methods"})
        load_before = os.getloadavg()
        t0 = time.monotonic()
        result = run_compare(config, run_dir=runs / task)
        doc = result.to_dict()
        results.append({"task": task, "rows": doc["rows"], "meta": doc["meta"],
                        "wall_seconds": round(time.monotonic() - t0, 1),
                        "load_before": [round(x, 2) for x in load_before],
                        "load_after": [round(x, 2) for x in os.getloadavg()]})
        write(args, chosen, results, time.monotonic() - started, versions())  # partial results survive a crash
    return 0


def write(args: argparse.Namespace, chosen: dict[str, Any], results: list[dict[str, Any]], wall: float,
          vers: dict[str, str]) -> None:
    from apeopt.atomic_files import atomic_write_json, atomic_write_text

    doc = {
        "command": "python bench/compare.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "preset": args.preset,
        "no_cache": bool(args.no_cache),
        "settings": chosen,
        "model": args.model,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": vers,
        "wall_seconds": round(wall, 1),
        "tasks": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "compare.json", doc)
    atomic_write_text(args.out / "compare.md", markdown(doc))


def _cell(s: dict[str, Any] | None) -> str:
    return "–" if not s else f"{s['score']:.2f} [{s['ci'][0]:.2f}, {s['ci'][1]:.2f}]"


def markdown(doc: dict[str, Any]) -> str:
    tasks = doc["tasks"]
    methods: list[str] = []
    for t in tasks:
        methods += [r["method"] for r in t["rows"] if r["method"] not in methods]
    device = tasks[0]["meta"]["device"] if tasks else "?"
    s = doc["settings"]
    lines = [
        f"# Prompt routes vs tuning routes on {doc['model']} ({device})",
        "",
        f"`{doc['command']}` — preset `{doc['preset']}` {json.dumps(s) if s else '(compare defaults)'}; "
        f"total wall time {doc['wall_seconds'] / 60:.0f} min on {doc['machine']['cpus']} CPU cores shared with "
        "other jobs (load average per task below). "
        + ("LM cache on: prompt routes and the apeopt search reuse cached answers (identical scores; their wall "
           "times are then near zero), tuned models never hit the cache; LM calls count every request."
           if not doc.get("no_cache") else "LM cache off."),
        *(["", NOTES[doc["preset"]]] if NOTES.get(doc["preset"]) else []),
        "",
        "Test score per task and method (95% interval). Every method of a task is scored on the same test items "
        "with the task's scorer; tuning routes train on train, select their checkpoint on dev; apeopt searches "
        "on train/dev.",
        "",
        "| task | n | " + " | ".join(methods) + " |",
        "|---|---|" + "---|" * len(methods),
    ]
    for t in tasks:
        by = {r["method"]: r for r in t["rows"]}
        n = t["meta"]["test_items"]["test"]["n"]
        lines.append(f"| {t['task']} | {n} | " + " | ".join(_cell(by.get(m, {}).get("test")) for m in methods) + " |")
    means = {m: [r["test"]["score"] for t in tasks for r in t["rows"] if r["method"] == m] for m in methods}
    lines.append("| **mean** | | " + " | ".join(f"**{sum(v) / len(v):.2f}**" if v else "–" for v in means.values()) + " |")
    lines += ["", "Shifted test split (same models; inputs from a different distribution):", "",
              "| task | n | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for t in tasks:
        by = {r["method"]: r for r in t["rows"]}
        items = t["meta"]["test_items"]
        n = items["test_shift"]["n"] if "test_shift" in items else "–"
        lines.append(f"| {t['task']} | {n} | " + " | ".join(_cell(by.get(m, {}).get("test_shift")) for m in methods) + " |")
    lines += ["", "Paired differences on test (bootstrap over the same items; A − B [95% interval], p):", ""]
    for t in tasks:
        by = {r["method"]: r for r in t["rows"]}
        pairs = [("apeopt", m) for m in ("human", "prompt-tuning", "lora", "ia3", "prefix-tuning") if m in by] \
            + [("lora", "human")] * ("lora" in by and "human" in by)
        cells = []
        for a, b in pairs:
            p = by.get(a, {}).get("paired", {}).get(b)
            if p:
                cells.append(f"{a} − {b} {p['diff']:+.2f} [{p['ci_lo']:+.2f}, {p['ci_hi']:+.2f}] p={p['p']:.3f}")
        lines.append(f"- {t['task']}: " + "; ".join(cells))
    lines += ["", "Cost per method (mean over tasks): optimization/training wall time, s/step, LM calls before test, "
              "inference tokens per test example, trainable parameters.", "",
              "| method | train/search time | s/step | LM calls | inference tokens/ex. | trainable params |",
              "|---|---|---|---|---|---|"]
    for m in methods:
        rs = [r for t in tasks for r in t["rows"] if r["method"] == m]
        sps = [r["s_per_step"] for r in rs if r.get("s_per_step")]
        lines.append(
            f"| {m} | {sum(r['train_seconds'] for r in rs) / len(rs):.0f} s | "
            f"{(sum(sps) / len(sps)) if sps else 0:.2f} | {sum(r['lm_calls'] for r in rs) / len(rs):.0f} | "
            f"{sum(r['inference_tokens_per_example'] for r in rs) / len(rs):.0f} | {rs[0]['trainable_params']:,} |"
        )
    lines += ["", "| task | wall time | load average before → after (1/5/15 min) |", "|---|---|---|"]
    for t in tasks:
        lines.append(f"| {t['task']} | {t['wall_seconds'] / 60:.1f} min | {t['load_before']} → {t['load_after']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
