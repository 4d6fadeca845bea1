"""Run every chosen method on one task and model; score all of them on the same test items.

Prompt routes are scored through the (cached) base backend; each tuning route is trained on
train, selected on dev, saved with ``save_pretrained`` and scored through an HFBackend over the
tuned model — always with ``evaluate_splits``, the task's scorer and the identical test items.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from apeopt.baselines import TRAINERS, Method
from apeopt.baselines.config import CompareConfig
from apeopt.errors import UserError
from apeopt.records.compare import CompareResult, CompareRow, CompareSummary
from apeopt.runs.files import PREDICTIONS
from apeopt.tasks.loader import portable_task_ref
from apeopt.tasks.task import Example, Task

METHODS_DIR = "methods"
APEOPT_DIR = "apeopt"


def items_digest(examples: Sequence[Example]) -> str:
    """Identifies a list of scored items (inputs and accepted answers, in order)."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.input, list(ex.targets)]).encode())
    return h.hexdigest()[:16]


def check_methods(config: CompareConfig, task: Task, base: Any) -> dict[str, Any]:
    """Fail fast, before any training: train split present, each tuning method applicable."""
    from apeopt.models.hf import HFBackend

    if not task.splits.get("train"):
        raise UserError(
            f"task {task.name!r} has no train split: compare trains and draws demos from it "
            "(give the task YAML a `splits: {train: ..., dev: ..., test: ...}`)"
        )
    task.split("dev"), task.split("test")
    trainers: dict[str, Any] = {}
    tuning = [m for m in config.resolved if m.family == "tuning"]
    inner = base.base_backend() if base is not None else None
    if tuning and not isinstance(inner, HFBackend):
        raise UserError(
            f"method {tuning[0].name!r} needs a local transformers model (hf: or gguf:), not {getattr(inner, 'spec', None)!r}"
        )
    for m in tuning:
        trainer = TRAINERS.get(m.trainer)(**dict(config.method_options.get(m.name, {})))
        assert isinstance(inner, HFBackend)  # checked above
        trainer.check(inner.model)
        trainers[m.name] = trainer
    k_max = max((m.k for m in config.resolved), default=0)
    if k_max > len(task.split("train")):
        raise UserError(
            f"k-shot-{k_max} needs {k_max} train examples; task {task.name!r} has {len(task.split('train'))}"
        )
    return trainers


def run_comparison(
    config: CompareConfig, task: Task, base: Any, folder: Path, progress: Callable[[str], None] = lambda msg: None
) -> CompareResult:
    """All methods on ``task`` with ``base`` (the opened backend stack); writes the run's files."""
    from apeopt.baselines.comparison_files import add_paired, write_comparison
    from apeopt.jsonl import write_jsonl
    from apeopt.scorers import get_scorer

    started = time.perf_counter()
    trainers = check_methods(config, task, base)
    limit = config.value("test_limit")
    splits = {"test": task.split("test")[:limit]}
    if task.splits.get("test_shift"):
        splits["test_shift"] = task.splits["test_shift"][:limit]
    scorer = get_scorer(task.scorer)
    inner = base.base_backend()
    device = str(getattr(inner, "device", "n/a"))
    rows, predictions = [], []
    for method in config.resolved:
        progress(f"{method.name}: {method.description}")
        row, preds = _run_method(
            method, config, task, base, trainers.get(method.name), folder, splits, scorer, progress
        )
        rows.append(dataclasses.replace(row, device=device))
        predictions += preds
        s = row.test
        progress(
            f"{method.name}: test {scorer.name} {s.score:.3f} [{s.ci[0]:.2f}, {s.ci[1]:.2f}] n={s.n} "
            f"({row.wall_seconds:.0f} s)"
        )
        gc.collect()
    write_jsonl(folder / PREDICTIONS, predictions)
    rows = add_paired(rows, predictions)
    meta = CompareSummary(
        task=task.name,
        task_source=portable_task_ref(config.task),
        model=config.model,
        base_identity=getattr(inner, "identity", config.model),
        device=device,
        scorer=scorer.name,
        test_items={s: {"n": len(ex), "digest": items_digest(ex)} for s, ex in splits.items()},
        data_fingerprint=task.fingerprint(),
        config=config.to_dict(),
        wall_seconds=round(time.perf_counter() - started, 2),
        run_dir=str(folder),
        methods=tuple(r.method for r in rows),
        split_sources=dict(task.origins),
    )
    write_comparison(folder, rows, meta)
    return CompareResult(tuple(rows), meta)


def _run_method(
    method: Method,
    config: CompareConfig,
    task: Task,
    base: Any,
    trainer: Any,
    folder: Path,
    splits: dict[str, tuple[Example, ...]],
    scorer: Any,
    progress: Callable[[str], None],
) -> tuple[CompareRow, list[dict[str, Any]]]:
    from apeopt.baselines.prompts import load_winner, route_prompt, search_apeopt
    from apeopt.prompts import reference

    info: dict[str, Any] = {
        "train_seconds": 0.0,
        "lm_calls": 0,
        "lm_tokens": 0,
        "trainable_params": 0,
        "virtual_tokens": 0,
        "train_examples": method.k,
        "dev_examples": 0,
    }
    scoring, adapter = base, None
    if method.name == "apeopt":
        if config.apeopt_prompt:
            prompt, extra = load_winner(Path(config.apeopt_prompt), task)
        else:
            prompt, extra = search_apeopt(config.optimize_config(), task, base, folder / APEOPT_DIR, progress)
            _copy_best_prompt(folder)
        info.update(extra, train_examples=len(task.split("train")), dev_examples=extra.get("dev_examples", 0))
    elif method.family == "prompt":
        prompt = route_prompt(method, task, config.split_seed)
    else:
        prompt = reference.human(task)
        scoring, adapter, extra = _train_method(method, config, task, base, trainer, folder, prompt, progress)
        info.update(extra)
    return _score(method, prompt, scoring, task, splits, scorer, info, adapter)


