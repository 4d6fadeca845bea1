"""The outside anchor: llama.cpp scoring the same token ids as ``bench/bound.py``, on the same GGUF file.

    # bench-only venv (never a dependency of apeopt): llama-cpp-python built from its source distribution
    python -m venv /tmp/llamacpp-venv && /tmp/llamacpp-venv/bin/pip install numpy
    CMAKE_BUILD_PARALLEL_LEVEL=1 /tmp/llamacpp-venv/bin/pip install --no-binary :all: llama-cpp-python
    python bench/bound.py --dump-items /tmp/items.json ...          # apeopt's side, writes the token ids
    /tmp/llamacpp-venv/bin/python bench/llamacpp_anchor.py --gguf FILE --items /tmp/items.json --bound bench/results/bound.json

Likelihood mode only (gold-answer log-probs of the exact token ids apeopt scores, after its
tokenizer and prompt rendering). llama.cpp runs the way a CPU user would run it: one sequence at a
time, reusing its KV cache for the prefix a row shares with the previous one (rows of a candidate
prompt come in order, so each candidate's instruction and demos are computed once, as in apeopt),
logits only where they are needed. Threads = the torch thread count of the apeopt run. Reported:
examples/s and tokens computed per second, the ratio apeopt / llama.cpp per task and dtype (from
the ``--bound`` JSON: same jobs, same machine, run back to back), and agreement of the mean
log-probs with apeopt's fp32 ones.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def score_items(llm: Any, items: Sequence[tuple[list[int], int]]) -> tuple[list[float], int, float]:
    """Mean log-prob of each item's last ``m`` tokens; tokens computed; seconds."""
    out: list[float] = []
    computed = 0
    start = time.perf_counter()
    for ids, m in items:
        seq = ids[:-1]  # position t predicts token t + 1
        keep = 0
        cached = llm.input_ids[: llm.n_tokens].tolist()
        for a, b in zip(cached, seq):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(seq) - m)  # the positions predicting the targets must be recomputed
        if keep < llm.n_tokens:
            llm._ctx.kv_cache_seq_rm(-1, keep, -1)
            llm.n_tokens = keep
        llm.eval(seq[keep:])
        computed += len(seq) - keep
        logits = np.asarray(llm.scores[len(seq) - m: len(seq)], dtype=np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        targets = ids[-m:]
        out.append(float(np.mean([logp[i, t] for i, t in enumerate(targets)])) if m else 0.0)
    return out, computed, time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    from llama_cpp import Llama, __version__

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--items", required=True, help="from bench/bound.py --dump-items")
    ap.add_argument("--bound", required=True, help="bench/bound.py's JSON of the same jobs (ratio and agreement)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    dumped = json.loads(Path(args.items).read_text())
    bound = json.loads(Path(args.bound).read_text())
    longest = max(len(ids) for task in dumped.values() for ids, _ in task["items"])
    llm = Llama(model_path=args.gguf, n_ctx=max(512, longest + 16), n_batch=512, n_threads=args.threads,
                n_threads_batch=args.threads, logits_all=True, verbose=False)
    rows = []
    for task, d in dumped.items():
        items = [(list(ids), int(m)) for ids, m in d["items"]]
        score_items(llm, items[:4])  # warm-up
        passes = []
        for _ in range(args.repeats):
            llm.reset()
            llm._ctx.kv_cache_clear()
            passes.append(score_items(llm, items))
            passes[-1] = (*passes[-1], round(os.getloadavg()[0], 2))
        scores, computed, _, _ = passes[0]
        t = min(p[2] for p in passes)
        ref = d.get("scores_float32") or []
        diffs = [abs(a - b) for a, b in zip(scores, ref)]
        row: dict[str, Any] = {
            "task": task, "examples": len(items), "seconds": [round(p[2], 2) for p in passes],
            "examples_per_s": round(len(items) / t, 2), "tokens_computed": computed,
            "tokens_per_s": round(computed / t, 1), "load_1min": [p[3] for p in passes],
            "agree_vs_apeopt_fp32": {"n": len(diffs), "mean_abs_diff": round(sum(diffs) / max(1, len(diffs)), 4),
                                     "max_abs_diff": round(max(diffs), 4) if diffs else None},
            "apeopt": {},
        }
        for run in bound["runs"]:
            for r in run["rows"]:
                if r["task"] == task and r["mode"] == "likelihood":
                    row["apeopt"][run["dtype"]] = {"examples_per_s": r["examples_per_s"], "tokens_per_s": r["tokens_per_s"],
                                                   "ratio": round(r["examples_per_s"] / row["examples_per_s"], 2)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
              "llama_cpp_python": __version__, "gguf": args.gguf, "threads": args.threads, "model": bound["model"],
              "started": time.strftime("%Y-%m-%d %H:%M UTC"), "rows": rows}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    return 0


def markdown(r: dict[str, Any]) -> str:
    lines = ["# apeopt vs llama.cpp on the same GGUF file (likelihood scoring)", "", f"`{r['command']}`", "",
             f"Model `{r['model']}` ({r['gguf']}), llama-cpp-python {r['llama_cpp_python']} built from source, "
             f"{r['threads']} threads, {r['started']}.", "",
             "| task | examples | llama.cpp ex/s | llama.cpp tokens/s | apeopt ex/s by dtype | apeopt / llama.cpp | "
             "log-prob agreement with apeopt fp32 (mean, max abs diff) | load (1 min) |",
             "|---|---|---|---|---|---|---|---|"]
    note = ("llama.cpp computes logits at every position it evaluates (llama-cpp-python needs `logits_all` for "
            "log-probs), apeopt only at answer positions. apeopt's rates come from the `--bound` run (its own load "
            "column); both sides were timed on this machine, minutes apart.")
    for row in r["rows"]:
        a = row["apeopt"]
        agree = row["agree_vs_apeopt_fp32"]
        agreement = (f"{agree['mean_abs_diff']}, {agree['max_abs_diff']}" if agree["n"]
                     else "not measured (no apeopt scores in the items file)")
        lines.append(f"| {row['task']} | {row['examples']} | {row['examples_per_s']} | {row['tokens_per_s']} | "
                     + ", ".join(f"{d} {v['examples_per_s']}" for d, v in a.items()) + " | "
                     + ", ".join(f"{d} **{v['ratio']}x**" for d, v in a.items())
                     + f" | {agreement} | {', '.join(map(str, row['load_1min']))} |")
    return "\n".join(lines + ["", note]) + "\n"


if __name__ == "__main__":
    sys.exit(main())
