"""Shared plumbing for commands: open a (cached) backend, resolve a scorer, evaluate with progress."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from apeopt.evaluation import EvalResult, evaluate_many
from apeopt.models.base import LMBackend
from apeopt.prompts.prompt import PromptConfig
from apeopt.scorers import Scorer, aggregate, get_scorer
from apeopt.tasks.task import Example


def cache_dir() -> Path:
    from apeopt.models.cache import default_cache_dir

    return default_cache_dir()


def open_backend(spec: str, device: str = "auto", use_cache: bool = True) -> LMBackend:
    """Load a model spec; wrap it in the persistent LM cache unless disabled."""
    from apeopt.models import load_backend

    backend = load_backend(spec, device=device, cache_dir=cache_dir())
    if not use_cache:
        return backend
    from apeopt.models.cache import CachingBackend

    return CachingBackend(backend, cache_dir())


def resolve_scorer(name: str) -> Scorer:
    return get_scorer(name)


def progress_evaluate(
    prompt: PromptConfig,
    examples: Sequence[Example],
    backend: LMBackend,
    scorer: Scorer,
    labels: Sequence[str] | None,
    quiet: bool = False,
    label: str = "scoring",
    chunk: int = 32,
) -> EvalResult:
    """Evaluate in chunks with a Rich progress bar on stderr; the result equals one big call."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    parts: list[EvalResult] = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True, disable=quiet,
    ) as bar:
        tid = bar.add_task(label, total=len(examples))
        for start in range(0, len(examples), chunk):
            part = examples[start : start + chunk]
            parts.append(evaluate_many([(prompt, part)], backend, scorer, labels)[0])
            bar.advance(tid, len(part))
    scores = tuple(s for p in parts for s in p.scores)
    return EvalResult(
        aggregate(list(scores)),
        scores,
        tuple(o for p in parts for o in p.outputs),
        tuple(e for p in parts for e in p.examples),
    )
