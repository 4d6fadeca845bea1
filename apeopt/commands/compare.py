"""`apeopt compare`: every chosen route (prompts and PEFT tuning) on one task and model, one table."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from apeopt.baselines.compare import CompareConfig, run_comparison
from apeopt.optimizer.runstore import RunStore, new_run_id


def run_compare(config: CompareConfig, run_dir: Path | None = None, runs_root: Path = Path("runs"),
                quiet: bool = False) -> dict[str, Any]:
    """Load the task and model, check every method applies, then run :func:`run_comparison`."""
    from apeopt.baselines.compare import check_methods
    from apeopt.models import load_backend
    from apeopt.models.stack import stacked
    from apeopt.optimizer.run import versions
    from apeopt.tasks import load_task

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # compare reports its own progress; errors stay one line
    task = load_task(config.task, seed=config.split_seed)
    started = time.monotonic()

    def progress(msg: str) -> None:
        if not quiet:
            print(f"[{time.monotonic() - started:6.0f} s] {msg}", file=sys.stderr, flush=True)

    if not task.splits.get("train"):
        check_methods(config, task, None)  # the one-line error, before loading a model
    base = load_backend(config.model, device=config.device)
    check_methods(config, task, base)  # applicability, before any work or run folder
    store = RunStore.create(run_dir, runs_root, new_run_id(config.task, "compare", config.seed))
    store.write_config({"compare": config.to_dict(), "task": task.name, "versions": versions(), "kind": "compare"})
    progress(f"compare {task.name} on {config.model} ({getattr(base, 'device', '?')}): {', '.join(config.methods or ())}"
             f" -> {store.root}")
    scoring = stacked(base, use_cache=config.use_cache)
    result = run_comparison(config, task, scoring, store.root, progress)
    result["meta"]["load_seconds"] = round(getattr(base, "load_seconds", 0.0), 2)
    return result


def print_comparison(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    meta = result["meta"]
    table = Table("method", "test", "test_shift", "Δ vs human", "trainable", "train time", "inf. tok/ex",
                  title=f"{meta['task']} — {meta['model']} ({meta['device']}), {meta['scorer']}, "
                        f"n={meta['test_items']['test']['n']}")
    for r in result["rows"]:
        t, s = r["test"], r["test_shift"]
        p = r["paired"].get("human")
        table.add_row(
            r["method"], f"{t['score']:.3f} [{t['ci'][0]:.2f}, {t['ci'][1]:.2f}]",
            f"{s['score']:.3f} [{s['ci'][0]:.2f}, {s['ci'][1]:.2f}]" if s else "-",
            f"{p['diff']:+.3f} (p={p['p']:.3f})" if p else "-", f"{r['trainable_params']:,}",
            f"{r['train_seconds']:.0f} s", f"{r['inference_tokens_per_example']:.0f}",
        )
    Console().print(table)
    Console().print(f"{meta['wall_seconds']:.0f} s -> {meta['run_dir']}/comparison.md, comparison.png")
