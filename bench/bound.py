"""How close apeopt's scoring comes to what this machine's matmul units can do, per model, dtype and mode.

    python bench/bound.py                                            # smollm2-135m, fp32 and bf16
    python bench/bound.py --model qwen2.5-coder-0.5b --examples 20 --out bench/results/bound_qwen
    python bench/bound.py --dump-items /tmp/items.json               # also write the scored token ids (llama.cpp anchor)

For each dtype, in one process: the matmul bound first (``torch.nn.functional.linear`` on a
model-shaped GEMM: M rows x hidden @ hidden x intermediate, the MLP up-projection, best of several
timed repeats), then the same jobs as ``bench/throughput.py`` (C candidates x N dev examples,
completion template, K demos each) scored by ``evaluate_many`` in both modes, then the bound again.

Tokens are counted by hooks on the decoder and the output layer, so they are the tokens the
model actually computed: prefix tokens once per shared-prefix group (after reuse), each row's own
suffix, decoded tokens, and separately the padded positions the hardware also pushed through.

    FLOPs = 2 * P_body * T + 2 * d * V * L

P_body: weights of the decoder's linear layers (not the embedding table, a lookup); T: real
(non-pad) tokens through the decoder; d x V: the output layer; L: positions whose logits were
computed. Attention's score/value products (4 * d * context per token and layer) are left out: at
these context lengths they are < 10% of the total, so the figure slightly understates the work.
Utilisation = (FLOPs / wall time) / (matmul bound in the same dtype, mean of the two measurements).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from apeopt.process import configure_process

configure_process()  # first: the OpenMP wait setting before torch loads, as in a CLI run (an explicit one wins)

import apeopt  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from optimize_time import git_rev  # noqa: E402
from throughput import candidates  # noqa: E402

from apeopt.evaluation import evaluate_many  # noqa: E402
from apeopt.models import load_backend  # noqa: E402
from apeopt.models.device import cpu_bf16_flags  # noqa: E402
from apeopt.models.hf import HFBackend  # noqa: E402
from apeopt.models.spec import DEFAULT_SPEC  # noqa: E402
from apeopt.scorers import get_scorer  # noqa: E402
from apeopt.tasks import load_task  # noqa: E402

TARGET = 0.5  # of the matmul bound, batched likelihood scoring on CPU


def load_now() -> float:
    return round(os.getloadavg()[0], 2)


def cpu_flags() -> list[str]:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("flags"):
                return [f for f in line.split(":", 1)[1].split() if f.startswith(("avx", "amx", "fma", "f16c"))]
    except OSError:
        pass
    return []


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ----------------------------------------------------------------------------- the bound
def model_dims(model: Any) -> dict[str, int]:
    cfg = model.config.get_text_config(decoder=True) if hasattr(model.config, "get_text_config") else model.config
    body = sum(m.weight.numel() for m in model.get_decoder().modules() if isinstance(m, torch.nn.Linear))
    out = model.get_output_embeddings().weight
    return {"hidden": int(cfg.hidden_size), "intermediate": int(getattr(cfg, "intermediate_size", 4 * cfg.hidden_size)),
            "layers": int(cfg.num_hidden_layers), "vocab": int(out.shape[0]), "body_params": int(body),
            "all_params": int(sum(p.numel() for p in model.parameters()))}


def matmul_bound(hidden: int, intermediate: int, dtype: torch.dtype, rows: int = 512, seconds: float = 1.5) -> dict[str, Any]:
    """Best GFLOP/s of ``linear(x [rows, hidden], W [intermediate, hidden])`` over repeats of ~0.1 s."""
    x = torch.randn(rows, hidden, dtype=dtype)
    w = torch.randn(intermediate, hidden, dtype=dtype)
    flops = 2.0 * rows * hidden * intermediate
    with torch.inference_mode():
        for _ in range(3):
            torch.nn.functional.linear(x, w)
        best, spent, reps = 0.0, 0.0, max(1, int(2e8 / flops))
        while spent < seconds:
            t = time.perf_counter()
            for _ in range(reps):
                torch.nn.functional.linear(x, w)
            dt = time.perf_counter() - t
            spent += dt
            best = max(best, flops * reps / dt)
    return {"shape": f"{rows}x{hidden} @ {hidden}x{intermediate}", "gflops": round(best / 1e9, 1), "load_1min": load_now()}


# ----------------------------------------------------------------------------- counting hooks
class Counter:
    """Counts tokens through the decoder (real and padded) and logits positions, via forward hooks."""

    def __init__(self, backend: HFBackend) -> None:
        self.real = self.padded = self.logits = self.forwards = 0
        self.decode_tokens = 0
        decoder = backend.model.get_decoder()
        self.handles = [decoder.register_forward_pre_hook(self._decoder, with_kwargs=True),
                        backend.model.get_output_embeddings().register_forward_hook(self._head)]

    def _decoder(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            return
        b, s = ids.shape
        mask = kwargs.get("attention_mask")
        real = int(mask[:, -s:].sum()) if mask is not None else b * s
        self.real += real
        self.padded += b * s
        self.forwards += 1
        if s == 1:
            self.decode_tokens += real

    def _head(self, module: Any, args: Any, out: Any) -> None:
        self.logits += int(out.shape[0] * out.shape[1]) if out.dim() == 3 else int(out.shape[0])

    def reset(self) -> None:
        self.real = self.padded = self.logits = self.forwards = self.decode_tokens = 0

    def close(self) -> None:
        for h in self.handles:
            h.remove()


# ----------------------------------------------------------------------------- one mode
def run_mode(mode: str, backend: HFBackend, jobs: list[tuple[Any, Sequence[Any]]], task: Any, counter: Counter,
             dims: dict[str, int], bound: float, repeats: int) -> dict[str, Any]:
    scorer = get_scorer(task.scorer if mode == "generate" else "likelihood")
    fn: Callable[[], Any] = lambda: evaluate_many(jobs, backend, scorer, task.labels)  # noqa: E731
    times, loads = [], []
    out = None
    for _ in range(repeats):
        counter.reset()
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        loads.append(load_now())
    t = min(times)  # the least disturbed pass on a shared machine
    flops = 2.0 * dims["body_params"] * counter.real + 2.0 * dims["hidden"] * dims["vocab"] * counter.logits
    flops_padded = 2.0 * dims["body_params"] * counter.padded + 2.0 * dims["hidden"] * dims["vocab"] * counter.logits
    n = sum(len(exs) for _, exs in jobs)
    usage_prompt = sum(len(exs) for _, exs in jobs)
    row = {
        "task": task.name, "mode": mode, "jobs": f"{len(jobs)} x {n // len(jobs)}", "seconds": [round(x, 2) for x in times],
        "examples_per_s": round(n / t, 2),
        "tokens_real": counter.real, "tokens_padded": counter.padded, "decode_tokens": counter.decode_tokens,
        "prefill_tokens": counter.real - counter.decode_tokens, "logits_positions": counter.logits,
        "forwards": counter.forwards,
        "tokens_per_s": round(counter.real / t, 1),
        "gflops": round(flops / t / 1e9, 1), "gflops_incl_padding": round(flops_padded / t / 1e9, 1),
        "utilisation": round(flops / t / 1e9 / bound, 3),
        "utilisation_incl_padding": round(flops_padded / t / 1e9 / bound, 3),
        "padding_waste": round(1 - counter.real / max(1, counter.padded), 3),
        "load_1min": loads, "examples": usage_prompt,
    }
    row["outputs"] = [list(r.outputs) if mode == "generate" else list(r.scores) for r in out] if out else []
    return row


def dump_items(backend: HFBackend, jobs: list[tuple[Any, Sequence[Any]]], path: Path, task: Any) -> None:
    """The token ids scored in likelihood mode, for the llama.cpp anchor: [[ids, m], ...] per example."""
    from apeopt.models.base import LogprobRequest

    items = []
    for prompt, exs in jobs:
        for ex in exs:
            ids, m = backend.encode_scored(LogprobRequest(prompt.render(ex.input), prompt.continuation(ex.targets[0])))
            items.append([ids, m])
    old = json.loads(path.read_text()) if path.is_file() else {}
    old[task.name] = {"items": items}
    path.write_text(json.dumps(old))


def dump_scores(path: Path, task: Any, dtype: str, outputs: list[list[float]]) -> None:
    """apeopt's likelihood scores of the dumped items (same order), for the anchor's agreement check."""
    old = json.loads(path.read_text())
    old[task.name][f"scores_{dtype}"] = [s for job in outputs for s in job]
    path.write_text(json.dumps(old))


def measure_dtype(args: argparse.Namespace, dtype: str, dump_ids: bool) -> tuple[dict[str, Any], list[Any]]:
    """The bound before and after, and every (task, mode) row, for one dtype; with each row's outputs."""
    outputs: list[Any] = []
    backend = load_backend(args.model, device="cpu", dtype=dtype)
    assert isinstance(backend, HFBackend)
    if args.batch_size:
        backend.batch_size = args.batch_size
    dims = model_dims(backend.model)
    counter = Counter(backend)
    before = matmul_bound(dims["hidden"], dims["intermediate"], getattr(torch, dtype), args.gemm_rows)
    rows = []
    for name in args.tasks.split(","):
        task = load_task(name)
        jobs = [(p, task.split("dev")[: args.examples]) for p in candidates(task, args.candidates, args.demos)]
        if args.dump_items and dump_ids:
            dump_items(backend, jobs, Path(args.dump_items), task)
        evaluate_many(jobs[:1], backend, get_scorer("likelihood"), task.labels)  # warm-up
        for mode in args.modes.split(","):
            row = run_mode(mode, backend, jobs, task, counter, dims, before["gflops"], args.repeats)
            outputs.append((name, mode, row.pop("outputs")))
            if args.dump_items and mode == "likelihood" and Path(args.dump_items).is_file():
                dump_scores(Path(args.dump_items), task, dtype, outputs[-1][2])
            rows.append(row)
            print(dtype, json.dumps(row), flush=True)
    after = matmul_bound(dims["hidden"], dims["intermediate"], getattr(torch, dtype), args.gemm_rows)
    bound = (before["gflops"] + after["gflops"]) / 2
    for row in rows:  # against the mean of the two bound measurements
        row["utilisation"] = round(row["gflops"] / bound, 3)
        row["utilisation_incl_padding"] = round(row["gflops_incl_padding"] / bound, 3)
    counter.close()
    run = {"dtype": dtype, "identity": backend.identity, "dims": dims,
           "attention": backend.model.config._attn_implementation, "batch_size": backend.batch_size,
           "prefix_reuse": backend.prefix_reuse, "matmul_before": before, "matmul_after": after,
           "matmul_gflops": round(bound, 1), "rows": rows}
    return run, outputs


