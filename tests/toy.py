"""A toy pluralization task and a one-call optimize run on the fake LM."""

from __future__ import annotations

import random
from pathlib import Path

from fakes import FakeBackend

from apeopt.models.metered import MeteredBackend
from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.run import optimize
from apeopt.runs import RunStore
from apeopt.optimizer.progress import View
from apeopt.search_spaces import load_space
from apeopt.tasks.task import Example, Task


def toy_task(test: tuple[Example, ...] | None = None) -> Task:
    words = [f"w{i}" for i in range(400)]
    ex = [Example(w, (w + "s",)) for w in words]
    return Task(
        "toy", "Do the task.",
        {"train": tuple(ex[:200]), "dev": tuple(ex[200:260]), "test": test if test is not None else tuple(ex[260:360]), "test_shift": tuple(ex[360:])},
    )


def garbage(n: int = 100) -> tuple[Example, ...]:
    rng = random.Random(123)
    return tuple(Example("".join(rng.choices("xyz#@!", k=7)), ("???",)) for _ in range(n))


def run_toy(
    tmp: Path, space: str = "fewshot", task: Task | None = None, view: View | None = None, resume: bool = False,
    lm: FakeBackend | None = None, **cfg: object
) -> tuple[dict, RunStore, MeteredBackend]:
    backend = MeteredBackend(lm or FakeBackend(lambda x: x + "s"))
    config = OptimizeConfig(task="toy", space=space, **{"budget_minutes": None, **cfg})  # type: ignore[arg-type]
    store = RunStore(tmp) if resume else RunStore.create(tmp, tmp.parent, "x")
    summary = optimize(config, task or toy_task(), load_space(space), backend, backend, store, view or View(), resume=resume)
    return summary, store, backend
