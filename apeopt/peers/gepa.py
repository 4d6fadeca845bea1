"""DSPy GEPA on apeopt's backend, sized to an LM-call budget.

GEPA (Agrawal et al., 2025; ``dspy.GEPA`` over the ``gepa`` package) evolves the instruction by
reflection: it runs the program on a minibatch of train (3 examples), shows the reflection LM
(here the proposer, ``bridge.prompt_lm``) the inputs, outputs and the metric's feedback, scores the
proposed instruction on the same minibatch and, if it is better, on all of the val set (here dev),
keeping a per-example Pareto front of candidates; merges combine front members. The metric returns
the task scorer's score and its feedback (:meth:`apeopt.scorers.base.Scorer.feedback`). GEPA's
proposer asks for its instruction through DSPy's JSONAdapter by default, which small models rarely
satisfy (every reflection then fails); here it gets the same counting ChatAdapter as the task
program and the other peers (:class:`apeopt.peers.dspy_lm.CountingChatAdapter`: a reply without
field markers is counted and salvaged, never raised).

Budget: GEPA counts metric calls, not LM calls (reflection calls are extra), so ``max_metric_calls``
is set to the budget as an upper bound and a stop callback ends the run between iterations once the
LM calls spent plus one iteration's worst case (a full dev evaluation, two minibatches, a
reflection) would pass the budget, as apeopt's own budget is checked between evaluations.
"""

from __future__ import annotations

from typing import Any, Sequence

import dspy

from apeopt.models.base import LMBackend
from apeopt.peers.program import PeerRow, TaskMetric, TaskProgram, run_peer, to_dspy
from apeopt.tasks.task import Example, Task

MINIBATCH = 3  # GEPA's default reflection minibatch


class FeedbackMetric:
    """GEPA's five-argument metric: the task metric's score and the task scorer's feedback."""

    def __init__(self, metric: TaskMetric) -> None:
        self.metric = metric

    def __call__(
        self, gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None
    ) -> dspy.Prediction:
        score = self.metric(gold, pred, trace)
        return dspy.Prediction(score=score, feedback=self.feedback(gold, pred, score))

    def feedback(self, gold: Any, pred: Any, score: float) -> str:
        if getattr(pred, "format_failure", False):
            return "The answer lacked the [[ ## output ## ]] field (a format failure), so it scored 0."
        out = str(getattr(pred, "output", "") or "")
        targets = self.metric.targets.get(gold.input, (str(gold.output),))
        reason = self.metric.scorer.feedback(out, targets, self.metric.labels, score=score)
        return f"Score {score:.2f}: " + (reason or "correct")


class CallBudgetStop:
    """A GEPA stop callback: stop once ``usage.calls + reserve`` reaches ``budget``."""

    def __init__(self, usage: Any, budget: int, reserve: int) -> None:
        self.usage, self.budget, self.reserve = usage, budget, reserve
        self.stopped_at: int | None = None

    def __call__(self, state: Any) -> bool:
        if self.usage.calls + self.reserve >= self.budget:
            self.stopped_at = self.stopped_at if self.stopped_at is not None else self.usage.calls
            return True
        return False


def plan_gepa(budget_calls: int, n_dev: int) -> dict[str, int]:
    """``max_metric_calls`` (the budget: metric calls never exceed LM calls) and the stop reserve."""
    return {"max_metric_calls": max(n_dev + 1, budget_calls), "reserve": n_dev + 2 * MINIBATCH + 1}


def run_gepa(
    task: Task,
    backend: LMBackend,
    budget_calls: int,
    train: Sequence[Example],
    dev: Sequence[Example],
    test: Sequence[Example],
    seed: int = 0,
    num_threads: int = 8,
    batch: bool = True,
    use_merge: bool = True,
    proposer: LMBackend | None = None,
) -> PeerRow:
    """Optimize the task's ``dspy.Predict`` with GEPA (train for reflection minibatches, dev as its
    Pareto/val set, the proposer LM as reflection LM), then score the result on ``test``."""
    from dspy.teleprompt import GEPA
    from dspy.teleprompt.gepa.instruction_proposal import InstructionProposer

    plan = plan_gepa(budget_calls, len(dev))
    info: dict[str, Any] = {}

    def compile_fn(bridge: Any, metric: TaskMetric) -> TaskProgram:
        stop = CallBudgetStop(metric.usage, budget_calls, plan["reserve"])
        opt = GEPA(
            metric=FeedbackMetric(metric),
            max_metric_calls=plan["max_metric_calls"],
            reflection_lm=bridge.prompt_lm,
            instruction_proposer=InstructionProposer(adapter=bridge.adapter),
            reflection_minibatch_size=MINIBATCH,
            use_merge=use_merge,
            num_threads=num_threads,
            track_stats=True,
            seed=seed,
            gepa_kwargs={"stop_callbacks": [stop]},
        )
        best = opt.compile(TaskProgram(task.instruction), trainset=to_dspy(train), valset=to_dspy(dev))
        details = getattr(best, "detailed_results", None)
        info.update(
            stopped_at_calls=stop.stopped_at,
            candidates=len(details.candidates) if details is not None else None,
            metric_calls=details.total_metric_calls if details is not None else None,
        )
        return best

    out = run_peer(
        "gepa",
        task,
        backend,
        dev,
        test,
        compile_fn,
        {
            **plan,
            "reflection_minibatch_size": MINIBATCH,
            "use_merge": use_merge,
            "reflection_lm": "the proposer" + (" (same model)" if proposer is None else ""),
            "proposer_adapter": "CountingChatAdapter",
            "trainset": "train",
            "valset": "dev",
        },
        seed=seed,
        num_threads=num_threads,
        prompt_max_tokens=256,
        batch=batch,
        proposer=proposer,
    )
    out["settings"].update(info)
    return out
