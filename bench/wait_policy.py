"""How OpenMP's wait policy changes scoring speed, on a quiet CPU and on one shared with another job.

    python bench/wait_policy.py                       # smollm2-135m, bf16, plural, 8 x 50 jobs
    python bench/wait_policy.py --settings GOMP_SPINCOUNT=1000,GOMP_SPINCOUNT=3000 --out bench/results/wait_policy_low

PyTorch's CPU threads (GNU OpenMP) wait for each other between operations: ``OMP_WAIT_POLICY=PASSIVE``
sleeps at once, ``GOMP_SPINCOUNT=N`` spins N times first, and with neither set libgomp spins for
a while (300,000 spins) unless there are more threads than CPUs. The policy is read when torch
loads, so each setting runs in a fresh process. Each process scores the jobs of
``bench/throughput.py`` (C candidates x N dev examples, K demos) with ``evaluate_many`` in
likelihood and generate mode, fastest of ``--repeats`` passes. "contended": a busy Python loop
runs beside it the whole time (one core of two taken by another job, as when two runs share a
machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

POLICIES: dict[str, dict[str, str]] = {
    "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "GOMP_SPINCOUNT=1000": {"GOMP_SPINCOUNT": "1000"},
    "GOMP_SPINCOUNT=3000": {"GOMP_SPINCOUNT": "3000"},
    "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"},
    "GOMP_SPINCOUNT=100000": {"GOMP_SPINCOUNT": "100000"},
    "unset (libgomp default)": {},
}
CLEARED = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Runs in the fresh process: the timed passes."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch  # noqa: F401  (loads OpenMP with this process's environment)
    from throughput import candidates

    from apeopt.evaluation import evaluate_many
    from apeopt.models import load_backend
    from apeopt.scorers import get_scorer
    from apeopt.tasks import load_task

    backend = load_backend(args.model, device="cpu", dtype=args.dtype)
    task = load_task(args.task)
    jobs = [(p, task.split("dev")[: args.examples]) for p in candidates(task, args.candidates, args.demos)]
    out: dict[str, Any] = {}
    for mode, scorer in (("likelihood", "likelihood"), ("generate", "exact_match")):
        sc = get_scorer(scorer)
        evaluate_many(jobs[:1], backend, sc, task.labels)  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            evaluate_many(jobs, backend, sc, task.labels)
            times.append(round(time.perf_counter() - start, 2))
        out[mode] = {"seconds": times, "examples_per_s": round(len(jobs) * args.examples / min(times), 1)}
    return out


def run_setting(argv: Sequence[str], env_extra: dict[str, str], contended: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(env_extra)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if contended else None
    try:
        load = round(os.getloadavg()[0], 2)
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), *argv, "--child"],
            env=env, check=True, capture_output=True, text=True,
        )
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_1min_start"] = load
    return result


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# OpenMP wait policy and scoring speed", "", f"`{r['command']}`", "",
        f"apeopt `{r['apeopt_rev']}`, model `{r['model']}` in {r['dtype']}, task {r['task']}, "
        f"{r['candidates']} candidates x {r['examples']} dev examples, {r['demos']} demos; {r['cpus']} CPUs; "
        f"started {r['started']}. Fastest of {r['repeats']} passes per mode; each setting in a fresh process; "
        "contended: a busy Python loop beside it.", "",
        "| setting | condition | likelihood s (passes) | likelihood ex/s | generate s (passes) | generate ex/s | load at start |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lk, gn = row["likelihood"], row["generate"]
        lines.append(
            f"| {row['setting']} | {row['condition']} | {', '.join(map(str, lk['seconds']))} | {lk['examples_per_s']} | "
            f"{', '.join(map(str, gn['seconds']))} | {gn['examples_per_s']} | {row['load_1min_start']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--task", default="plural")
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--demos", type=int, default=5)
    ap.add_argument("--examples", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--settings", default="PASSIVE,GOMP_SPINCOUNT=10000,GOMP_SPINCOUNT=100000,unset (libgomp default)", help="comma-separated names from: " + ", ".join(POLICIES))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "wait_policy"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    raw = list(argv if argv is not None else sys.argv[1:])
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from optimize_time import git_rev

    result: dict[str, Any] = {
        "command": "python " + " ".join([sys.argv[0], *raw]), "model": args.model, "dtype": args.dtype,
        "task": args.task, "candidates": args.candidates, "examples": args.examples, "demos": args.demos,
        "repeats": args.repeats, "cpus": os.cpu_count(), "apeopt_rev": git_rev(Path(__file__).resolve().parent.parent),
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": [],
    }
    for contended in (False, True):
        for name in args.settings.split(","):
            if name not in POLICIES:
                ap.error(f"--settings: unknown setting {name!r}; choose from {', '.join(POLICIES)}")
            row = run_setting(raw, POLICIES[name], contended)
            row.update(setting=name, condition="contended" if contended else "quiet")
            result["rows"].append(row)
            print(json.dumps(row), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {out.with_suffix('.json')} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
