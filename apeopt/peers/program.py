"""What every DSPy peer optimizes and how it is scored: one ``dspy.Predict("input -> output")``,
scored with the task's own scorer, format failures kept apart from wrong answers.

The metric also records a dev-score-vs-LM-calls trace: DSPy optimizers evaluate one candidate at a
time (threads only within a candidate), so every ``len(dev)`` distinct dev examples scored without a
``trace`` argument close one candidate evaluation, logged with the LM calls spent so far.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Sequence, TypedDict

import dspy

from apeopt.models.base import LMBackend
from apeopt.scorers import Scorer, aggregate, get_scorer
from apeopt.tasks.task import Example, Task


class TaskProgram(dspy.Module):
    """``dspy.Predict("input -> output")`` with the task's instruction; never raises.

    A completion DSPy cannot parse (see :class:`~apeopt.peers.dspy_lm.CountingChatAdapter`) or an
    adapter error gives a prediction with ``format_failure=True``; ``output`` holds the salvaged text.
    """

    def __init__(self, instruction: str) -> None:
        super().__init__()
        self.predict = dspy.Predict(dspy.Signature("input -> output", instruction))

    def forward(self, input: str) -> dspy.Prediction:  # noqa: A002 - the DSPy field name
        adapter = dspy.settings.adapter
        take = getattr(adapter, "take_failure", lambda: False)
        take()
        try:
            pred = self.predict(input=input)
        except Exception as exc:  # adapter/context errors: a format failure, not a crash of the optimizer
            take()
            return dspy.Prediction(output="", format_failure=True, error=f"{type(exc).__name__}: {exc}"[:300])
        return dspy.Prediction(output=str(pred.output or ""), format_failure=take())

    @property
    def instruction(self) -> str:
        return str(self.predict.signature.instructions)


def to_dspy(examples: Sequence[Example]) -> list[dspy.Example]:
    """DSPy examples (``input`` -> canonical ``output``); scoring looks the accepted targets up by input."""
    return [dspy.Example(input=ex.input, output=ex.target).with_inputs("input") for ex in examples]


@dataclass
class Trace:
    """Best full-dev score so far against LM calls (and seconds) spent so far."""

    points: list[dict[str, float]] = field(default_factory=list)

    def add(self, calls: int, score: float, elapsed: float) -> None:
        best = max(score, self.points[-1]["best"]) if self.points else score
        self.points.append(
            {"calls": calls, "score": round(score, 6), "best": round(best, 6), "elapsed": round(elapsed, 2)}
        )

    @property
    def final(self) -> float | None:
        return self.points[-1]["best"] if self.points else None

    def calls_to(self, fraction: float = 0.95) -> int | None:
        """LM calls spent when the best dev score first reached ``fraction`` of its final value (None if it stayed <= 0)."""
        final = self.final
        if final is None or final <= 0:
            return None
        for p in self.points:
            if p["best"] >= fraction * final - 1e-12:
                return int(p["calls"])
        return None


class TaskMetric:
    """``metric(example, prediction, trace=None) -> float``: the task scorer; 0 for a format failure.

    Calls with ``trace=None`` on dev examples are grouped into candidate evaluations (see module doc)
    and logged in ``self.trace`` with ``usage.calls`` at the time the group closes.
    """

    def __init__(self, task: Task, dev: Sequence[Example], usage: Any) -> None:
        self.scorer: Scorer = get_scorer(task.scorer)
        if self.scorer.needs_logprob:
            raise ValueError(f"task {task.name!r} is scored by likelihood; DSPy peers need a text scorer")
        self.labels = task.labels
        self.targets = {ex.input: ex.targets for split in task.splits.values() for ex in split}
        self.dev_inputs = {ex.input for ex in dev}
        self.n_dev = len(self.dev_inputs)
        self.usage = usage
        self.trace = Trace()
        self.started = time.monotonic()
        self.format_failures = 0
        self.scored = 0
        self._group: dict[str, float] = {}
        self._lock = threading.Lock()

    def score(self, example: Any, pred: Any) -> float:
        if getattr(pred, "format_failure", False):
            return 0.0
        targets = self.targets.get(example.input, (str(example.output),))
        return float(self.scorer.score(str(getattr(pred, "output", "") or ""), targets, self.labels))

    def __call__(self, example: Any, pred: Any, trace: Any = None) -> float:
        s = self.score(example, pred)
        with self._lock:
            self.scored += 1
            self.format_failures += int(bool(getattr(pred, "format_failure", False)))
            if trace is None and example.input in self.dev_inputs:
                self._group[example.input] = s  # a repeat (DSPy resubmits stragglers) overwrites
                if len(self._group) == self.n_dev:
                    self.trace.add(
                        self.usage.calls, sum(self._group.values()) / self.n_dev, time.monotonic() - self.started
                    )
                    self._group = {}
        return s


@dataclass(frozen=True)
class TestResult:
    aggregate: dict[str, Any]
    scores: tuple[float, ...]
    format_failures: int
    salvaged: dict[str, Any]  # the score had format failures been read leniently (their salvaged text)
    outputs: tuple[str, ...]


def evaluate_program(program: TaskProgram, task: Task, examples: Sequence[Example], num_threads: int = 8) -> TestResult:
    """Run ``program`` on ``examples`` (inside the caller's ``dspy.context``) and score with the task scorer."""
    scorer = get_scorer(task.scorer)
    data = to_dspy(examples)
    preds = program.batch(data, num_threads=num_threads, timeout=0, disable_progress_bar=True)
    scores, lenient, outputs, failures = [], [], [], 0
    for ex, pred in zip(examples, preds):
        out = str(getattr(pred, "output", "") or "") if pred is not None else ""
        failed = pred is None or bool(getattr(pred, "format_failure", False))
        failures += int(failed)
        s = float(scorer.score(out, ex.targets, task.labels))
        lenient.append(s)
        scores.append(0.0 if failed else s)
        outputs.append(out)
    return TestResult(
        aggregate(scores).as_dict(), tuple(scores), failures, aggregate(lenient).as_dict(), tuple(outputs)
    )


class JointUsage:
    """The LM calls a peer's budget counts: the task backend's and, when it is another object, the
    proposer's (the reflection / prompt model), read live (``calls``) as the budget checks need."""

    def __init__(self, *backends: LMBackend) -> None:
        self.backends = tuple({id(b): b for b in backends}.values())

    @property
    def calls(self) -> int:
        return sum(b.usage.calls for b in self.backends)


class PeerRow(TypedDict, total=False):
    """One row of the peer table: a method's settings and prompt, its search and test-evaluation usage,
    its dev and test scores (a plain dict, as written to the bench's JSON)."""

    method: str
    baseline: bool  # a reference row (a human instruction), not a search
    settings: dict[str, Any]
    prompt: dict[str, Any]
    search: dict[str, Any]  # LM calls and tokens the search spent, and its wall time
    evaluation: dict[str, Any]  # the same for scoring the result on test
    dev: float | None
    trace: list[dict[str, float]]
    trace_metric: str
    trace_final: float | None
    calls_to_95: int | None
    test: dict[str, Any]
    test_scores: list[float]
    test_format_failures: int
    test_salvaged: dict[str, Any]
    test_outputs: list[str]
    search_format_failures: dict[str, Any]
    truncated_responses: int


def usage_snapshot(*backends: LMBackend) -> dict[str, int]:
    """Logical usage (the metered counters, summed over distinct backends) and, where there is one,
    what the shared stacks computed (summed over distinct innermost counters)."""
    out: dict[str, int] = {}
    computed: dict[int, Any] = {}
    for b in {id(b): b for b in backends}.values():
        for k, v in b.usage.as_dict().items():
            out[k] = out.get(k, 0) + v
        c = getattr(b, "computed", None)
        if c is not None:
            computed[id(c)] = c
    if computed:
        out["computed_calls"] = sum(c.calls for c in computed.values())
        out["cache_hits"] = sum(c.cache_hits for c in computed.values())
    return out


def diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


def run_peer(
    method: str,
    task: Task,
    backend: LMBackend,
    dev: Sequence[Example],
    test: Sequence[Example],
    compile_fn: Any,
    settings: dict[str, Any],
    seed: int = 0,
    num_threads: int = 8,
    prompt_max_tokens: int = 128,
    batch: bool = True,
    proposer: LMBackend | None = None,
) -> PeerRow:
    """Run ``compile_fn(bridge, metric) -> TaskProgram`` inside a ``dspy.context`` on ``backend``, then score on ``test``.

    ``proposer`` (default: ``backend``) computes the optimizer's prompt / reflection LM; its calls
    count in the same budget (``metric.usage``). Search usage (budgeted) and test-evaluation usage
    are reported apart; so are format failures.
    """
    from apeopt.peers.dspy_lm import DSPyBridge

    meters = (backend,) if proposer is None else (backend, proposer)
    before, started = usage_snapshot(*meters), time.monotonic()
    with DSPyBridge(
        backend,
        task_max_tokens=task.max_tokens + 24,
        prompt_max_tokens=prompt_max_tokens,
        seed=seed,
        batch=batch,
        proposer=proposer,
    ) as br:
        with br.context():
            metric = TaskMetric(task, dev, JointUsage(*meters))
            best = compile_fn(br, metric)
            search, search_wall = diff(usage_snapshot(*meters), before), time.monotonic() - started
            failures, parses = dict(br.adapter.failures), dict(br.adapter.parses)
            mid, t1 = usage_snapshot(*meters), time.monotonic()
            result = evaluate_program(best, task, test, num_threads=num_threads)
            evaluation = diff(usage_snapshot(*meters), mid)
        truncated = br.truncated
    return {
        "method": method,
        "settings": settings,
        "prompt": {"instruction": best.instruction, "demos": len(best.predict.demos)},
        "search": {**search, "wall_s": round(search_wall, 2)},
        "evaluation": {**evaluation, "wall_s": round(time.monotonic() - t1, 2)},
        "dev": metric.trace.final,
        "trace": metric.trace.points,
        "calls_to_95": metric.trace.calls_to(0.95),
        "test": result.aggregate,
        "test_scores": list(result.scores),
        "test_format_failures": result.format_failures,
        "test_salvaged": result.salvaged,
        "test_outputs": list(result.outputs),
        "search_format_failures": {
            "task": metric.format_failures,
            "task_scored": metric.scored,
            "by_signature": failures,
            "parses_by_signature": parses,
        },
        "truncated_responses": truncated,
    }


def run_human_dspy(
    task: Task,
    backend: LMBackend,
    dev: Sequence[Example],
    test: Sequence[Example],
    num_threads: int = 8,
    batch: bool = True,
) -> PeerRow:
    """The human instruction as a plain ``dspy.Predict`` (ChatAdapter format), no search."""
    from apeopt.peers.dspy_lm import DSPyBridge

    with DSPyBridge(backend, task_max_tokens=task.max_tokens + 24, batch=batch) as br, br.context():
        before, started = usage_snapshot(backend), time.monotonic()
        dev_result = evaluate_program(TaskProgram(task.instruction), task, dev, num_threads=num_threads)
        result = evaluate_program(TaskProgram(task.instruction), task, test, num_threads=num_threads)
        evaluation = diff(usage_snapshot(backend), before)
    return {
        "method": "human_dspy",
        "baseline": True,
        "settings": {"template": "dspy.ChatAdapter"},
        "prompt": {"instruction": task.instruction, "demos": 0},
        "evaluation": {**evaluation, "wall_s": round(time.monotonic() - started, 2)},
        "dev": dev_result.aggregate["score"],
        "test": result.aggregate,
        "test_scores": list(result.scores),
        "test_format_failures": result.format_failures,
        "test_salvaged": result.salvaged,
        "test_outputs": list(result.outputs),
    }
