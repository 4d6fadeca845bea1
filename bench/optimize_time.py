"""Wall time and quality of the default ``apeopt optimize`` on built-in tasks, cold LM cache.

    python bench/optimize_time.py --tasks plural sentiment --label after
    python bench/optimize_time.py --tasks plural --label before --src /tmp/apeopt-before   # another checkout
    python bench/optimize_time.py --render                                                 # re-render the .md

Each task runs ``apeopt optimize --task T`` with every default, as a user would, in a subprocess
whose LM cache is a fresh empty folder (the converted model weights are linked in, so the one-time
GGUF conversion is not counted; it is timed separately once). ``--src`` runs another checkout of
apeopt (``PYTHONPATH``), so that a before/after pair is measured in the same way on the same
machine. Rows are appended to ``--out``.json under ``--label`` (a rerun with the same label and
task replaces its row); the .md shows time, stop reason, LM calls and test scores side by side.
"""

from __future__ import annotations

from apeopt.process import configure_process

configure_process()  # first: OMP_WAIT_POLICY before torch loads; quiet Optuna and HF progress bars

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
from typing import Any

from apeopt.models.cache import default_cache_dir
from apeopt.records.summary import load_run_summary

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 300.0
# --naive-scoring: the same optimize, every LM request scored on its own (batch 1, no shared-prefix
# KV reuse; the LM cache stays on): what the run costs without the batched scoring paths.
NAIVE = (
    "import apeopt.models.hf as hf, sys\n"
    "_init = hf.HFBackend.__init__\n"
    "def init(self, *a, **k):\n"
    "    _init(self, *a, **k)\n"
    "    self.batch_size, self.prefix_reuse = 1, False\n"
    "hf.HFBackend.__init__ = init\n"
    "from apeopt.cli import main\n"
    "sys.argv[0] = 'apeopt'\n"
    "main()\n"
)


def git_rev(src: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no", "--", "apeopt"], capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_one(task: str, src: Path, runs: Path, extra: list[str], naive: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="apeopt-cache-") as tmp:
        cache = Path(tmp)
        models = default_cache_dir() / "models"
        if models.is_dir():
            (cache / "models").symlink_to(models, target_is_directory=True)
        env = {**os.environ, "APEOPT_CACHE_DIR": str(cache), "PYTHONPATH": str(src)}
        run_dir = runs / f"{task}-{int(time.time())}"
        runs.mkdir(parents=True, exist_ok=True)  # --run-dir needs its parent folder
        launch = ["-c", NAIVE] if naive else ["-m", "apeopt"]
        cmd = [sys.executable, *launch, "optimize", "--task", task, "--run-dir", str(run_dir), *extra]
        load0 = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=str(src), capture_output=True, text=True)
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"error: {shlex.join(cmd)} exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
    s = load_run_summary(run_dir / "summary.json")
    human, few_shot = s.human.score("test"), s.few_shot.score("test") if s.few_shot else None
    return {
        "task": task, "wall_s": round(wall, 1), "optimize_wall_s": s.wall_seconds, "stop_reason": s.stop_reason,
        "lm_calls": s.lm_calls, "tokens": s.tokens, "computed": dict(s.computed or {}), "trials": s.trials,
        "candidates": s.candidates, "load_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "winner": {k: v.to_dict() for k, v in s.winner.scores.items()},
        "winner_instruction": s.winner.prompt.instruction, "winner_demos": len(s.winner.prompt.demos),
        "human_test": human.to_dict() if human else None, "few_shot_test": few_shot.to_dict() if few_shot else None,
        "run_dir": str(run_dir),
    }


def _ci(m: dict[str, Any] | None) -> str:
    if not m:
        return "-"
    return f"{m['score']:.3f} [{m['ci'][0]:.2f}, {m['ci'][1]:.2f}] n={m['n']}"


