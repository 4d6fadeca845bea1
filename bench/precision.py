"""bf16 against fp32 on the built-in tasks: do generated texts and scores agree, and how much faster is it?

    python bench/precision.py                                   # smollm2-135m, all 14 built-ins, 50 test items
    python bench/precision.py --tasks plural,sentiment --out /tmp/prec    # a chunk (rows merge into OUT.json)
    python bench/precision.py --render                          # re-render OUT.md from OUT.json

Both dtypes are loaded in one process. Per task, the run's two reference prompts (the human
instruction zero-shot and the 5-shot prompt, exactly as ``apeopt optimize`` scores them) are scored on
the first N test items, in both modes (the task's generate scorer, and ``likelihood``: mean gold
answer log-prob per token), once per dtype: fp32 then bf16 back to back for each task and mode, so
that both see about the same machine load. Reported per task: texts equal, the mean score in each dtype, how often the two
prompts are ranked the same way by each dtype (what selection sees), likelihood score differences,
and the seconds each dtype took.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import apeopt  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)
import torch

from apeopt.evaluation import evaluate_many
from apeopt.models import load_backend
from apeopt.models.device import cpu_bf16_flags
from apeopt.models.spec import DEFAULT_SPEC
from apeopt.prompts import reference
from apeopt.scorers import aggregate, get_scorer
from apeopt.tasks import builtin_task_names, load_task

DTYPES = ("float32", "bfloat16")


def score_task(name: str, backends: dict[str, Any], examples: int) -> dict[str, Any]:
    task = load_task(name)
    items = task.split("test")[:examples]
    prompts = {"human": reference.human(task), "few_shot": reference.k_shot(task, 5, 0)}
    jobs = [(p, items) for p in prompts.values()]
    row: dict[str, Any] = {"task": name, "n": len(items), "prompts": list(prompts)}
    for mode, scorer in (("generate", get_scorer(task.scorer)), ("likelihood", get_scorer("likelihood"))):
        out: dict[str, Any] = {}
        secs = {d: 0.0 for d in backends}
        for d, backend in backends.items():
            start = time.perf_counter()
            out[d] = evaluate_many(jobs, backend, scorer, task.labels)
            secs[d] += time.perf_counter() - start
        a, b = (out[d] for d in DTYPES)
        res: dict[str, Any] = {"seconds": {d: round(s, 2) for d, s in secs.items()}}
        res["means"] = {d: [round(aggregate(list(r.scores)).score, 4) for r in out[d]] for d in DTYPES}
        if mode == "generate":
            pairs = [(u, v) for ra, rb in zip(a, b) for u, v in zip(ra.outputs, rb.outputs)]
            res["texts_equal"] = sum(u == v for u, v in pairs)
            res["scores_equal"] = sum(u == v for ra, rb in zip(a, b) for u, v in zip(ra.scores, rb.scores))
            res["pairs"] = len(pairs)
        else:
            diffs = [abs(u - v) for ra, rb in zip(a, b) for u, v in zip(ra.scores, rb.scores)]
            res["mean_abs_diff"] = round(sum(diffs) / len(diffs), 4)
            res["max_abs_diff"] = round(max(diffs), 4)
            # per item, does bf16 order the two prompts as fp32 does (ties count as agreement only both ways)
            same = [((x0 > x1) - (x0 < x1)) == ((y0 > y1) - (y0 < y1))
                    for x0, x1, y0, y1 in zip(a[0].scores, a[1].scores, b[0].scores, b[1].scores)]
            res["item_order_agree"] = f"{sum(same)}/{len(same)}"
            res["pairs"] = len(diffs)
        row[mode] = res
    return row


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_SPEC)
    ap.add_argument("--tasks", default=",".join(builtin_task_names()))
    ap.add_argument("--examples", type=int, default=50, help="test items per task")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "precision"))
    ap.add_argument("--render", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    data: dict[str, Any] = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").is_file() else {}
    if not args.render:
        command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
        backends = {d: load_backend(args.model, device="cpu", dtype=d) for d in DTYPES}
        key = args.model
        run = data.setdefault(key, {"rows": {}, "chunks": []})
        run["identities"] = {d: b.identity for d, b in backends.items()}
        chunk = {"command": command, "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "load_start": round(os.getloadavg()[0], 2), "cpu_bf16": cpu_bf16_flags(),
                 "torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                 "machine": platform.platform()}
        for name in args.tasks.split(","):
            evaluate_many([(reference.human(load_task(name)), load_task(name).split("test")[:2])],
                          backends["bfloat16"], get_scorer("likelihood"))  # warm-up
            row = score_task(name, backends, args.examples)
            run["rows"][name] = row
            print(json.dumps(row), flush=True)
        chunk["load_end"] = round(os.getloadavg()[0], 2)
        run["chunks"].append(chunk)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(data))
    print(f"wrote {out.with_suffix('.md')}")
    return 0


def markdown(data: dict[str, Any]) -> str:
    lines = ["# bf16 vs fp32 scoring on the built-in tasks", "",
             "Per task, the human instruction (zero-shot) and the 5-shot prompt on the first test items, scored by each dtype "
             "in the same process (`bench/precision.py`). Generate: the task's scorer on greedy outputs. Likelihood: mean "
             "gold-answer log-prob per token; 'order agrees' counts items where both dtypes rank the two prompts the same way.", ""]
    for model, run in data.items():
        lines += [f"## {model}", "", f"Identities: {run.get('identities')}", ""]
        for c in run["chunks"]:
            lines.append(f"- `{c['command']}`: {c['started']}, load {c['load_start']}-{c.get('load_end')}, "
                         f"bf16 units {c['cpu_bf16']}, torch {c['torch']}, {c['threads']} threads")
        lines += ["", "| task | n | texts equal | scores equal | gen mean fp32 -> bf16 (human, 5-shot) | "
                  "lik. mean abs diff (max) | lik. order agrees | gen s fp32/bf16 | lik. s fp32/bf16 |",
                  "|---|---|---|---|---|---|---|---|---|"]
        tot = {"texts": 0, "scores": 0, "pairs": 0, "gen": [0.0, 0.0], "lik": [0.0, 0.0], "diff": 0.0, "m": 0}
        for name, r in sorted(run["rows"].items()):
            g, lk = r["generate"], r["likelihood"]
            means = ", ".join(f"{x:.2f}->{y:.2f}" for x, y in zip(g["means"]["float32"], g["means"]["bfloat16"]))
            lines.append(f"| {name} | {r['n']} | {g['texts_equal']}/{g['pairs']} | {g['scores_equal']}/{g['pairs']} | {means} | "
                         f"{lk['mean_abs_diff']} ({lk['max_abs_diff']}) | {lk['item_order_agree']} | "
                         f"{g['seconds']['float32']}/{g['seconds']['bfloat16']} | {lk['seconds']['float32']}/{lk['seconds']['bfloat16']} |")
            tot["texts"] += g["texts_equal"]
            tot["scores"] += g["scores_equal"]
            tot["pairs"] += g["pairs"]
            tot["gen"][0] += g["seconds"]["float32"]
            tot["gen"][1] += g["seconds"]["bfloat16"]
            tot["lik"][0] += lk["seconds"]["float32"]
            tot["lik"][1] += lk["seconds"]["bfloat16"]
            tot["diff"] += lk["mean_abs_diff"] * lk["pairs"]
            tot["m"] += lk["pairs"]
        if tot["pairs"]:
            lines += ["", f"All tasks: texts equal {tot['texts']}/{tot['pairs']} ({tot['texts'] / tot['pairs']:.1%}), "
                      f"scores equal {tot['scores']}/{tot['pairs']} ({tot['scores'] / tot['pairs']:.1%}); likelihood mean abs "
                      f"diff {tot['diff'] / max(1, tot['m']):.4f}; generate {tot['gen'][0]:.1f} s fp32 vs {tot['gen'][1]:.1f} s bf16 "
                      f"({tot['gen'][0] / max(1e-9, tot['gen'][1]):.2f}x), likelihood {tot['lik'][0]:.1f} s vs {tot['lik'][1]:.1f} s "
                      f"({tot['lik'][0] / max(1e-9, tot['lik'][1]):.2f}x).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
