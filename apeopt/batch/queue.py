"""The job queue: one Optuna study per plan, one enqueued trial per job attempt.

Workers claim jobs by popping WAITING trials (atomic in Optuna's RDB storage), keep a heartbeat
while a job runs, and tell COMPLETE or FAIL. A worker that dies (kill -9, reboot) stops beating;
the next worker to look fails its stale trial, and ``RetryHeartbeatStaleTrialCallback`` re-enqueues it. A
job that raises is re-enqueued by the worker up to the plan's retry limit, keeping its error text.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from apeopt.batch.plan import Job, Plan
from apeopt.batch.state import JOB, SPURIOUS, JobState, job_states
from apeopt.errors import UserError

ATTEMPT = "attempt"


def open_storage(url: str, heartbeat: int = 30, grace: int | None = None, retries: int = 2) -> RDBStorage:
    """An RDB storage with heartbeats; an unreachable or malformed URL is a one-line UserError."""
    try:
        engine: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            engine["connect_args"] = {"timeout": 60}  # several worker processes share one file
        return RDBStorage(
            url,
            engine_kwargs=engine,
            heartbeat_interval=heartbeat,
            grace_period=grace or 2 * heartbeat,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=retries),
        )
    except Exception as exc:  # sqlalchemy errors: bad scheme, refused connection, missing driver
        from apeopt.secrets import mask_text, mask_url

        msg = mask_text(" ".join(str(exc).split()), url)[:200]
        raise UserError(f"cannot open storage {mask_url(url)!r}: {msg}") from None


class Heartbeat:
    """While the ``with`` block runs, a thread records the trial's heartbeat every storage interval."""

    def __init__(self, storage: RDBStorage, trial_id: int) -> None:
        self.storage, self.trial_id = storage, trial_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="apeopt-heartbeat", daemon=True)

    def _beat(self) -> None:
        interval = self.storage.get_heartbeat_interval() or 30
        while True:
            self.storage.record_heartbeat(self.trial_id)
            if self.stop.wait(interval):
                return

    def __enter__(self) -> "Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


class JobQueue:
    def __init__(self, plan: Plan, storage: RDBStorage) -> None:
        self.plan = plan
        self.storage = storage
        self.study = optuna.create_study(
            storage=storage, study_name=f"apeopt-batch-{plan.name}", direction="maximize", load_if_exists=True
        )
        self.by_key = {j.key: j for j in plan.jobs}
        self.study_id = storage.get_study_id_from_name(self.study.study_name)

    def enqueue_missing(self) -> int:
        """Enqueue every job of the plan that has no trial yet (idempotent across restarts)."""
        known = {t.user_attrs.get(JOB) for t in self.study.get_trials(deepcopy=False)}
        added = 0
        for job in self.plan.jobs:
            if job.key not in known:
                self.study.enqueue_trial({}, user_attrs={JOB: job.key, ATTEMPT: 1, "label": job.label()})
                added += 1
        return added

    def reap_stale(self) -> None:
        """Fail trials whose worker stopped beating; the retry callback re-enqueues them."""
        optuna.storages.fail_stale_trials(self.study)

    def claim(self) -> tuple[optuna.Trial, Job] | None:
        """Pop one waiting job, or None when none is waiting."""
        self.reap_stale()
        while self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            trial = self.study.ask()
            key = trial.user_attrs.get(JOB)  # retried copies inherit the user attrs
            if key in self.by_key:
                return trial, self.by_key[key]
            # raced another worker for the last waiting job and got a fresh trial: discard it
            trial.set_user_attr(SPURIOUS, True)
            self.study.tell(trial, state=TrialState.FAIL)
        return None

    def heartbeat(self, trial: optuna.Trial) -> Heartbeat:
        """Keep ``trial`` alive while its job runs (a dead worker's trial goes stale and is retried)."""
        return Heartbeat(
            self.storage, self.storage.get_trial_id_from_study_id_trial_number(self.study_id, trial.number)
        )

    def done(self, trial: optuna.Trial, value: float, attrs: dict[str, Any]) -> None:
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        self.study.tell(trial, value)

    def failed(self, trial: optuna.Trial, job: Job, error: str) -> None:
        trial.set_user_attr("error", error[:2000])
        attempt = int(trial.user_attrs.get(ATTEMPT, 1))
        self.study.tell(trial, state=TrialState.FAIL)
        if attempt <= self.plan.retries:
            self.study.enqueue_trial(
                {}, user_attrs={JOB: job.key, ATTEMPT: attempt + 1, "label": job.label(), "previous_error": error[:500]}
            )

    def states(self) -> list[JobState]:
        """The latest attempt of every job in the plan."""
        return job_states(self.plan.jobs, self.study.get_trials(deepcopy=False))

    def spent(self) -> dict[str, float]:
        """LM calls and tokens of the jobs done so far (for the plan's budget)."""
        done = [s.attrs for s in self.states() if s.state == "done"]
        return {"calls": sum(a.get("lm_calls") or 0 for a in done), "tokens": sum(a.get("tokens") or 0 for a in done)}

    def started_at(self) -> float:
        """When the plan first started (kept in the study, so a restart keeps the plan's wall budget)."""
        attrs = self.study.user_attrs
        if "started_at" not in attrs:
            self.study.set_user_attr("started_at", time.time())
            return time.time()
        return float(attrs["started_at"])
