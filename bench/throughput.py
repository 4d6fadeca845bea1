"""Examples scored per second: a naive loop against apeopt's scorer, same model, prompts and examples.

    python bench/throughput.py                      # smollm2-135m on CPU, plural + sentiment, 8 x 50
    python bench/throughput.py --examples 10 --tasks plural --out /tmp/tp   # quicker

Jobs: C candidate prompts (instruction variants, each with its own K train demos, completion
template) x N dev examples per task. Both modes, in one process:

- generate: naive = one ``model.generate`` per example, batch 1, greedy, no stop strings and no
  EOS stop (always ``max_tokens`` new tokens), then cut at the stop string and scored;
  apeopt = ``evaluate_many`` over all jobs through ``HFBackend`` (one batched call).
- likelihood: naive = one forward per (prompt, gold answer) over the whole sequence with full
  logits; apeopt = ``evaluate_many`` with the ``likelihood`` scorer.

No LM cache anywhere. The naive loop runs in slices with a full apeopt pass before, between and
after them (the ratio uses the mean apeopt pass), so that both rates are sampled over the same
stretch of time on a machine shared with other jobs; the load average is recorded after each pass.
Results must agree: same greedy texts and scores, log-prob scores within 1e-4.
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
from typing import Any, Callable, Sequence

from apeopt.process import configure_process

configure_process()  # first: OMP_WAIT_POLICY before torch loads; quiet Optuna and HF progress bars
import torch
from transformers import GenerationConfig

from apeopt.evaluation import evaluate_many
from apeopt.models import load_backend
from apeopt.models.base import cut_at_stop
from apeopt.models.hf import HFBackend
from apeopt.models.spec import DEFAULT_SPEC
from apeopt.prompts.demos import sample_demos
from apeopt.prompts.prompt import PromptConfig
from apeopt.scorers import aggregate, get_scorer
from apeopt.tasks import load_task

VARIANTS = [
    "{instruction}",
    "Answer the following.",
    "Look at each input and write the correct output.",
    "{instruction} Reply with the answer only.",
    "Follow the pattern of the examples below.",
    "You are a careful assistant. {instruction}",
    "Transform the input as shown in the examples.",
    "Task: {instruction}",
]
TARGET = 10.0


def load_now() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def candidates(task: Any, n: int, k: int) -> list[PromptConfig]:
    train = task.split("train")
    return [
        PromptConfig(instruction=VARIANTS[i % len(VARIANTS)].format(instruction=task.instruction),
                     demos=sample_demos(train, k, seed=i), max_tokens=task.max_tokens)
        for i in range(n)
    ]


def timed(fn: Callable[[], Any]) -> tuple[Any, float, list[float]]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start, load_now()


# ----------------------------------------------------------------------------- naive loops
@torch.inference_mode()
def naive_generate(backend: HFBackend, jobs: Sequence[tuple[PromptConfig, Sequence[Any]]], scorer: Any,
                   labels: Any) -> list[tuple[list[str], list[float]]]:
    tok, model = backend.tokenizer, backend.model
    out = []
    for prompt, exs in jobs:
        config = GenerationConfig(max_new_tokens=prompt.max_tokens, do_sample=False, num_beams=1,
                                  eos_token_id=None, pad_token_id=backend.pad_id)
        texts, scores = [], []
        for ex in exs:
            ids = torch.tensor([backend.encode_prompt(prompt.render(ex.input))], device=backend.device)
            gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config)
            new = gen[0, ids.shape[1]:].tolist()
            for i, t in enumerate(new):  # what the model said up to its end-of-sequence token
                if t in backend.eos_ids:
                    new = new[: i + 1]
                    break
            text = cut_at_stop(tok.decode(new, skip_special_tokens=True), prompt.stop).strip()
            texts.append(text)
            scores.append(scorer.score(text, ex.targets, labels))
        out.append((texts, scores))
    return out


@torch.inference_mode()
def naive_likelihood(backend: HFBackend, jobs: Sequence[tuple[PromptConfig, Sequence[Any]]]) -> list[list[float]]:
    from apeopt.models.base import LogprobRequest

    out = []
    for prompt, exs in jobs:
        scores = []
        for ex in exs:
            best = float("-inf")
            for target in ex.targets:
                ids, m = backend.encode_scored(LogprobRequest(prompt.render(ex.input), prompt.continuation(target)))
                logits = backend.model(input_ids=torch.tensor([ids], device=backend.device)).logits[0]
                logp = torch.log_softmax(logits.float(), dim=-1)
                pos = torch.arange(len(ids) - m - 1, len(ids) - 1)
                picked = logp[pos, torch.tensor(ids[len(ids) - m:])]
                best = max(best, float(picked.mean()) if m else 0.0)
            scores.append(best)
        out.append(scores)
    return out


# ----------------------------------------------------------------------------- one mode
def plain_pass(backend: HFBackend, fn: Callable[[], Any]) -> Any:
    """Ablation: the same call with shared-prefix reuse off (left-padded batches, model.generate)."""
    backend.prefix_reuse = False
    try:
        return fn()
    finally:
        backend.prefix_reuse = True


def run_mode(mode: str, backend: HFBackend, task: Any, jobs: list[tuple[PromptConfig, Sequence[Any]]],
             slices: int, ablate: bool = False) -> dict[str, Any]:
    """Naive loop in ``slices`` slices of the jobs, with a full apeopt pass before, between and
    after them: both rates are sampled across the same stretch of (shared-machine) time."""
    n = sum(len(exs) for _, exs in jobs)
    scorer = get_scorer(task.scorer if mode == "generate" else "likelihood")
    fast = lambda: evaluate_many(jobs, backend, scorer, task.labels)  # noqa: E731
    if mode == "generate":
        slow: Callable[[Any], Any] = lambda part: naive_generate(backend, part, scorer, task.labels)  # noqa: E731
    else:
        slow = lambda part: naive_likelihood(backend, part)  # noqa: E731
    parts = [jobs[i::slices] for i in range(slices)]
    loads = [load_now()]
    fast_times: list[float] = []
    naive_time = 0.0
    plain_times: list[float] = []
    naive_out: list[Any] = [None] * len(jobs)
    first, t, load = timed(fast)
    fast_times.append(t)
    loads.append(load)
    for i, part in enumerate(parts):
        res, t, load = timed(lambda: slow(part))
        naive_time += t
        for j, r in zip(range(i, len(jobs), slices), res):
            naive_out[j] = r
        again, t, load = timed(fast)
        fast_times.append(t)
        loads.append(load)
        if ablate:
            plain_times.append(timed(lambda: plain_pass(backend, fast))[1])
    t_fast = sum(fast_times) / len(fast_times)
    row: dict[str, Any] = {
        "task": task.name, "mode": mode, "candidates": len(jobs), "examples": n,
        "naive_seconds": round(naive_time, 2), "apeopt_seconds": [round(x, 2) for x in fast_times],
        "naive_ex_per_s": round(n / naive_time, 3), "apeopt_ex_per_s": round(n / t_fast, 3),
        "ratio": round(naive_time / t_fast, 1),
        "ratio_range": [round(naive_time / max(fast_times), 1), round(naive_time / min(fast_times), 1)],
        "load_1min": [x[0] for x in loads],
    }
    if plain_times:
        t_plain = sum(plain_times) / len(plain_times)
        row["no_prefix_reuse"] = {"seconds": [round(x, 2) for x in plain_times], "ex_per_s": round(n / t_plain, 3),
                                  "ratio_vs_naive": round(naive_time / t_plain, 1),
                                  "prefix_reuse_speedup": round(t_plain / t_fast, 2)}
    if mode == "generate":
        same_text = sum(a == b for r, (t, _) in zip(first, naive_out) for a, b in zip(r.outputs, t))
        same_score = all(list(r.scores) == s for r, (_, s) in zip(first, naive_out))
        row["agree"] = {"texts_equal": f"{same_text}/{n}", "scores_equal": same_score,
                        "repeat_equal": [r.outputs for r in first] == [r.outputs for r in again]}
        row["score_apeopt"] = round(aggregate([s for r in first for s in r.scores]).score, 4)
        row["score_naive"] = round(aggregate([s for _, ss in naive_out for s in ss]).score, 4)
    else:
        diff = max(abs(a - b) for r, s in zip(first, naive_out) for a, b in zip(r.scores, s))
        row["agree"] = {"max_abs_diff": float(f"{diff:.2e}"), "allclose_1e-4": diff <= 1e-4}
    return row


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_SPEC)
    ap.add_argument("--tasks", default="plural,sentiment")
    ap.add_argument("--modes", default="generate,likelihood")
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--demos", type=int, default=5)
    ap.add_argument("--examples", type=int, default=50, help="dev examples per candidate")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--slices", type=int, default=4, help="naive loop slices interleaved with apeopt passes")
    ap.add_argument("--ablate", action="store_true", help="also time apeopt with prefix reuse off after each pass")
    ap.add_argument("--no-prefix-reuse", action="store_true", help="ablation: plain left-padded batches")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "throughput"),
                    help="writes OUT.json and OUT.md")
    args = ap.parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    backend = load_backend(args.model, device=args.device)
    assert isinstance(backend, HFBackend)
    if args.batch_size:
        backend.batch_size = args.batch_size
    if args.no_prefix_reuse:
        backend.prefix_reuse = False
    rows = []
    for name in args.tasks.split(","):
        task = load_task(name)
        dev = task.split("dev")[: args.examples]
        jobs = [(p, dev) for p in candidates(task, args.candidates, args.demos)]
        evaluate_many(jobs[:1], backend, get_scorer(task.scorer), task.labels)  # warm-up
        for mode in args.modes.split(","):
            row = run_mode(mode, backend, task, jobs, max(1, min(args.slices, len(jobs))), args.ablate)
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {
        "command": command,
        "model": args.model, "identity": backend.identity, "device": str(backend.device),
        "prefix_reuse": backend.prefix_reuse, "batch_size": backend.batch_size, "max_cells": backend.max_cells,
        "torch_threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "gpu": "not run: this session had no GPU" if args.device == "cpu" else args.device,
        "target_ratio": TARGET, "rows": rows,
        "min_ratio": min(r["ratio"] for r in rows),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(f"min ratio {result['min_ratio']}x (target {TARGET}x); wrote {out.with_suffix('.json')} and .md")
    return 0


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# Scoring throughput: naive loop vs apeopt", "",
        f"`{r['command']}`", "",
        f"Model `{r['model']}` on {r['device']} ({r['cpus']} CPUs, {r['torch_threads']} torch threads, "
        f"OMP_WAIT_POLICY={r['omp_wait_policy']}), "
        f"prefix reuse {'on' if r['prefix_reuse'] else 'off'}, batch {r['batch_size']}. GPU: {r['gpu']}.", "",
        "| task | mode | jobs | naive ex/s | apeopt ex/s | ratio (range over apeopt passes) | agreement | load avg (1 min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        agree = ", ".join(f"{k} {v}" for k, v in row["agree"].items())
        loads = f"{min(row['load_1min'])}-{max(row['load_1min'])}"
        lines.append(f"| {row['task']} | {row['mode']} | {row['candidates']} x {row['examples'] // row['candidates']} | "
                     f"{row['naive_ex_per_s']} | {row['apeopt_ex_per_s']} | **{row['ratio']}x** ({row['ratio_range'][0]}-{row['ratio_range'][1]}) | "
                     f"{agree} | {loads} |")
    ablated = [row for row in r["rows"] if "no_prefix_reuse" in row]
    if ablated:
        lines += ["", "Ablation, same passes with shared-prefix reuse off (left-padded batches, `model.generate`):", "",
                  "| task | mode | ex/s without prefix reuse | ratio vs naive | prefix reuse speedup |", "|---|---|---|---|---|"]
        lines += [f"| {row['task']} | {row['mode']} | {row['no_prefix_reuse']['ex_per_s']} | "
                  f"{row['no_prefix_reuse']['ratio_vs_naive']}x | {row['no_prefix_reuse']['prefix_reuse_speedup']}x |"
                  for row in ablated]
    lines += ["", f"Lowest ratio: **{r['min_ratio']}x** (target {r['target_ratio']}x).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