def measure_in_child(argv: Sequence[str], dtype: str, first: bool) -> tuple[dict[str, Any], list[Any]]:
    """``measure_dtype`` in a fresh Python process (same options, this dtype only)."""
    with tempfile.TemporaryDirectory(prefix="apeopt-bound-") as tmp:
        part = Path(tmp) / "run.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), *argv, "--dtypes", dtype, "--child", str(part)]
        subprocess.run(cmd + (["--child-first"] if first else []), check=True)
        data = json.loads(part.read_text())
    return data["run"], [tuple(o) for o in data["outputs"]]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_SPEC)
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--tasks", default="plural,sentiment")
    ap.add_argument("--modes", default="likelihood,generate")
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--demos", type=int, default=5)
    ap.add_argument("--examples", type=int, default=50, help="dev examples per candidate")
    ap.add_argument("--repeats", type=int, default=2, help="timed passes per mode (the fastest counts)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--gemm-rows", type=int, default=512)
    ap.add_argument("--dump-items", default=None, help="write the likelihood-mode token ids here (JSON)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bound"), help="writes OUT.json and OUT.md")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)  # internal: one dtype, raw result to this file
    ap.add_argument("--child-first", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:  # one dtype in this process, its raw result for the parent to merge
        run, outputs = measure_dtype(args, args.dtypes, dump_ids=args.child_first)
        Path(args.child).write_text(json.dumps({"run": run, "outputs": outputs}))
        return 0
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    result: dict[str, Any] = {
        "command": command, "model": args.model, "cpu": cpu_model(), "cpu_flags": cpu_flags(),
        "cpu_bf16": cpu_bf16_flags(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "load_start": [round(x, 2) for x in os.getloadavg()], "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "apeopt_rev": git_rev(Path(apeopt.__file__).resolve().parent.parent),  # the checkout imported (PYTHONPATH)
        "gpu": "not run: this session had no GPU", "target_utilisation": TARGET, "runs": [],
    }
    texts: dict[Any, dict[str, Any]] = {}
    dtypes = args.dtypes.split(",")
    for dtype in dtypes:
        if len(dtypes) == 1:
            run, outputs = measure_dtype(args, dtype, dump_ids=True)
        else:  # each dtype in a fresh process, as a user's run has: one dtype's allocations slowed the next's by 10-30%
            run, outputs = measure_in_child(argv if argv is not None else sys.argv[1:], dtype, dtype == dtypes[0])
        result["runs"].append(run)
        for name, mode, out in outputs:
            texts.setdefault((name, mode), {})[dtype] = out
    result["agreement"] = agreement(texts)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {out.with_suffix('.json')} and .md")
    return 0


def agreement(texts: dict[Any, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (task, mode): how the second dtype's outputs compare with the first's."""
    rows = []
    for (task, mode), by in texts.items():
        if len(by) < 2:
            continue
        (a, xa), (b, xb) = list(by.items())[:2]
        pairs = [(u, v) for ra, rb in zip(xa, xb) for u, v in zip(ra, rb)]
        if mode == "generate":
            rows.append({"task": task, "mode": mode, "dtypes": [a, b], "texts_equal": sum(u == v for u, v in pairs), "n": len(pairs)})
        else:
            diffs = [abs(u - v) for u, v in pairs]
            rows.append({"task": task, "mode": mode, "dtypes": [a, b], "n": len(pairs),
                         "mean_abs_diff": round(sum(diffs) / len(diffs), 4), "max_abs_diff": round(max(diffs), 4)})
    return rows


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# Scoring against the matmul bound", "", f"`{r['command']}`", "",
        f"apeopt `{r.get('apeopt_rev', 'unknown')}`. Model `{r['model']}` on {r['cpu']} ({r['cpus']} CPUs, {r['torch_threads']} torch threads, "
        f"OMP_WAIT_POLICY={r['omp_wait_policy']}, GOMP_SPINCOUNT={r.get('gomp_spincount')}), torch {r['versions']['torch']}, started {r['started']}, "
        f"load at start {r['load_start']}. GPU: {r['gpu']}.", "",
        f"CPU flags: {' '.join(r['cpu_flags'])}. bf16 units: {', '.join(r['cpu_bf16']) or 'none'}.", "",
        "FLOPs = 2 x P_body x T + 2 x d x V x L (P_body: decoder linear weights; T: real tokens through the decoder "
        "after prefix reuse; L: positions whose logits were computed; attention products left out). "
        "Utilisation = achieved FLOP/s over the same run's matmul bound in the same dtype (mean of a measurement "
        "before and after the passes; the fastest of the timed passes counts).", "",
        "| dtype | task | mode | jobs | s (passes) | ex/s | tokens/s (real) | prefill / decode tokens | padding waste | "
        "GFLOP/s | matmul bound GFLOP/s | utilisation | incl. padding | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        for row in run["rows"]:
            lines.append(
                f"| {run['dtype']} | {row['task']} | {row['mode']} | {row['jobs']} | {', '.join(map(str, row['seconds']))} | "
                f"{row['examples_per_s']} | {row['tokens_per_s']} | {row['prefill_tokens']:,} / {row['decode_tokens']:,} | "
                f"{row['padding_waste']:.0%} | {row['gflops']} | {run['matmul_gflops']} | **{row['utilisation']:.0%}** | "
                f"{row['utilisation_incl_padding']:.0%} | {', '.join(map(str, row['load_1min']))} |")
    lines += ["", "Attention: " + ", ".join(f"{run['dtype']} `{run.get('attention', 'sdpa')}`" for run in r["runs"])
              + " (`apeopt_sdpa`: grouped-query attention folded, no key/value copies, and in likelihood scoring shared prefixes attended in place; `sdpa`: transformers' own).", ""]
    lines += ["Matmul bound per dtype (`linear`, best repeat): " + "; ".join(
        f"{run['dtype']} {run['matmul_before']['shape']}: {run['matmul_before']['gflops']} before, "
        f"{run['matmul_after']['gflops']} after" for run in r["runs"]) + ".", ""]
    if r.get("agreement"):
        lines += ["Agreement of the second dtype with the first on the same jobs:", ""]
        for a in r["agreement"]:
            if a["mode"] == "generate":
                lines.append(f"- {a['task']} generate: {a['texts_equal']}/{a['n']} texts equal ({a['dtypes'][1]} vs {a['dtypes'][0]})")
            else:
                lines.append(f"- {a['task']} likelihood: mean |diff| {a['mean_abs_diff']}, max {a['max_abs_diff']} "
                             f"(mean log-prob per answer token, n={a['n']})")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
