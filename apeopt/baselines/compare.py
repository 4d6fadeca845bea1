"""Run every chosen method on one task and model; score all of them on the same test items.

Prompt routes are scored through the (cached) base backend; each tuning route is trained on
train, selected on dev, saved with ``save_pretrained`` and scored through an HFBackend over the
tuned model — always with ``evaluate_many``, the task's scorer and the identical test items.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from apeopt.baselines import DEFAULT_METHODS, QUICK_METHODS, TRAINERS, Method, resolve_methods
from apeopt.baselines.base import SELECT_METRICS, TrainConfig
from apeopt.errors import UserError
from apeopt.models.spec import DEFAULT_SPEC
from apeopt.tasks.task import Example, Task

METHODS_DIR = "methods"
APEOPT_DIR = "apeopt"


@dataclass(frozen=True)
class CompareConfig:
    """``None`` settings take the default of the mode (normal / ``quick``), see :meth:`resolved`."""

    task: str
    methods: tuple[str, ...] | None = None  # None: DEFAULT_METHODS (QUICK_METHODS with quick)
    model: str = DEFAULT_SPEC
    seed: int = 0
    split_seed: int = 0
    quick: bool = False
    steps: int | None = None  # training steps per tuning method (80; quick 8)
    batch_size: int | None = None  # 8 on CPU, 32 on CUDA
    eval_every: int | None = None  # dev selection every N steps (20; quick 4)
    select: str = "score"
    dev_limit: int | None = None  # dev examples for checkpoint selection and apeopt's search (50; quick 16)
    test_limit: int | None = None  # first N test (and test_shift) items (all; quick 30)
    apeopt_minutes: float | None = None  # apeopt search budget in minutes (8; quick: none, see apeopt_calls)
    apeopt_calls: int | None = None  # apeopt search budget in LM calls (none; quick 100: the same work at any load)
    apeopt_space: str = "fewshot"
    apeopt_prompt: str | None = None  # a best_prompt.json to use instead of searching
    device: str = "auto"
    use_cache: bool = True
    method_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        methods = self.methods if self.methods is not None else (QUICK_METHODS if self.quick else DEFAULT_METHODS)
        object.__setattr__(self, "methods", tuple(m.name for m in resolve_methods(methods)))
        for name in ("steps", "batch_size", "eval_every", "dev_limit", "test_limit"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise UserError(f"compare setting {name!r} must be >= 1, got {v!r}")
        if self.apeopt_minutes is not None and not self.apeopt_minutes > 0:
            raise UserError(f"compare setting 'apeopt_minutes' must be > 0, got {self.apeopt_minutes!r}")
        if self.apeopt_calls is not None and self.apeopt_calls < 1:
            raise UserError(f"compare setting 'apeopt_calls' must be >= 1, got {self.apeopt_calls!r}")
        if self.select not in SELECT_METRICS:
            raise UserError(f"compare setting 'select' must be one of {', '.join(SELECT_METRICS)}, got {self.select!r}")
        for name in self.method_options:
            if name not in self.methods or name not in TRAINERS:
                raise UserError(f"method_options: {name!r} is not a chosen tuning method")

    @property
    def resolved(self) -> tuple[Method, ...]:
        return resolve_methods(self.methods or ())

    def value(self, name: str) -> Any:
        """A setting with its mode default filled in."""
        defaults = {"steps": (80, 8), "eval_every": (20, 4), "dev_limit": (50, 16), "test_limit": (None, 30),
                    "apeopt_minutes": (8.0, None), "apeopt_calls": (None, 100)}
        v = getattr(self, name)
        if v is not None:
            return v
        if name in ("apeopt_minutes", "apeopt_calls") and (self.apeopt_minutes or self.apeopt_calls):
            return None  # a budget the user gave replaces the mode's default budget
        return defaults[name][int(self.quick)]

    def train_config(self) -> TrainConfig:
        return TrainConfig(steps=self.value("steps"), batch_size=self.batch_size, eval_every=self.value("eval_every"),
                           select=self.select, dev_limit=self.value("dev_limit"), seed=self.seed)

    def optimize_config(self) -> Any:
        from apeopt.optimizer.config import OptimizeConfig

        small = dict(rounds=1, subsamples=2, per_subsample=2, minibatch=8) if self.quick else dict(rounds=2)
        return OptimizeConfig(task=self.task, model=self.model, space=self.apeopt_space, seed=self.seed,
                              split_seed=self.split_seed, dev_limit=self.value("dev_limit"), few_shot_k=0,
                              budget_minutes=self.value("apeopt_minutes"), budget_calls=self.value("apeopt_calls"),
                              device=self.device, use_cache=self.use_cache,
                              **small)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["methods"] = list(self.methods or ())
        d["effective"] = {k: self.value(k) for k in ("steps", "eval_every", "dev_limit", "test_limit", "apeopt_minutes",
                                                      "apeopt_calls")}
        return d


def items_digest(examples: Sequence[Example]) -> str:
    """Identifies a list of scored items (inputs and accepted answers, in order)."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.input, list(ex.targets)]).encode())
    return h.hexdigest()[:16]