def _train_method(
    method: Method,
    config: CompareConfig,
    task: Task,
    base: Any,
    trainer: Any,
    folder: Path,
    prompt: Any,
    progress: Callable[[str], None],
) -> tuple[Any, str, dict[str, Any]]:
    from apeopt.baselines.train import train
    from apeopt.models.tuned import AdapterMeta
    from apeopt.models.stack import stacked

    out = folder / METHODS_DIR / method.name
    inner = base.base_backend()
    tuned = train(method.name, trainer, inner, task, prompt, config.train_config(), out, progress)
    adapter_dir = out / "adapter"
    trainer.save(tuned.trained, adapter_dir)
    if trainer.kind == "full":
        inner.tokenizer.save_pretrained(str(adapter_dir))
    info = dict(tuned.info)
    AdapterMeta(
        method=method.name,
        kind=trainer.kind,
        task=task.name,
        base_model=config.model,
        prompt=prompt.to_dict(),
        split_seed=config.split_seed,
        base_identity=inner.identity,
        weights_digest=info["weights_digest"],
        virtual_tokens=info["virtual_tokens"],
        trainable_params=info["trainable_params"],
        data_fingerprint=task.fingerprint(),
        task_source=portable_task_ref(config.task),
        train={
            **config.train_config().to_dict(),
            "lr": info["lr"],
            "batch_size": info["batch_size"],
            "options": trainer.options.to_dict(),
        },
        dev_selection=info["dev_selection"],
    ).save(adapter_dir)
    info["lm_calls"] = info.pop("selection_lm_calls")
    info["lm_tokens"] = info.pop("selection_lm_tokens")
    return stacked(tuned.backend, use_cache=config.use_cache), str(adapter_dir), info


def _score(
    method: Method,
    prompt: Any,
    scoring: Any,
    task: Task,
    splits: dict[str, tuple[Example, ...]],
    scorer: Any,
    info: dict[str, Any],
    adapter: str | None,
) -> tuple[CompareRow, list[dict[str, Any]]]:
    from apeopt.evaluation import evaluate_splits
    from apeopt.models.metered import MeteredBackend

    metered = MeteredBackend(scoring)
    t0 = time.perf_counter()
    results = evaluate_splits({method.name: prompt}, splits, metered, scorer, task.labels)[method.name]
    eval_seconds = time.perf_counter() - t0
    n_items = sum(len(ex) for ex in splits.values())
    per_example = metered.usage.tokens / max(1, n_items)
    if method.name == "prompt-tuning":  # soft-prompt positions go through every layer on every call
        per_example += info.get("virtual_tokens", 0)
    row = CompareRow(
        method=method.name,
        family=method.family,
        description=method.description,
        test=results["test"].aggregate,
        test_shift=results["test_shift"].aggregate if "test_shift" in results else None,
        trainable_params=info["trainable_params"],
        virtual_tokens=info["virtual_tokens"],
        train_examples=info["train_examples"],
        dev_examples=info["dev_examples"],
        train_seconds=round(float(info["train_seconds"]), 2),
        eval_seconds=round(eval_seconds, 2),
        wall_seconds=round(float(info["train_seconds"]) + eval_seconds, 2),
        s_per_step=info.get("s_per_step"),
        steps=info.get("steps", 0),
        best_step=info.get("best_step"),
        lm_calls=info["lm_calls"],
        lm_tokens=info["lm_tokens"],
        test_lm_calls=metered.usage.calls,
        inference_tokens_per_example=round(per_example, 1),
        scorer=scorer.name,
        test_items={s: items_digest(ex) for s, ex in splits.items()},
        prompt={"instruction": prompt.instruction, "demos": len(prompt.demos), "template": prompt.template},
        dev_selection=info.get("dev_selection"),
        adapter=adapter,
        details={
            k: v
            for k, v in info.items()
            if k
            in (
                "lr",
                "batch_size",
                "train_tokens",
                "candidates",
                "trials",
                "stop_reason",
                "run_dir",
                "prompt_file",
                "dtype",
            )
        },
    )
    preds = [
        {"method": method.name, "split": s, "index": i, **r}
        for s, res in results.items()
        for i, r in enumerate(res.rows())
    ]
    return row, preds


def _copy_best_prompt(folder: Path) -> None:
    """The winner's prompt file also at the run's top level, so `apeopt export <run>` finds it."""
    from apeopt.runs import BEST_PROMPT

    src = folder / APEOPT_DIR / BEST_PROMPT
    if src.is_file():
        (folder / BEST_PROMPT).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
