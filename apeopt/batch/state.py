"""Job states read from the batch study's trials, one reader for ``apeopt batch status`` and the HTML
report: a job's latest attempt (the trial with the highest number among those carrying its key)
decides its state; tries count the attempts that started."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from optuna.trial import FrozenTrial, TrialState

from apeopt.batch.plan import Job

JOB = "job_key"  # user attribute: the job an attempt belongs to
SPURIOUS = "spurious"  # user attribute: a fresh trial a worker got by racing for the last job
STATE_NAMES = {TrialState.RUNNING: "running", TrialState.COMPLETE: "done", TrialState.FAIL: "failed"}  # else pending


@dataclass(frozen=True)
class Attempts:
    latest: FrozenTrial
    tries: int

    @property
    def state(self) -> str:
        return STATE_NAMES.get(self.latest.state, "pending")


def job_attempts(trials: Iterable[FrozenTrial]) -> dict[str, Attempts]:
    """By job key: the latest attempt and how many attempts started (waiting ones are not tries)."""
    latest: dict[str, FrozenTrial] = {}
    tries: dict[str, int] = {}
    for t in trials:
        key = t.user_attrs.get(JOB)
        if key is None or t.user_attrs.get(SPURIOUS):
            continue
        tries[key] = tries.get(key, 0) + (t.state != TrialState.WAITING)
        if key not in latest or t.number > latest[key].number:
            latest[key] = t
    return {key: Attempts(t, tries[key]) for key, t in latest.items()}


@dataclass
class JobState:
    job: Job
    state: str  # pending | running | done | failed
    attempts: int
    value: float | None
    attrs: dict[str, Any]


def job_states(jobs: Iterable[Job], trials: Iterable[FrozenTrial]) -> list[JobState]:
    """The state of every job of a plan, in plan order (pending when it has no attempt yet)."""
    found = job_attempts(trials)
    out = []
    for job in jobs:
        a = found.get(job.key)
        if a is None:
            out.append(JobState(job, "pending", 0, None, {}))
            continue
        value = a.latest.value if a.latest.state == TrialState.COMPLETE else None
        out.append(JobState(job, a.state, a.tries, value, dict(a.latest.user_attrs)))
    return out