def unwrap(backend: Any) -> Any:
    """The innermost backend (under caching / metering wrappers)."""
    while hasattr(backend, "__dict__") and "inner" in backend.__dict__:
        backend = backend.__dict__["inner"]
    return backend


def check_methods(config: CompareConfig, task: Task, base: Any) -> dict[str, Any]:
    """Fail fast, before any training: train split present, each tuning method applicable."""
    from apeopt.models.hf import HFBackend

    if not task.splits.get("train"):
        raise UserError(f"task {task.name!r} has no train split: compare trains and draws demos from it "
                        "(give the task YAML a `splits: {train: ..., dev: ..., test: ...}`)")
    task.split("dev"), task.split("test")
    trainers: dict[str, Any] = {}
    tuning = [m for m in config.resolved if m.family == "tuning"]
    inner = unwrap(base)
    if tuning and not isinstance(inner, HFBackend):
        raise UserError(f"method {tuning[0].name!r} needs a local transformers model (hf: or gguf:), not {inner.spec!r}")
    for m in tuning:
        trainer = TRAINERS.get(m.trainer)(**dict(config.method_options.get(m.name, {})))
        trainer.check(inner.model)
        trainers[m.name] = trainer
    k_max = max((m.k for m in config.resolved), default=0)
    if k_max > len(task.split("train")):
        raise UserError(f"k-shot-{k_max} needs {k_max} train examples; task {task.name!r} has {len(task.split('train'))}")
    return trainers


def run_comparison(config: CompareConfig, task: Task, base: Any, folder: Path,
                   progress: Callable[[str], None] = lambda msg: None) -> dict[str, Any]:
    """All methods on ``task``; returns {"rows": [...], "meta": {...}} and writes the run's files."""
    from apeopt.baselines.comparison_files import add_paired, write_report
    from apeopt.jsonl import write_jsonl

    started = time.perf_counter()
    trainers = check_methods(config, task, base)
    limit = config.value("test_limit")
    splits = {"test": task.split("test")[:limit]}
    if task.splits.get("test_shift"):
        splits["test_shift"] = task.splits["test_shift"][:limit]
    from apeopt.scorers import get_scorer

    scorer = get_scorer(task.scorer)
    inner = unwrap(base)
    device = str(getattr(inner, "device", "n/a"))
    rows, predictions = [], []
    for method in config.resolved:
        progress(f"{method.name}: {method.description}")
        row, preds = _run_method(method, config, task, base, trainers.get(method.name), folder, splits, scorer, progress)
        row["device"] = device
        rows.append(row)
        predictions += preds
        score = row["test"]
        progress(f"{method.name}: test {scorer.name} {score['score']:.3f} [{score['ci'][0]:.2f}, {score['ci'][1]:.2f}] "
                 f"n={score['n']} ({row['wall_seconds']:.0f} s)")
        gc.collect()
    write_jsonl(folder / "predictions.jsonl", predictions)
    add_paired(rows, predictions)
    meta = {
        "task": task.name,
        "task_source": config.task,
        "model": config.model,
        "base_identity": getattr(inner, "identity", config.model),
        "device": device,
        "scorer": scorer.name,
        "test_items": {s: {"n": len(ex), "digest": items_digest(ex)} for s, ex in splits.items()},
        "data_fingerprint": task.fingerprint(),
        "config": config.to_dict(),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "run_dir": str(folder),
    }
    write_report(folder, rows, meta)
    return {"rows": rows, "meta": meta}


