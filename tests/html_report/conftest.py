"""Fixture folders for the report tests: a batch (real Optuna batch.db + job run folders made by the
fake-LM optimizer), a standalone run whose human instruction is a script tag, and a compare run."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from toy import run_toy, toy_task

from apeopt.tasks.task import Task

EVIL = '<script>alert("pwned")</script> Do the task & <b>more</b>.'


@dataclass
class Fixture:
    root: Path
    batch: Path
    run: Path
    compare: Path
    keys: dict[str, str]  # state -> job key
    evil: str = EVIL  # the standalone run's human instruction


def evil_task() -> Task:
    base = toy_task()
    return Task(base.name, EVIL, base.splits)


def make_batch(root: Path) -> tuple[Path, dict[str, str]]:
    """A 4-job plan: one done (with its run), one failed for good, one running (half-done run), one pending."""
    from apeopt.batch.plan import load_plan
    from apeopt.batch.queue import JobQueue, open_storage
    from apeopt.records.job import JobResult

    (root / "toy.yaml").write_text("name: toy\ninstruction: x\nsource: {type: jsonl, path: d.jsonl}\n")
    plan_file = root / "nightly.yaml"
    plan_file.write_text("defaults: {space: fewshot, rounds: 1}\nmatrix: {task: [toy.yaml], seed: [0, 1, 2, 3]}\nretries: 0\n")
    plan = load_plan(plan_file)
    batch = root / "runs" / "batch-nightly"
    batch.mkdir(parents=True)
    queue = JobQueue(plan, open_storage(f"sqlite:///{batch / 'batch.db'}", retries=plan.retries))
    queue.enqueue_missing()
    keys: dict[str, str] = {}
    trial, job = queue.claim()  # type: ignore[misc]
    summary, _, _ = run_toy(batch / job.key, rounds=1)
    result = JobResult(summary.run_dir, optimize=summary)
    queue.done(trial, result.value, {**result.attrs(), "job_seconds": 3.5})
    keys["done"] = job.key
    trial, job = queue.claim()  # type: ignore[misc]
    queue.failed(trial, job, "RuntimeError: model server went away <oops>")
    keys["failed"] = job.key
    trial, job = queue.claim()  # type: ignore[misc]
    run_toy(batch / job.key, rounds=1, seed=2)
    (batch / job.key / "summary.json").unlink()  # its worker is still searching: no summary yet
    keys["running"] = job.key
    keys["pending"] = next(j.key for j in plan.jobs if j.key not in keys.values())
    return batch, keys


def make_compare(folder: Path) -> Path:
    """A compare run folder written by the real comparison writer, with made-up numbers."""
    from apeopt.atomic_files import atomic_write_json
    from apeopt.baselines.comparison_files import write_comparison
    from apeopt.records.compare import CompareRow, CompareSummary

    folder.mkdir(parents=True)
    rows = []
    for i, (method, family) in enumerate((("human", "prompt"), ("k-shot-5", "prompt"), ("apeopt", "prompt"), ("lora", "tuning"))):
        s = 0.2 + 0.2 * i
        rows.append({
            "method": method, "family": family, "test": {"score": s, "n": 30, "ci": [s - 0.1, s + 0.1]},
            "test_shift": {"score": s - 0.05, "n": 8, "ci": [max(0.0, s - 0.3), s + 0.2]},
            "paired": {} if method == "human" else {"human": {"diff": s - 0.2, "ci_lo": 0.0, "ci_hi": 0.3, "p": 0.04, "a_better": 5, "b_better": 1}},
            "trainable_params": 40960 if family == "tuning" else 0, "train_examples": 30, "dev_examples": 12,
            "train_seconds": 12.0 * i, "lm_calls": 100 * i, "lm_tokens": 4000 * i, "inference_tokens_per_example": 25.0,
            "wall_seconds": 10.0 + i, "device": "cpu",
        })
    meta = {
        "task": "plural", "task_source": "plural", "model": "smollm2-135m", "device": "cpu", "scorer": "exact_match",
        "test_items": {"test": {"n": 30, "digest": "abc"}, "test_shift": {"n": 8, "digest": "def"}},
        "config": {"quick": True, "effective": {"steps": 8, "dev_limit": 16, "eval_every": 4, "apeopt_calls": 150}},
        "wall_seconds": 46.0, "run_dir": str(folder),
    }
    atomic_write_json(folder / "config.json", {"compare": {"task": "plural", "model": "smollm2-135m"}, "task": "plural", "kind": "compare"})
    write_comparison(folder, [CompareRow.from_dict(r) for r in rows], CompareSummary.from_dict(meta))
    return folder


@pytest.fixture(scope="session")
def report_fixture(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    root = tmp_path_factory.mktemp("report")
    with warnings.catch_warnings():  # optuna: "Heartbeat of storage is supposed to be used with Study.optimize"
        warnings.simplefilter("ignore", UserWarning)
        batch, keys = make_batch(root)
    run_toy(root / "runs" / "evil", task=evil_task(), rounds=1)
    compare = make_compare(root / "runs" / "compare-plural")
    assert json.loads((root / "runs" / "evil" / "summary.json").read_text())["human"]["prompt"]["instruction"] == EVIL
    return Fixture(root, batch, root / "runs" / "evil", compare, keys)
