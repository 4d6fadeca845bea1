"""Plan files: a matrix and/or an explicit list of jobs, with defaults.

    defaults: {model: smollm2-135m, space: instruction, budget_minutes: 10}
    matrix: {task: [plural, sentiment], seed: [0, 1, 2]}   # expands to optimize jobs
    jobs:                                                  # explicit jobs, same keys as the CLI options
      - {kind: compare, task: plural, quick: true}        # keys of `apeopt compare` (methods: [human, lora])
      - {kind: optimize, task: ./my_task.yaml, model: "gguf:/models/x.gguf"}
    budget: {hours: 8, calls: 200000, tokens: 50000000}   # optional, for the whole plan
    tracking: {kind: mlflow, uri: "sqlite:///mlflow.db"}    # optional: a parent run, a child per job
    retries: 2                                             # optional, per job

Keys of a job are the ``apeopt optimize`` option names with underscores (``budget_minutes``,
``proposer_model``, ...); task paths are relative to the plan file.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from apeopt.baselines.config import CompareConfig
from apeopt.errors import UserError
from apeopt.registry import unknown
from apeopt.yaml_files import read_yaml
from apeopt.optimizer.config import OptimizeConfig
from apeopt.tracking.base import TrackingConfig

KINDS = ("optimize", "compare")
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")
TOP_KEYS = ("defaults", "matrix", "jobs", "budget", "retries", "name", "tracking")
BUDGET_KEYS = ("hours", "calls", "tokens")
OPTIMIZE_KEYS = tuple(f.name for f in fields(OptimizeConfig))
COMPARE_KEYS = tuple(f.name for f in fields(CompareConfig) if f.name != "method_options")


@dataclass(frozen=True)
class Job:
    kind: str
    params: Mapping[str, Any]

    @property
    def key(self) -> str:
        """A stable id: the same job in a re-read plan gets the same key (so it is never run twice)."""
        blob = json.dumps({"kind": self.kind, **self.params}, sort_keys=True, default=str)
        task = Path(str(self.params.get("task", "job"))).stem
        return f"{self.kind}-{task}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"

    def label(self) -> str:
        shown = {k: v for k, v in self.params.items() if k in ("task", "model", "space", "seed", "methods")}
        return f"{self.kind} " + " ".join(f"{k}={v}" for k, v in shown.items())


@dataclass(frozen=True)
class Plan:
    name: str
    path: Path
    jobs: tuple[Job, ...]
    budget: Mapping[str, float] = field(default_factory=dict)
    retries: int = 2
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


def _check_keys(where: str, data: Mapping[str, Any], valid: tuple[str, ...]) -> None:
    for key in data:
        if key not in valid:
            raise UserError(unknown("key", key, valid, where))


def _job(where: str, kind: str, params: dict[str, Any], base: Path) -> Job:
    if kind not in KINDS:
        raise UserError(unknown("job kind", kind, KINDS, where))
    valid = OPTIMIZE_KEYS if kind == "optimize" else COMPARE_KEYS
    _check_keys(where, params, valid)
    if "task" not in params:
        raise UserError(f"{where}: a job needs a 'task'")
    task = str(params["task"])
    if task.endswith((".yaml", ".yml")) and not Path(task).is_absolute():
        params["task"] = str((base / task).resolve())
    if kind == "compare" and isinstance(params.get("methods"), str):
        params["methods"] = [m.strip() for m in params["methods"].split(",") if m.strip()]
    try:
        compare_config(params) if kind == "compare" else OptimizeConfig.from_dict(params, where=where)
    except TypeError as exc:
        raise UserError(f"{where}: {exc}") from None
    except UserError as exc:
        msg = str(exc)
        raise UserError(msg if msg.startswith(where) else f"{where}: {msg}") from None
    return Job(kind, params)


def compare_config(params: Mapping[str, Any]) -> CompareConfig:
    kw = dict(params)
    if kw.get("methods") is not None:
        kw["methods"] = tuple(kw["methods"])
    return CompareConfig(**kw)


def load_plan(path: str | Path) -> Plan:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"plan file {str(p)!r} does not exist")
    data = read_yaml(p) or {}
    if not isinstance(data, Mapping):
        raise UserError(f"{p}: a plan must be a mapping with defaults/matrix/jobs")
    _check_keys(str(p), data, TOP_KEYS)
    defaults = data.get("defaults") or {}
    matrix = data.get("matrix") or {}
    explicit = data.get("jobs") or []
    if not isinstance(defaults, Mapping) or not isinstance(matrix, Mapping) or not isinstance(explicit, list):
        raise UserError(f"{p}: 'defaults' and 'matrix' must be mappings and 'jobs' a list")
    jobs: list[Job] = []
    if matrix:
        for key, values in matrix.items():
            if not isinstance(values, list) or not values:
                raise UserError(f"{p}: matrix.{key} must be a non-empty list, got {values!r}")
        keys = list(matrix)
        for combo in itertools.product(*(matrix[k] for k in keys)):
            params = {**defaults, **dict(zip(keys, combo))}
            kind = str(params.pop("kind", "optimize"))
            jobs.append(_job(f"{p}: matrix {dict(zip(keys, combo))}", kind, params, p.parent))
    for i, spec in enumerate(explicit):
        if not isinstance(spec, Mapping):
            raise UserError(f"{p}: jobs[{i}] must be a mapping, got {spec!r}")
        params = {
            **{
                k: v
                for k, v in defaults.items()
                if k in (OPTIMIZE_KEYS if spec.get("kind", "optimize") == "optimize" else COMPARE_KEYS)
            },
            **spec,
        }
        kind = str(params.pop("kind", "optimize"))
        jobs.append(_job(f"{p}: jobs[{i}]", kind, params, p.parent))
    if not jobs:
        raise UserError(f"{p}: the plan has no jobs (give a 'matrix' or 'jobs')")
    keys = [j.key for j in jobs]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise UserError(f"{p}: the plan lists the same job twice ({dup})")
    budget = data.get("budget") or {}
    if not isinstance(budget, Mapping):
        raise UserError(f"{p}: 'budget' must be a mapping with hours/calls/tokens")
    _check_keys(f"{p}: budget", budget, BUDGET_KEYS)
    for key, value in budget.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise UserError(f"{p}: budget.{key} must be a finite number > 0, got {value!r}")
    retries = data.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise UserError(f"{p}: 'retries' must be an integer >= 0, got {retries!r}")
    tracking = TrackingConfig.from_value(data.get("tracking"), where=f"{p}: tracking")
    return Plan(_plan_name(data.get("name"), p), p.resolve(), tuple(jobs), dict(budget), retries, tracking)


def _plan_name(raw: Any, p: Path) -> str:
    """The plan's name, the last part of its folder ``runs/batch-<name>``: letters, digits, ``._-`` only,
    so that a name like ``../../x`` cannot write outside ``runs/``."""
    if raw is None or raw == "":
        return re.sub(r"[^A-Za-z0-9._-]", "-", p.stem).lstrip(".") or "plan"
    name = raw
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserError(f"{p}: 'name' must be letters, digits, '.', '_' or '-' (not starting with '.'), got {name!r}")
    return name


def validate_tasks(plan: Plan) -> None:
    """Every task a job names must load (before any worker starts)."""
    from apeopt.services.preflight import probe_scorer
    from apeopt.tasks import load_task

    for task in sorted({str(j.params["task"]) for j in plan.jobs}):
        probe_scorer(load_task(task))  # an unknown or raising scorer too, before any worker starts
