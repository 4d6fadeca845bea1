"""MLflow tracking: a run's params, step metrics, final scores and artifacts read back with MLflow's
client from a local SQLite store; a batch plan as one parent run with a child per job; failures of
the tracker reported once and never fatal; no secret in what is logged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from fakes import FakeBackend  # noqa: E402
from toy import toy_task  # noqa: E402

from apeopt.models.metered import MeteredBackend  # noqa: E402
from apeopt.optimizer.config import OptimizeConfig  # noqa: E402
from apeopt.optimizer.progress import View  # noqa: E402
from apeopt.runs import RunStore  # noqa: E402
from apeopt.search_spaces import load_space  # noqa: E402
from apeopt.tracking import SafeTracker, TrackingConfig, scrub  # noqa: E402
from apeopt.tracking.base import NullTracker  # noqa: E402
from apeopt.tracking.runs import prompt_name, tracked_optimize  # noqa: E402


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite MLflow store for the module (creating its tables takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def client(uri: str):  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment(uri: str, name: str, folder: Path) -> str:
    """Create the experiment with its artifacts under ``folder`` (MLflow's default is ./mlruns in the cwd)."""
    return str(client(uri).create_experiment(name, artifact_location=str(folder / "artifacts")))


def tracked_toy(tmp: Path, tracking: TrackingConfig, **cfg: object):  # type: ignore[no-untyped-def]
    backend = MeteredBackend(FakeBackend(lambda x: x + "s"))
    config = OptimizeConfig(task="toy", space="fewshot", **{"budget_minutes": None, "rounds": 1, **cfg})  # type: ignore[arg-type]
    store = RunStore.create(tmp, tmp.parent, "x")
    return tracked_optimize(config, toy_task(), load_space("fewshot"), backend, backend, store, View(), tracking), store


def test_a_tracked_run_reads_back_from_mlflow(tmp_path, store_uri):
    experiment(store_uri, "toy-exp", tmp_path)
    summary, store = tracked_toy(tmp_path / "run", TrackingConfig("mlflow", store_uri, "toy-exp"),
                                 proposer_model="openai:m@http://bob:hunter2@localhost:9/v1", price_per_mtok=0.5)
    c = client(store_uri)
    exp = c.get_experiment_by_name("toy-exp")
    runs = c.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.info.run_name == store.root.name
    p = run.data.params
    assert p["task"] == "toy" and p["space"] == "fewshot" and p["rounds"] == "1" and p["prefer"] == "best"
    assert p["space_name"] == "fewshot" and p["price_per_mtok"] == "0.5"
    assert p["proposer_model"] == "openai:m@http://bob:***@localhost:9/v1"  # never a password
    assert not [k for k, v in p.items() if "hunter2" in v]
    # metrics per scored step: calls and tokens grow, the best dev score so far is there
    steps = c.get_metric_history(run.info.run_id, "lm_calls")
    assert len(steps) == len(store.evaluations()) and [m.step for m in steps] == list(range(1, len(steps) + 1))
    assert [m.value for m in steps] == sorted(m.value for m in steps)
    best = c.get_metric_history(run.info.run_id, "best_dev")
    assert best and best[-1].value == summary.winner.dev_selection.score
    # the final table
    m = run.data.metrics
    assert m["winner_test"] == summary.winner.scores["test"].score and m["winner_test_n"] == 100
    assert m["human_test"] == summary.human.scores["test"].score
    assert m["winner_test_ci_lo"] == summary.winner.scores["test"].ci[0]
    assert m["winner_tokens_per_1000_calls"] == summary.cost.per_1000_calls
    assert m["winner_money_per_1000_calls"] == pytest.approx(summary.cost.per_1000_calls * 0.5 / 1e6)
    # artifacts: the prompt file, the leaderboard, the report, the final table
    names = {a.path for a in c.list_artifacts(run.info.run_id)}
    assert {"best_prompt.json", "leaderboard.json", "summary.json", "report.html", "final_table.json"} <= names
    local = Path(c.download_artifacts(run.info.run_id, "best_prompt.json", str(tmp_path / "dl")))
    assert json.loads(local.read_text())["prompt"]["instruction"] == summary.winner.prompt.instruction
    table = json.loads(Path(c.download_artifacts(run.info.run_id, "final_table.json", str(tmp_path / "dl"))).read_text())
    assert [r["method"] for r in table["rows"]][:2] == ["winner", "human"]
    # the best prompt in the prompt registry
    uri = run.data.tags["apeopt.prompt_uri"]
    assert uri.startswith(f"prompts:/{prompt_name('toy')}/")
    registered = c.load_prompt(uri)
    assert summary.winner.prompt.instruction in registered.template and "{{input}}" in registered.template


def test_a_failing_tracking_server_is_reported_once_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    summary, store = tracked_toy(tmp_path / "run", TrackingConfig("mlflow", "http://alice:s3cret@127.0.0.1:9", "x"))
    assert summary.complete and store.path("best_prompt.json").is_file()
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "mlflow tracking failed" in line]
    assert len(warnings) == 1 and "the run goes on" in warnings[0]
    assert "s3cret" not in err


