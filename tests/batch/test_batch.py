"""Batches: plan parsing, one-line errors, and a 2-worker plan killed with SIGKILL mid-way then resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apeopt.batch.plan import load_plan
from apeopt.errors import UserError


def write_task(folder: Path) -> Path:
    rows = [{"input": f"w{i}", "target": f"w{i}s"} for i in range(80)]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = folder / "toy.yaml"
    task.write_text(
        "name: toy\ninstruction: Write the plural.\nmax_tokens: 4\n"
        "source: {type: jsonl, path: data.jsonl}\nsplits: {train: 40, dev: 20, test: 20}\n"
    )
    return task


def write_plan(folder: Path, model_dir: Path) -> Path:
    write_task(folder)
    plan = folder / "plan.yaml"
    plan.write_text(
        f"defaults: {{model: 'hf:{model_dir}', space: fewshot, rounds: 2, subsamples: 1, per_subsample: 2, "
        "minibatch: 5, budget_minutes: 20, few_shot_k: 2}\n"
        "matrix: {task: [toy.yaml], seed: [0, 1]}\n"
        "jobs:\n  - {task: toy.yaml, seed: 2, space: instruction}\n  - {task: toy.yaml, seed: 3}\n"
    )
    return plan


def test_plan_expands_matrix_and_jobs(tmp_path, tiny_model_dir):
    plan = load_plan(write_plan(tmp_path, tiny_model_dir))
    assert len(plan.jobs) == 4 and len({j.key for j in plan.jobs}) == 4
    assert all(Path(j.params["task"]).is_absolute() for j in plan.jobs)
    assert load_plan(tmp_path / "plan.yaml").jobs == plan.jobs  # stable keys


@pytest.mark.parametrize(
    "text,match",
    [
        ("defaults: {space: fewshot}\nmatrx: {task: [plural]}\n", "unknown key 'matrx'.*did you mean 'matrix'"),
        ("jobs:\n  - {task: plural, sede: 1}\n", r"jobs\[0\]: unknown key 'sede'.*did you mean 'seed'"),
        ("jobs:\n  - {kind: optimise, task: plural}\n", "unknown job kind 'optimise'.*did you mean 'optimize'"),
        ("matrix: {task: plural}\n", "matrix.task must be a non-empty list"),
        ("jobs: [\n", "plan.yaml:2: invalid YAML"),
        ("defaults: {space: fewshot}\n", "the plan has no jobs"),
    ],
)
def test_bad_plans(tmp_path, text, match):
    p = tmp_path / "plan.yaml"
    p.write_text(text)
    with pytest.raises(UserError, match=match):
        load_plan(p)


def cli(*args: str, cwd: Path, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    env = {**os.environ, "APEOPT_CACHE_DIR": str(cwd / "cache"), "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "apeopt.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, **kw)


def test_unknown_task_and_bad_storage_are_one_line_errors(tmp_path):
    (tmp_path / "plan.yaml").write_text("jobs:\n  - {task: plurl}\n")
    r = cli("batch", "plan.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "plurl" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "plan.yaml").write_text("jobs:\n  - {task: plural}\n")
    r = cli("batch", "plan.yaml", "--storage", "postgresql://nobody@127.0.0.1:1/none", cwd=tmp_path)
    assert r.returncode == 2 and "cannot open storage" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def evaluations(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "evaluations.jsonl").read_text().splitlines() if line.strip()]


def test_sigkill_every_worker_then_resume(tmp_path, tiny_model_dir):
    write_plan(tmp_path, tiny_model_dir)
    env = {**os.environ, "APEOPT_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "apeopt.cli", "batch", "plan.yaml", "--workers", "2", "--heartbeat", "1"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    batch = tmp_path / "runs" / "batch-plan"
    deadline = time.time() + 240
    while time.time() < deadline:  # wait until two jobs are mid-way
        logs = list(batch.glob("*/evaluations.jsonl"))
        if len(logs) >= 2 and all(len(p.read_text().splitlines()) >= 3 for p in logs[:2]):
            break
        time.sleep(0.2)
    else:
        pytest.fail("workers never got going")
    os.killpg(proc.pid, signal.SIGKILL)  # parent and both workers, mid-job
    proc.wait()
    killed = {p.parent.name: len(evaluations(p.parent)) for p in batch.glob("*/evaluations.jsonl")}
    assert killed and not all((batch / k / "summary.json").is_file() for k in killed)

    r = subprocess.run(cmd + ["--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    states = json.loads(r.stdout)
    assert [s["state"] for s in states] == ["done"] * 4, states
    for s in states:
        run_dir = Path(s["run_dir"])
        evals = evaluations(run_dir)
        keys = [(e["trial"], e["step"]) for e in evals]
        assert len(keys) == len(set(keys)), f"duplicated evaluations in {run_dir.name}"
        if run_dir.name in killed:  # resumed from its log, not from scratch
            assert len(evals) >= killed[run_dir.name]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["status"] == "complete" and summary["trials"] == len({e["trial"] for e in evals})
    status = cli("batch", "status", "plan.yaml", cwd=tmp_path)
    assert status.returncode == 0 and "4 done" in status.stdout


STORAGES = ["sqlite"] + (["postgresql"] if os.environ.get("APEOPT_TEST_POSTGRES_URL") else [])


@pytest.mark.parametrize("backend", STORAGES)
def test_two_workers_share_one_storage(tmp_path, tiny_model_dir, backend):
    """Two worker processes claim jobs from one storage; each job runs exactly once."""
    plan = write_plan(tmp_path, tiny_model_dir)
    plan.write_text(plan.read_text().replace("rounds: 2", "rounds: 1") + f"name: two-{tmp_path.name}\n")
    storage = os.environ["APEOPT_TEST_POSTGRES_URL"] if backend == "postgresql" else f"sqlite:///{tmp_path}/b.db"
    r = cli("batch", "plan.yaml", "--workers", "2", "--heartbeat", "2", "--storage", storage, "--json", cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    states = json.loads(r.stdout)
    assert [s["state"] for s in states] == ["done"] * 4, r.stderr[-3000:]
    for s in states:  # each job's evaluations recorded exactly once, even if a worker had to take a job over
        keys = [(e["trial"], e["step"]) for e in evaluations(Path(s["run_dir"]))]
        assert keys and len(keys) == len(set(keys))
    workers = {line.split("]")[0] for line in r.stderr.splitlines() if line.startswith("[worker") and "running" in line}
    assert len(workers) == 2  # both workers took jobs
    again = cli("batch", "plan.yaml", "--storage", storage, "--json", cwd=tmp_path, timeout=120)  # nothing left to do
    assert again.returncode == 0 and [s["attempts"] for s in json.loads(again.stdout)] == [s["attempts"] for s in states]


def test_compare_job_runs_in_a_batch(tmp_path, tiny_model_dir, monkeypatch):
    from apeopt.commands.batch import run_batch

    write_task(tmp_path)
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"jobs:\n  - {{kind: compare, task: toy.yaml, model: 'hf:{tiny_model_dir}', quick: true, methods: 'human,k-shot-1'}}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    states = run_batch(plan, workers=1, heartbeat=2)
    assert [s.state for s in states] == ["done"], [s.attrs for s in states]
    run_dir = Path(states[0].attrs["run_dir"])
    rows = json.loads((run_dir / "comparison.json").read_text())
    rows = rows["rows"] if isinstance(rows, dict) else rows
    assert {r["method"] for r in rows} == {"human", "k-shot-1"}
