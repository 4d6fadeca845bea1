"""The run's best prompt fully scored on dev, kept on disk while the search runs, so that even a run
killed with ``kill -9`` (no Ctrl-C handler runs) leaves a ``partial_prompt.json`` that ``export`` finds.
A finished run removes it (``optimize`` writes best_prompt.json instead); Ctrl-C rewrites it."""

from __future__ import annotations

import json
from typing import Any

from apeopt.runs import PARTIAL_PROMPT, RunStore


def keep_best_on_dev(store: RunStore, config: Any, task: Any, entry: Any, dev_n: int, metric: str) -> None:
    """Write ``entry`` as the partial prompt when it is scored on all ``dev_n`` dev examples and beats
    the one on disk."""
    if len(entry.scores) < dev_n or entry.value is None:
        return
    path = store.path(PARTIAL_PROMPT)
    try:
        current = json.loads(path.read_text(encoding="utf-8"))["scores"]["dev_selection"]["score"]
    except (OSError, ValueError, KeyError, TypeError):
        current = None
    if isinstance(current, (int, float)) and current >= entry.value:
        return
    from apeopt.prompts.file import PromptFile
    from apeopt.records.summary import DevSelection
    from apeopt.scorers import aggregate
    from apeopt.tasks import portable_task_ref

    scores = {
        "dev": aggregate(list(entry.scores)).to_dict(),
        "dev_selection": DevSelection(entry.value, len(entry.scores), metric).to_dict(),
    }
    PromptFile(
        prompt=entry.prompt,
        task=task.name,
        task_source=portable_task_ref(config.task),
        model=config.model,
        scoring="generate",
        split_seed=config.split_seed,
        data_fingerprint=task.fingerprint(),
        scores=scores,
        partial=True,
    ).save(path)