class Broken(NullTracker):
    def __init__(self) -> None:
        self.calls = 0

    def log_metrics(self, metrics, step=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        raise ConnectionError("server at https://user:pw@host said no; api_key=abc123def")


def test_safe_tracker_reports_the_first_failure_once_and_scrubs_it():
    lines: list[str] = []
    inner = Broken()
    safe = SafeTracker(inner, "mlflow tracking", lines.append)
    for step in range(3):
        safe.log_metrics({"x": 1.0}, step)
    assert inner.calls == 1 and len(lines) == 1
    assert "pw@" not in lines[0] and "abc123def" not in lines[0] and "user:***@host" in lines[0]


def test_scrub():
    assert scrub("http://u:p@h:1/x") == "http://u:***@h:1/x"
    assert scrub("Authorization: Bearer abcdefghijkl") == "Authorization: ***"
    assert scrub("key sk-abcdefghijklmnop1234") == "key ***"
    assert scrub("plain text, no secret") == "plain text, no secret"


def test_tracking_config_errors():
    from apeopt.errors import UserError

    with pytest.raises(UserError, match="unknown tracker 'wandb'"):
        TrackingConfig("wandb")
    with pytest.raises(UserError, match="unknown key 'url'.*did you mean 'uri'"):
        TrackingConfig.from_value({"kind": "mlflow", "url": "x"})
    assert TrackingConfig.from_value("mlflow").kind == "mlflow" and not TrackingConfig().enabled


def test_a_batch_plan_is_one_parent_run_with_a_child_per_job(tmp_path, tiny_model_dir, monkeypatch, store_uri):
    from apeopt.commands.batch import run_batch

    rows = [{"input": f"w{i}", "target": f"w{i}s"} for i in range(60)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "toy.yaml").write_text("name: toy\ninstruction: Write the plural.\nmax_tokens: 4\n"
                                       "source: {type: jsonl, path: data.jsonl}\nsplits: {train: 30, dev: 10, test: 10}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"name: tracked\ntracking: {{kind: mlflow, uri: '{store_uri}', experiment: batch-exp}}\n"
        f"defaults: {{model: 'hf:{tiny_model_dir}', space: fewshot, rounds: 1, subsamples: 1, per_subsample: 1, "
        "minibatch: 5, budget_calls: 40, budget_minutes: null, few_shot_k: 1}\n"
        "matrix: {task: [toy.yaml], seed: [0, 1]}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    experiment(store_uri, "batch-exp", tmp_path)
    states = run_batch(plan, workers=1, heartbeat=2)
    assert [s.state for s in states] == ["done", "done"], [s.attrs for s in states]
    c = client(store_uri)
    exp = c.get_experiment_by_name("batch-exp")
    runs = c.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.run_name == "batch-tracked" and parents[0].info.status == "FINISHED"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(children) == 2 == len(runs) - 1
    assert sorted(r.data.params["seed"] for r in children) == ["0", "1"]
    assert all("winner_test" in r.data.metrics for r in children)
    assert parents[0].data.metrics["jobs_done"] == 2
    again = run_batch(plan, workers=1, heartbeat=2)  # a rerun (nothing left to do) reuses the parent run
    assert [s.state for s in again] == ["done", "done"]
    assert len([r for r in c.search_runs([exp.experiment_id]) if "mlflow.parentRunId" not in r.data.tags]) == 1


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``mlflow server`` on a free loopback port (SQLite store, proxied artifacts); stopped afterwards."""
    pytest.importorskip("flask_cors", reason="the tracking server needs flask and flask-cors (the dev extra)")
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    folder = tmp_path_factory.mktemp("mlflow-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'server.db'}", "--artifacts-destination", str(folder / "artifacts")],
        stdout=open(folder / "server.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=3) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start: {(folder / 'server.log').read_text()[-2000:]}")
            time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its uvicorn worker (our own process group)
        proc.wait(timeout=30)


def test_a_run_tracked_on_a_loopback_tracking_server(tmp_path, tracking_server):
    summary, store = tracked_toy(tmp_path / "run", TrackingConfig("mlflow", tracking_server, "server-exp"))
    c = client(tracking_server)
    runs = c.search_runs([c.get_experiment_by_name("server-exp").experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    run = runs[0]
    assert run.data.params["task"] == "toy" and run.data.metrics["winner_test"] == summary.winner.scores["test"].score
    assert len(c.get_metric_history(run.info.run_id, "tokens")) == len(store.evaluations())
    assert {"best_prompt.json", "leaderboard.json", "report.html"} <= {a.path for a in c.list_artifacts(run.info.run_id)}
    assert c.load_prompt(run.data.tags["apeopt.prompt_uri"]).template.startswith(summary.winner.prompt.instruction)
