"""The tracker interface, its registry, and the wrapper that keeps a failing tracker from stopping a run.

A tracker mirrors a run into an experiment tracker (MLflow): it is opened once per run, given the
resolved config as params, a few metrics per scored step, the final table and the run's files. The
default, ``none``, does nothing. Every call goes through :class:`SafeTracker`: the first failure is
reported once (one line, credentials scrubbed) and the tracker is switched off; the run goes on.
"""

from __future__ import annotations

import re
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from apeopt.errors import UserError
from apeopt.registry import Registry


class Tracker(ABC):
    """One tracked run at a time: ``start`` it, log to it, ``end`` it."""

    @abstractmethod
    def start(
        self, name: str, params: Mapping[str, Any], tags: Mapping[str, str] | None = None, parent: str | None = None
    ) -> str | None:
        """Open a run (a child of run id ``parent`` when given); returns its id."""

    @abstractmethod
    def attach(self, run_id: str) -> None:
        """Log to an existing run (a batch's parent run, from another process) instead of starting one."""

    @abstractmethod
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...

    @abstractmethod
    def log_table(self, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """A table (a list of rows) attached to the run as ``name`` (a .json file)."""

    @abstractmethod
    def log_artifacts(self, paths: Sequence[Path]) -> None: ...

    @abstractmethod
    def register_prompt(self, name: str, template: str | list[dict[str, str]], tags: Mapping[str, str]) -> str | None:
        """Register a prompt version in the tracker's prompt registry; returns its URI, None without one."""

    @abstractmethod
    def end(self, status: str = "FINISHED") -> None: ...


class NullTracker(Tracker):
    """Tracks nothing (the default)."""

    def start(
        self, name: str, params: Mapping[str, Any], tags: Mapping[str, str] | None = None, parent: str | None = None
    ) -> str | None:
        return None

    def attach(self, run_id: str) -> None:
        return None

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        return None

    def log_table(self, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        return None

    def log_artifacts(self, paths: Sequence[Path]) -> None:
        return None

    def register_prompt(self, name: str, template: str | list[dict[str, str]], tags: Mapping[str, str]) -> str | None:
        return None

    def end(self, status: str = "FINISHED") -> None:
        return None


_SECRETS = [
    (re.compile(r"(\w+://[^/@\s:]+:)[^/@\s]+@"), r"\1***@"),  # user:password@ in a URL
    (
        re.compile(
            r"(?i)((?:api[_-]?key|token|password|secret|authorization)[\"']?\s*[=:]\s*[\"']?)"
            r"(?:bearer\s+)?[^\s\"'&,]+"
        ),
        r"\1***",
    ),  # key=value, "password": "value", Authorization: ...
    (re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-]{12,}"), "***"),  # bearer keys
    (re.compile(r"(?i)bearer\s+[A-Za-z0-9._\-]{8,}"), "Bearer ***"),
]


def scrub(text: str) -> str:
    """``text`` with passwords in URLs, ``key=...``-style values and bearer keys replaced by ``***``."""
    for pattern, repl in _SECRETS:
        text = pattern.sub(repl, text)
    return text


class SafeTracker(Tracker):
    """Wraps a tracker: a failure is reported once (``report``, stderr by default) and turns it off."""

    def __init__(self, inner: Tracker, label: str = "tracking", report: Callable[[str], None] | None = None) -> None:
        self.inner = inner
        self.label = label
        self.report = report or (lambda line: print(line, file=sys.stderr))
        self.failed: str | None = None
        self.run_id: str | None = None

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        if self.failed is not None:
            return None
        try:
            return fn()
        except Exception as exc:  # a tracking server that fails must never stop the run
            self.fail(what, exc)
            return None

    def fail(self, what: str, exc: BaseException) -> None:
        """Report the failure once (one line, credentials scrubbed) and track nothing more."""
        self.failed = scrub(f"{type(exc).__name__}: {' '.join(str(exc).split())}")[:300]
        self.report(f"warning: {self.label} failed ({what}): {self.failed}; the run goes on without it")

    def start(
        self, name: str, params: Mapping[str, Any], tags: Mapping[str, str] | None = None, parent: str | None = None
    ) -> str | None:
        clean = {k: scrub(str(v)) for k, v in params.items()}
        self.run_id = self._call("start", lambda: self.inner.start(name, clean, tags, parent))
        return self.run_id

    def attach(self, run_id: str) -> None:
        self.run_id = run_id
        self._call("attach", lambda: self.inner.attach(run_id))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._call("log metrics", lambda: self.inner.log_metrics(metrics, step))

    def log_table(self, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self._call("log table", lambda: self.inner.log_table(name, rows))

    def log_artifacts(self, paths: Sequence[Path]) -> None:
        self._call("log artifacts", lambda: self.inner.log_artifacts([p for p in paths if Path(p).is_file()]))

    def register_prompt(self, name: str, template: str | list[dict[str, str]], tags: Mapping[str, str]) -> str | None:
        return self._call("register prompt", lambda: self.inner.register_prompt(name, template, tags))

    def end(self, status: str = "FINISHED") -> None:
        self._call("end", lambda: self.inner.end(status))


TRACKERS: Registry[Callable[["TrackingConfig"], Tracker]] = Registry("tracker")
TRACKERS.add("none", lambda config: NullTracker())
TRACKERS.add("mlflow", "apeopt.tracking.mlflow_tracker:open_mlflow")
TRACKING_KEYS = ("kind", "uri", "experiment")
NEEDS = {"mlflow": ("mlflow", "pip install 'apeopt[mlflow]' (or mlflow-skinny)")}  # tracker -> (module, install hint)


@dataclass(frozen=True)
class TrackingConfig:
    """Where runs are tracked: ``kind`` (none | mlflow), the tracking ``uri`` (None: the tracker's own
    default, for MLflow ``MLFLOW_TRACKING_URI``) and the ``experiment`` name."""

    kind: str = "none"
    uri: str | None = None
    experiment: str = "apeopt"

    def __post_init__(self) -> None:
        if self.kind not in TRACKERS:
            raise UserError(f"tracking: {TRACKERS.unknown_message(self.kind)}")
        if self.uri is not None and (not isinstance(self.uri, str) or not self.uri.strip()):
            raise UserError(f"tracking field 'uri' must be a non-empty string, got {self.uri!r}")
        if not isinstance(self.experiment, str) or not self.experiment.strip():
            raise UserError(f"tracking field 'experiment' must be a non-empty string, got {self.experiment!r}")
        if self.kind in NEEDS:
            import importlib.util

            module, hint = NEEDS[self.kind]
            if importlib.util.find_spec(module) is None:
                raise UserError(f"tracking with {self.kind} needs the {module!r} package: {hint}")

    @property
    def enabled(self) -> bool:
        return self.kind != "none"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "uri": None if self.uri is None else scrub(self.uri), "experiment": self.experiment}

    @classmethod
    def from_value(cls, value: Any, where: str = "tracking") -> "TrackingConfig":
        """From a plan's ``tracking:`` value: a tracker name (``mlflow``) or a mapping of kind/uri/experiment."""
        if value is None:
            return cls()
        if isinstance(value, str):
            return cls(kind=value)
        if not isinstance(value, Mapping):
            raise UserError(f"{where}: expected a tracker name or a mapping with kind/uri/experiment, got {value!r}")
        for key in value:
            if key not in TRACKING_KEYS:
                from apeopt.registry import unknown

                raise UserError(unknown("key", key, TRACKING_KEYS, where))
        return cls(**dict(value))


def open_tracker(config: TrackingConfig, report: Callable[[str], None] | None = None) -> SafeTracker:
    """The configured tracker behind a :class:`SafeTracker` (opening it may fail: reported, then none).
    A tracker whose package is missing is a user error (the one-line ``pip install`` hint)."""
    factory = TRACKERS.get(config.kind)
    label = f"{config.kind} tracking"
    try:
        inner = factory(config)
    except UserError:
        raise
    except Exception as exc:
        safe = SafeTracker(NullTracker(), label, report)
        safe.fail("open", exc)
        return safe
    return SafeTracker(inner, label, report)