def summary(data: dict[str, Any]) -> list[str]:
    """Per label: tasks, mean and max wall time, runs over the target, mean test of the winner, the
    human instruction and 5-shot (each over the label's tasks)."""
    def mean(xs: list[float]) -> str:
        return f"{sum(xs) / len(xs):.3f}" if xs else "-"

    out = ["", "| version | tasks | mean wall s | max wall s | over target | mean winner test | mean human test | mean 5-shot test |",
           "|---|---|---|---|---|---|---|---|"]
    for label, rows in data["rows"].items():
        walls = [r["wall_s"] for r in rows]
        test = [r["winner"]["test"]["score"] for r in rows if r["winner"].get("test")]
        human = [r["human_test"]["score"] for r in rows if r.get("human_test")]
        shot = [r["few_shot_test"]["score"] for r in rows if r.get("few_shot_test")]
        out.append(f"| {label} | {len(rows)} | {sum(walls) / len(walls):.0f} | {max(walls):.0f} | "
                   f"{sum(w > TARGET_S for w in walls)} | {mean(test)} | {mean(human)} | {mean(shot)} |")
    return out


def markdown(data: dict[str, Any]) -> str:
    out = ["# Default `apeopt optimize`: wall time and quality, before and after", "",
           f"Target: under {TARGET_S / 60:.0f} minutes on a 2-core CPU, on the embedded model (`smollm2-135m`) unless a version names another, result quality unchanged.",
           "Every run: `apeopt optimize --task T` with all defaults, an empty LM cache (converted model weights reused), one run at a time.", ""]
    for label, meta in data["labels"].items():
        commands = "; ".join(f"`{c}`" for c in meta.get("commands", [meta["command"]]))
        out.append(f"- **{label}**: apeopt `{meta['rev']}`; {commands}; {meta['date']}; {meta['machine']}")
    if data.get("notes"):
        out += ["", data["notes"].strip()]
    out += summary(data)
    out += ["", "| task | version | wall s | stop reason | LM calls (computed) | trials | winner test (95% CI) | winner test_shift | human test | 5-shot test | load (1-min, start-end) |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    tasks = sorted({r["task"] for rows in data["rows"].values() for r in rows})
    for t in tasks:
        for label, rows in data["rows"].items():
            for r in rows:
                if r["task"] != t:
                    continue
                mark = "" if r["wall_s"] <= TARGET_S else " (over target)"
                out.append(f"| {t} | {label} | **{r['wall_s']:.0f}**{mark} | {r['stop_reason']} | {r['lm_calls']:,} ({r['computed']['calls']:,}) | "
                           f"{r['trials']} | {_ci(r['winner'].get('test'))} | {_ci(r['winner'].get('test_shift'))} | "
                           f"{_ci(r['human_test'])} | {_ci(r['few_shot_test'])} | {r['load_1min'][0]}-{r['load_1min'][1]} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", nargs="+", default=["plural", "sentiment"])
    ap.add_argument("--label", default="current")
    ap.add_argument("--src", type=Path, default=ROOT, help="apeopt checkout to run (PYTHONPATH)")
    ap.add_argument("--runs", type=Path, default=None, help="run folders (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "optimize_time")
    ap.add_argument("--notes", type=Path, default=None, help="markdown placed under the header")
    ap.add_argument("--naive-scoring", action="store_true", help="ablation: batch 1, no prefix KV reuse (see NAIVE)")
    ap.add_argument("--render", action="store_true", help="only re-render the .md from the .json")
    ap.add_argument("extra", nargs="*", help="after --: extra options for apeopt optimize")
    args = ap.parse_args(argv)
    js = args.out.with_suffix(".json")
    data: dict[str, Any] = json.loads(js.read_text()) if js.is_file() else {"labels": {}, "rows": {}}
    if args.notes:
        data["notes"] = args.notes.read_text()
    if not args.render:
        runs = args.runs or Path(tempfile.mkdtemp(prefix="apeopt-optime-"))
        src = args.src.resolve()
        before = data["labels"].get(args.label, {})
        command = "python bench/optimize_time.py " + shlex.join(sys.argv[1:] if argv is None else argv)
        data["labels"][args.label] = {
            "commands": [*before.get("commands", [before["command"]] if before else []), command],
            "rev": git_rev(src), "naive_scoring": args.naive_scoring, "command": command,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
        }
        rows = [r for r in data["rows"].get(args.label, []) if r["task"] not in args.tasks]
        for task in args.tasks:
            row = run_one(task, src, runs, args.extra, naive=args.naive_scoring)
            print(json.dumps(row), flush=True)
            rows.append(row)
            data["rows"][args.label] = rows
            js.parent.mkdir(parents=True, exist_ok=True)
            js.write_text(json.dumps(data, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(data))
    print(f"wrote {js} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
