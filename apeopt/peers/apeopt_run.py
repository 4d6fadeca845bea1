"""apeopt itself as a row of the peer table: one ``optimize`` run on the same items, backend and budget.

The dev-score-vs-calls trace comes from the run's ``evaluations.jsonl``: a trial whose evaluated
examples reach the full dev split is one full-dev evaluation; the LM calls spent at that moment come
from the optimizer's view updates (one ``calls=`` update follows every logged evaluation). In a
likelihood-scored space (``instruction``) the trace is exp(mean gold-token log-probability), the
quantity that space selects by; the final dev/test scores always use the task's scorer.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Sequence

from apeopt.models.metered import MeteredBackend
from apeopt.models.spec import DEFAULT_SPEC
from apeopt.optimizer.progress import View
from apeopt.peers.program import PeerRow, Trace, diff, usage_snapshot
from apeopt.tasks.task import Example, Task


class TraceView(View):
    """Remembers the calls after each logged evaluation and the usage when final scoring begins."""

    def __init__(self, *backends: MeteredBackend) -> None:
        super().__init__()
        self.backends = backends
        self.started = time.monotonic()
        self.after_eval: list[tuple[int, float]] = []
        self.at_final: tuple[dict[str, int], float] | None = None

    def update(self, **fields: Any) -> None:
        super().update(**fields)
        if "calls" in fields:
            self.after_eval.append((int(fields["calls"]), time.monotonic() - self.started))
        if str(fields.get("phase", "")).startswith("final") and self.at_final is None:
            self.at_final = (usage_snapshot(*self.backends), time.monotonic() - self.started)


def dev_trace(
    evaluations: Sequence[dict[str, Any]], after_eval: Sequence[tuple[int, float]], n_dev: int, likelihood: bool
) -> Trace:
    trace = Trace()
    seen: dict[int, int] = {}
    for rec, (calls, elapsed) in zip(evaluations, after_eval):
        seen[rec["trial"]] = seen.get(rec["trial"], 0) + int(rec["n_new"])
        if seen[rec["trial"]] >= n_dev:
            trace.add(calls, math.exp(rec["mean"]) if likelihood else float(rec["mean"]), elapsed)
    return trace


def run_apeopt(
    task: Task,
    backend: MeteredBackend,
    budget_calls: int,
    space: str,
    train: Sequence[Example],
    dev: Sequence[Example],
    test: Sequence[Example],
    run_dir: Path,
    model: str = DEFAULT_SPEC,
    seed: int = 0,
    proposer: MeteredBackend | None = None,
    proposer_model: str | None = None,
    **config: Any,
) -> list[PeerRow]:
    """The winner's row, plus the human (and human + k demos) rows the run scores on the same items.

    ``proposer`` (spec ``proposer_model``) writes the candidates when given; its calls count in the
    run's budget and in the row's search usage, as they do for the DSPy peers."""
    from apeopt.optimizer.config import OptimizeConfig
    from apeopt.optimizer.run import optimize
    from apeopt.runs import RunStore
    from apeopt.search_spaces import load_space

    sub = dataclasses.replace(task, splits={"train": tuple(train), "dev": tuple(dev), "test": tuple(test)})
    cfg = OptimizeConfig(
        task=task.name,
        model=model,
        proposer_model=proposer_model if proposer is not None else None,
        space=space,
        seed=seed,
        budget_calls=budget_calls,
        budget_minutes=None,
        **config,
    )
    store = RunStore.create(run_dir, run_dir.parent, run_dir.name)
    sp = load_space(space)
    meters = (backend,) if proposer is None else (backend, proposer)
    view = TraceView(*meters)
    before, started = usage_snapshot(*meters), time.monotonic()
    summary = optimize(cfg, sub, sp, backend, proposer or backend, store, view)
    wall = time.monotonic() - started
    at_final, search_wall = view.at_final or (usage_snapshot(*meters), wall)
    search = diff(at_final, before)
    evaluation = diff(usage_snapshot(*meters), at_final)
    trace = dev_trace(store.evaluations(), view.after_eval, len(dev), sp.scoring == "likelihood")
    preds = [r for r in store.predictions() if r["split"] == "test"]

    def test_scores(method: str) -> list[float]:
        return [float(r["score"]) for r in preds if r["method"] == method]

    winner = summary.winner
    prompt = winner.prompt.to_dict()
    rows: list[PeerRow] = [
        {
            "method": f"apeopt_{space}",
            "settings": {
                "space": space,
                "scoring": sp.scoring,
                "run_dir": str(run_dir),
                "trials": summary.trials,
                "candidates": summary.candidates,
                "stop_reason": summary.stop_reason,
            },
            "prompt": {
                "instruction": winner.prompt.instruction,
                "demos": len(winner.prompt.demos),
                "format": {k: v for k, v in prompt.items() if k not in ("instruction", "demos")},
            },
            "search": {**search, "wall_s": round(search_wall, 2)},
            "evaluation": {**evaluation, "wall_s": round(wall - search_wall, 2)},
            "dev": winner.scores["dev"].score,
            "trace_metric": "exp(mean gold logprob)" if sp.scoring == "likelihood" else task.scorer,
            "trace_final": trace.final,
            "trace": trace.points,
            "calls_to_95": trace.calls_to(0.95),
            "test": winner.scores["test"].to_dict(),
            "test_scores": test_scores("winner"),
            "test_format_failures": 0,  # a plain completion has no output format to break
        }
    ]
    for name, label in (("human", "human_apeopt"), ("few_shot", "human_fewshot_apeopt")):
        base = summary.baselines().get(name)
        if base is not None and base.score("test") is not None:
            rows.append(
                {
                    "method": label,
                    "baseline": True,
                    "settings": {"template": "completion", "k": cfg.few_shot_k if name == "few_shot" else 0},
                    "prompt": {"instruction": task.instruction},
                    "dev": base.scores["dev"].score,
                    "test": base.scores["test"].to_dict(),
                    "test_scores": test_scores(name),
                    "test_format_failures": 0,
                }
            )
    return rows