def _run_method(method: Method, config: CompareConfig, task: Task, base: Any, trainer: Any, folder: Path,
                splits: dict[str, tuple[Example, ...]], scorer: Any,
                progress: Callable[[str], None]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from apeopt.baselines.prompts import human_prompt, load_winner, route_prompt, search_apeopt

    info: dict[str, Any] = {"train_seconds": 0.0, "lm_calls": 0, "lm_tokens": 0, "trainable_params": 0,
                            "virtual_tokens": 0, "train_examples": method.k, "dev_examples": 0}
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
        prompt = human_prompt(task)
        scoring, adapter, extra = _train_method(method, config, task, base, trainer, folder, prompt, progress)
        info.update(extra)
    return _score(method, prompt, scoring, task, splits, scorer, info, adapter)


def _train_method(method: Method, config: CompareConfig, task: Task, base: Any, trainer: Any, folder: Path,
                  prompt: Any, progress: Callable[[str], None]) -> tuple[Any, str, dict[str, Any]]:
    from apeopt.baselines.train import train
    from apeopt.models.adapter import AdapterMeta
    from apeopt.models.stack import stacked

    out = folder / METHODS_DIR / method.name
    inner = unwrap(base)
    tuned = train(method.name, trainer, inner, task, prompt, config.train_config(), out, progress)
    adapter_dir = out / "adapter"
    trainer.save(tuned.trained, adapter_dir)
    if trainer.kind == "full":
        inner.tokenizer.save_pretrained(str(adapter_dir))
    info = dict(tuned.info)
    AdapterMeta(
        method=method.name, kind=trainer.kind, task=task.name, base_model=config.model, prompt=prompt.to_dict(),
        split_seed=config.split_seed, base_identity=inner.identity, weights_digest=info["weights_digest"],
        virtual_tokens=info["virtual_tokens"], trainable_params=info["trainable_params"],
        data_fingerprint=task.fingerprint(), task_source=config.task, train={**config.train_config().to_dict(), "lr": info["lr"],
                                                    "batch_size": info["batch_size"], "options": trainer.options.to_dict()},
        dev_selection=info["dev_selection"],
    ).save(adapter_dir)
    info["lm_calls"] = info.pop("selection_lm_calls")
    info["lm_tokens"] = info.pop("selection_lm_tokens")
    return stacked(tuned.backend, use_cache=config.use_cache), str(adapter_dir), info


def _score(method: Method, prompt: Any, scoring: Any, task: Task, splits: dict[str, tuple[Example, ...]],
           scorer: Any, info: dict[str, Any], adapter: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from apeopt.evaluation import evaluate_many
    from apeopt.models.metered import MeteredBackend

    metered = MeteredBackend(scoring)
    t0 = time.perf_counter()
    results = dict(zip(splits, evaluate_many([(prompt, ex) for ex in splits.values()], metered, scorer, task.labels)))
    eval_seconds = time.perf_counter() - t0
    n_items = sum(len(ex) for ex in splits.values())
    per_example = metered.usage.tokens / max(1, n_items)
    if method.name == "prompt-tuning":  # soft-prompt positions go through every layer on every call
        per_example += info.get("virtual_tokens", 0)
    row: dict[str, Any] = {
        "method": method.name,
        "family": method.family,
        "description": method.description,
        "test": results["test"].aggregate.as_dict(),
        "test_shift": results["test_shift"].aggregate.as_dict() if "test_shift" in results else None,
        "trainable_params": info["trainable_params"],
        "virtual_tokens": info["virtual_tokens"],
        "train_examples": info["train_examples"],
        "dev_examples": info["dev_examples"],
        "train_seconds": round(float(info["train_seconds"]), 2),
        "eval_seconds": round(eval_seconds, 2),
        "wall_seconds": round(float(info["train_seconds"]) + eval_seconds, 2),
        "s_per_step": info.get("s_per_step"),
        "steps": info.get("steps", 0),
        "best_step": info.get("best_step"),
        "lm_calls": info["lm_calls"],
        "lm_tokens": info["lm_tokens"],
        "test_lm_calls": metered.usage.calls,
        "inference_tokens_per_example": round(per_example, 1),
        "scorer": scorer.name,
        "test_items": {s: items_digest(ex) for s, ex in splits.items()},
        "prompt": {"instruction": prompt.instruction, "demos": len(prompt.demos), "template": prompt.template},
        "dev_selection": info.get("dev_selection"),
        "adapter": adapter,
        "details": {k: v for k, v in info.items() if k in ("lr", "batch_size", "train_tokens", "candidates", "trials",
                                                             "stop_reason", "run_dir", "prompt_file", "dtype")},
    }
    preds = [{"method": method.name, "split": s, "index": i, **r}
             for s, res in results.items() for i, r in enumerate(res.rows())]
    return row, preds


def _copy_best_prompt(folder: Path) -> None:
    """The winner's prompt file also at the run's top level, so `apeopt export <run>` finds it."""
    from apeopt.optimizer.runstore import BEST_PROMPT

    src = folder / APEOPT_DIR / BEST_PROMPT
    if src.is_file():
        (folder / BEST_PROMPT).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
