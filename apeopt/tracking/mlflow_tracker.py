"""MLflow tracking (``pip install apeopt[mlflow]``, which installs ``mlflow-skinny``): one MLflow run
per apeopt run, through an explicit ``MlflowClient`` (no global active run), so a batch's parent
run and its jobs' child runs can be written from different processes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from apeopt.errors import UserError
from apeopt.tracking.base import Tracker, TrackingConfig

PARAM_CHARS = 6000  # MLflow's limit on a param value


def open_mlflow(config: TrackingConfig) -> "MlflowTracker":
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise UserError("--track mlflow needs MLflow: pip install 'apeopt[mlflow]' (or mlflow-skinny)") from None
    client = MlflowClient(tracking_uri=config.uri, registry_uri=config.uri)
    return MlflowTracker(client, config.experiment)


class MlflowTracker(Tracker):
    """Logs to one MLflow run of ``experiment`` (created when missing)."""

    def __init__(self, client: Any, experiment: str) -> None:
        self.client = client
        self.experiment = experiment
        self.run_id: str | None = None

    def _experiment_id(self) -> str:
        exp = self.client.get_experiment_by_name(self.experiment)
        if exp is not None:
            return str(exp.experiment_id)
        try:
            return str(self.client.create_experiment(self.experiment))
        except Exception:  # another process created it meanwhile
            exp = self.client.get_experiment_by_name(self.experiment)
            if exp is None:
                raise
            return str(exp.experiment_id)

    def start(
        self, name: str, params: Mapping[str, Any], tags: Mapping[str, str] | None = None, parent: str | None = None
    ) -> str | None:
        from mlflow.entities import Param

        all_tags = {**(tags or {}), **({"mlflow.parentRunId": parent} if parent else {})}
        run = self.client.create_run(self._experiment_id(), tags=all_tags, run_name=name)
        self.run_id = str(run.info.run_id)
        items = [Param(str(k)[:250], str(v)[:PARAM_CHARS]) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[i : i + 100])
        return self.run_id

    def attach(self, run_id: str) -> None:
        self.run_id = run_id

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, int(step or 0)) for k, v in metrics.items() if v is not None]
        if batch and self.run_id:
            self.client.log_batch(self.run_id, metrics=batch)

    def log_table(self, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if self.run_id:
            self.client.log_dict(self.run_id, {"rows": [dict(r) for r in rows]}, f"{name}.json")

    def log_artifacts(self, paths: Sequence[Path]) -> None:
        for p in paths:
            if self.run_id:
                self.client.log_artifact(self.run_id, str(p))

    def register_prompt(self, name: str, template: str | list[dict[str, str]], tags: Mapping[str, str]) -> str | None:
        version = self.client.register_prompt(
            name=name,
            template=template,
            commit_message=tags.get("commit", ""),
            tags={k: v for k, v in tags.items() if k != "commit"},
        )
        uri = f"prompts:/{name}/{version.version}"
        if self.run_id:
            self.client.set_tag(self.run_id, "apeopt.prompt_uri", uri)
        return uri

    def end(self, status: str = "FINISHED") -> None:
        if self.run_id:
            self.client.set_terminated(self.run_id, status=status)
