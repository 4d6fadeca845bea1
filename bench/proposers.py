"""Which small model proposes better instructions? Same task model, same demos, same dev items.

For each proposer model and task: APE forward proposals (4 demo subsamples x 3 samples), then each
candidate is scored by the task model (the embedded SmolLM2) on dev: zero-shot gold-answer
log-likelihood (the APE paper's score) and 5-shot exact match. Reported: mean and best candidate,
and the share of candidates that beat the task's human instruction.

    python bench/proposers.py --proposers smollm2-135m gemma3-270m --tasks plural past_tense sentiment antonyms first_letter
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

from apeopt.evaluation import evaluate_many
from apeopt.optimizer.proposers.ape import ForwardProposer
from apeopt.optimizer.proposers.base import ProposalContext
from apeopt.prompts.demos import sample_demos
from apeopt.prompts.prompt import PromptConfig
from apeopt.models.spec import DEFAULT_SPEC
from apeopt.models.stack import open_backend
from apeopt.scorers import get_scorer
from apeopt.tasks import load_task


def score_candidates(texts: list[str], task, backend, dev) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    demos = sample_demos(task.split("train"), 5, seed=0)
    zero = [PromptConfig(t, max_tokens=task.max_tokens) for t in texts]
    five = [PromptConfig(t, demos=demos, max_tokens=task.max_tokens) for t in texts]
    ll = evaluate_many([(p, dev) for p in zero], backend, get_scorer("likelihood"), task.labels)
    em = evaluate_many([(p, dev) for p in five], backend, get_scorer(task.scorer), task.labels)
    return {"likelihood": [r.score for r in ll], "five_shot": [r.score for r in em]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--proposers", nargs="+", default=[DEFAULT_SPEC, "gemma3-270m"])
    ap.add_argument("--tasks", nargs="+", default=["plural", "past_tense", "sentiment", "antonyms", "first_letter"])
    ap.add_argument("--task-model", default=DEFAULT_SPEC)
    ap.add_argument("--dev", type=int, default=30)
    ap.add_argument("--temperature", type=float, default=0.9)
    ap.add_argument("--out", default="bench/results/proposers")
    args = ap.parse_args()
    task_backend = open_backend(args.task_model)
    rows = []
    for name in args.proposers:
        proposer_backend = task_backend if name == args.task_model else open_backend(name)
        for task_name in args.tasks:
            task = load_task(task_name)
            dev = task.split("dev")[: args.dev]
            ctx = ProposalContext(train=task.split("train"), n=3, subsamples=4, temperature=args.temperature, seed=0)
            t0 = time.monotonic()
            texts = list(dict.fromkeys(p.text for p in ForwardProposer().propose(proposer_backend, ctx)))
            propose_s = time.monotonic() - t0
            human = score_candidates([task.instruction], task, task_backend, dev)
            cands = score_candidates(texts, task, task_backend, dev) if texts else {"likelihood": [], "five_shot": []}
            row = {"proposer": name, "task": task_name, "candidates": len(texts), "propose_seconds": round(propose_s, 1),
                   "examples": texts[:5]}
            for metric in ("likelihood", "five_shot"):
                vals, h = cands[metric], human[metric][0]
                row[metric] = {
                    "human": h, "mean": statistics.fmean(vals) if vals else None, "best": max(vals) if vals else None,
                    "share_beating_human": sum(v > h for v in vals) / len(vals) if vals else 0.0,
                }
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("proposer", "task", "candidates", "likelihood", "five_shot")}), flush=True)
    write(rows, args)


def write(rows: list[dict], args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"command": "python bench/proposers.py " + " ".join(f"--{k.replace('_', '-')} {' '.join(v) if isinstance(v, list) else v}" for k, v in vars(args).items() if k != "out"),
            "date": time.strftime("%Y-%m-%d %H:%M"), "load_avg": os.getloadavg(), "python": platform.python_version()}
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = [f"# Proposer models compared\n\n`{meta['command']}`  \n{meta['date']}, load average {meta['load_avg'][0]:.1f}\n",
             "Each proposer writes APE forward candidates from train demos; the task model (SmolLM2-135M) scores them on "
             f"{args.dev} dev items: zero-shot gold log-likelihood (higher is better) and 5-shot exact match.\n",
             "| proposer | task | cands | LL human | LL mean | LL best | LL share > human | 5-shot human | 5-shot mean | 5-shot best | 5-shot share > human |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for r in rows:
        ll, fs = r["likelihood"], r["five_shot"]
        lines.append(f"| {r['proposer']} | {r['task']} | {r['candidates']} | {f(ll['human'])} | {f(ll['mean'])} | {f(ll['best'])} | "
                     f"{ll['share_beating_human']:.2f} | {f(fs['human'])} | {f(fs['mean'])} | {f(fs['best'])} | {fs['share_beating_human']:.2f} |")
    lines.append("\nSample candidates:\n")
    for r in rows:
        lines.append(f"- {r['proposer']} / {r['task']}: " + " · ".join(f"“{t}”" for t in r["examples"][:3]))
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
