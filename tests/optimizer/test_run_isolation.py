"""Runs never touch each other's state: unique study names on one storage, resume deletes only its own
study, one process per run folder, replayed scores must belong to the same candidate text; and storage
passwords are never written or shown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from cli_helpers import assert_user_error, run_cli
from fakes import FakeBackend

import apeopt.models
from apeopt.runs.lock import LOCK_FILE, RunLock
from apeopt.runs.studies import STUDY_FILE

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--task", "plural", "--rounds", "1", "--subsamples", "1", "--per-subsample", "2", "--dev-limit", "20",
         "--few-shot-k", "2", "--no-cache", "--budget-minutes", "5"]


class SigintFake(FakeBackend):
    """Pluralizes when the prompt says "plural"; sends itself SIGINT once ``at`` calls are spent."""

    def __init__(self, at: int | None = None) -> None:
        super().__init__(lambda x: x + "s")
        self.at, self.sent = at, False

    def generate(self, requests):  # type: ignore[no-untyped-def]
        if self.at is not None and not self.sent and self.usage.calls >= self.at:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)
        return super().generate(requests)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, bool]:
    """``--model fake-sigint`` interrupts itself after 75 calls while ``state["interrupt"]`` (new runs);
    set it False before resuming."""
    real = apeopt.models.load_backend
    state = {"interrupt": True}

    def load(spec: str, device: str = "auto", **kw: Any) -> Any:
        if spec.startswith("fake"):
            return SigintFake(75 if spec == "fake-sigint" and state["interrupt"] else None)
        return real(spec, device=device, **kw)

    monkeypatch.setattr(apeopt.models, "load_backend", load)
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return state


def studies(url: str) -> set[str]:
    return {s.study_name for s in optuna.get_all_study_summaries(storage=url)}


def test_two_runs_with_the_same_folder_name_on_one_storage(monkeypatch, capsys, tmp_path, fake):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    runs = [tmp_path / "runs" / "a" / "r1", tmp_path / "runs" / "b" / "r1"]
    for run in runs:
        run.parent.mkdir(parents=True)
        code, _, err = run_cli(monkeypatch, capsys, "optimize", *SMALL, "--model", "fake-sigint", "--storage", url,
                               "--run-dir", str(run))
        assert code == 130, err  # both interrupted mid-search (Ctrl-C), both with their own study
    names = [json.loads((run / STUDY_FILE).read_text())["study"] for run in runs]
    assert names[0] != names[1] and all(n.startswith("r1-") for n in names)
    assert studies(url) == set(names)
    config = json.loads((runs[0] / "config.json").read_text())
    assert config["optimize"]["storage"] == url and Path(config["optimize"]["task"]) == Path("plural")

    summaries = []
    fake["interrupt"] = False
    for run in reversed(runs):  # b first: its resume must not delete a's study
        code, out, err = run_cli(monkeypatch, capsys, "optimize", "--resume", str(run), "--json")
        assert code == 0, err
        summaries.append(json.loads(out))
        assert studies(url) == set(names)
    assert all(s["status"] == "complete" for s in summaries)
    for run, name in zip(runs, names):
        assert json.loads((run / STUDY_FILE).read_text())["study"] == name and not (run / LOCK_FILE).exists()
        code, _, err = run_cli(monkeypatch, capsys, "optimize", "--resume", str(run))  # resuming a finished run
        assert code == 0, err


def test_a_run_made_before_study_names_were_stored_resumes(monkeypatch, capsys, tmp_path, fake):
    run = tmp_path / "old"
    code, _, err = run_cli(monkeypatch, capsys, "optimize", *SMALL, "--model", "fake-sigint", "--run-dir", str(run))
    assert code == 130, err
    fake["interrupt"] = False
    (run / STUDY_FILE).unlink()  # as an older apeopt left it; its study is then named after the folder
    code, _, err = run_cli(monkeypatch, capsys, "optimize", "--resume", str(run), "--json")
    assert code == 0, err


def hold_lock(run: Path) -> subprocess.Popen[bytes]:
    """Another process owning ``run`` (as a second `apeopt optimize --resume` would)."""
    code = f"import time; from apeopt.runs.lock import RunLock; lock = RunLock({str(run)!r}).acquire(); print('held', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"held"
    return proc


def test_a_concurrent_second_resume_is_refused_and_a_dead_owners_lock_is_taken_over(monkeypatch, capsys, tmp_path, fake):
    run = tmp_path / "r"
    code, _, err = run_cli(monkeypatch, capsys, "optimize", *SMALL, "--model", "fake-sigint", "--run-dir", str(run))
    assert code == 130, err
    fake["interrupt"] = False
    log = (run / "evaluations.jsonl").read_text()
    owner = hold_lock(run)
    try:
        result = run_cli(monkeypatch, capsys, "optimize", "--resume", str(run))
        assert_user_error(result, "is in use by process", str(owner.pid))
        assert (run / "evaluations.jsonl").read_text() == log  # the refused resume changed nothing
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert (run / LOCK_FILE).exists()  # left behind by the killed owner: stale, taken over
    code, _, err = run_cli(monkeypatch, capsys, "optimize", "--resume", str(run), "--json")
    assert code == 0, err
    assert not (run / LOCK_FILE).exists()


def test_a_lock_with_a_dead_pid_is_stale(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": 999_999_999, "host": "x"}))
    with RunLock(tmp_path):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
        with pytest.raises(Exception, match="in use by process"):
            RunLock(tmp_path).acquire()
    assert not (tmp_path / LOCK_FILE).exists()


def test_resume_refuses_a_logged_score_of_another_candidate(monkeypatch, capsys, tmp_path, fake):
    run = tmp_path / "r"
    code, _, err = run_cli(monkeypatch, capsys, "optimize", *SMALL, "--model", "fake-sigint", "--run-dir", str(run))
    assert code == 130, err
    fake["interrupt"] = False
    rows = [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()]
    rows[0]["instruction"] = "a different prompt that this search never proposed"
    (run / "evaluations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert_user_error(run_cli(monkeypatch, capsys, "optimize", "--resume", str(run), "--json"), "cannot resume",
                      "does not belong to this run")


def test_resume_reports_a_damaged_log_line(monkeypatch, capsys, tmp_path, fake):
    run = tmp_path / "r"
    code, _, err = run_cli(monkeypatch, capsys, "optimize", *SMALL, "--model", "fake-sigint", "--run-dir", str(run))
    assert code == 130, err
    fake["interrupt"] = False
    lines = (run / "evaluations.jsonl").read_text().splitlines()
    assert len(lines) >= 3
    lines[1] = lines[1][:20]  # damage in the middle: not a torn last line
    (run / "evaluations.jsonl").write_text("\n".join(lines) + "\n")
    assert_user_error(run_cli(monkeypatch, capsys, "optimize", "--resume", str(run), "--json"), "evaluations.jsonl", "line 2")
    lines[1] = lines[2]  # repaired (here: a copy of a good line; its slice is then scored again) ...
    (run / "evaluations.jsonl").write_text("\n".join(lines[:-1] + [lines[-1][:15]]) + "\n")  # ... and a torn last line
    code, _, err = run_cli(monkeypatch, capsys, "optimize", "--resume", str(run), "--json")
    assert code == 0, err


# ---------------------------------------------------------------- secrets
PASSWORD = "pw-0a1b2c3d-do-not-store"


def test_a_storage_password_is_never_written_or_shown(monkeypatch, capsys, tmp_path, fake):
    url = f"postgresql://apeopt:{PASSWORD}@127.0.0.1:1/apeopt"  # nothing listens on port 1
    code, out, err = run_cli(monkeypatch, capsys, "optimize", *SMALL, "--model", "fake", "--storage", url)
    assert code == 2 and "Traceback" not in err and PASSWORD not in out + err
    assert "postgresql://apeopt:***@127.0.0.1:1/apeopt" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing written


def test_config_masks_the_password_and_resume_takes_it_from_the_environment(monkeypatch, tmp_path):
    from apeopt.errors import UserError
    from apeopt.runs import RunStore
    from apeopt.secrets import STORAGE_ENV, unmask_storage

    url = f"postgresql://apeopt:{PASSWORD}@db.example/apeopt"
    store = RunStore(tmp_path)
    store.write_config({"optimize": {"storage": url, "task": "plural"}})
    text = (tmp_path / "config.json").read_text()
    assert PASSWORD not in text
    stored = json.loads(text)["optimize"]["storage"]
    assert stored == "postgresql://apeopt:***@db.example/apeopt"
    monkeypatch.delenv(STORAGE_ENV, raising=False)
    with pytest.raises(UserError, match=STORAGE_ENV) as err:
        unmask_storage(stored, "config.json")
    assert PASSWORD not in str(err.value)
    monkeypatch.setenv(STORAGE_ENV, "postgresql://apeopt:other@elsewhere/x")
    with pytest.raises(UserError, match="not the run's storage"):
        unmask_storage(stored, "config.json")
    monkeypatch.setenv(STORAGE_ENV, url)
    assert unmask_storage(stored, "config.json") == url


def test_batch_workers_get_the_storage_through_the_environment(monkeypatch, capsys, tmp_path):
    """The worker command line (visible in `ps`) never holds the storage URL; errors mask the password."""
    import subprocess as sp

    from apeopt.commands import batch as b
    from apeopt.secrets import STORAGE_ENV

    monkeypatch.chdir(tmp_path)
    plan = tmp_path / "plan.yaml"
    plan.write_text("matrix: {task: [plural], seed: [0]}\ndefaults: {model: fake, budget_calls: 5}\n")
    url = f"sqlite:///{tmp_path / 'b.db'}"
    seen: list[tuple[list[str], dict[str, str]]] = []

    class NoProc:
        def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
            seen.append((cmd, env))

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(sp, "Popen", NoProc)
    b.run_batch(plan, workers=2, storage=url)
    assert len(seen) == 2 and all(url not in " ".join(cmd) and env[STORAGE_ENV] == url for cmd, env in seen)
    bad = f"postgresql://u:{PASSWORD}@127.0.0.1:1/db"
    code, out, err = run_cli(monkeypatch, capsys, "batch", "status", str(plan), "--storage", bad)
    assert code == 2 and PASSWORD not in out + err and "***" in err
