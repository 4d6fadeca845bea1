"""`apeopt optimize` / `export` / `eval` through the CLI on a rule-based fake LM: exit codes, the
partial prompt of an interrupted run, self-contained prompt files, export warnings, run folders."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import assert_user_error, run_cli
from fakes import FakeBackend

import apeopt.models

ROWS = "".join(json.dumps({"input": f"w{i}", "target": f"w{i}s"}) + "\n" for i in range(120))
SMALL = ["--rounds", "1", "--subsamples", "1", "--per-subsample", "2", "--dev-limit", "20", "--few-shot-k", "2",
         "--no-cache", "--budget-minutes", "5"]


class SigintFake(FakeBackend):
    """Pluralizes when the prompt says "plural"; sends itself SIGINT (a Ctrl-C) once ``at`` calls are spent."""

    def __init__(self, at: int | None = None) -> None:
        super().__init__(lambda x: x + "s")
        self.at, self.sent, self.prompts = at, False, list[Any]()

    def generate(self, requests):  # type: ignore[no-untyped-def]
        if self.at is not None and not self.sent and self.usage.calls >= self.at:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)
        self.prompts += [r.prompt for r in requests]
        return super().generate(requests)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, SigintFake]:
    """``--model fake`` loads a SigintFake (``--model fake-sigint`` one that interrupts after 75 calls)."""
    made: dict[str, SigintFake] = {}
    real = apeopt.models.load_backend

    def load(spec: str, device: str = "auto", **kw: Any) -> Any:
        if spec.startswith("fake"):
            made["lm"] = SigintFake(75 if spec == "fake-sigint" else None)
            return made["lm"]
        return real(spec, device=device, **kw)

    monkeypatch.setattr(apeopt.models, "load_backend", load)
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    return made


def task_file(folder: Path, name: str = "my_plurals") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rows.jsonl").write_text(ROWS)
    path = folder / "task.yaml"
    path.write_text(f"name: {name}\ninstruction: Write the plural form of the word.\n"
                    "source: {type: jsonl, path: rows.jsonl}\nsplits: {train: 60, dev: 30, test: 30}\n")
    return path


def only_run(runs: Path) -> Path:
    [run] = [p for p in runs.iterdir() if p.is_dir()]
    return run


def test_interrupted_run_exits_130_with_a_partial_prompt_that_exports(monkeypatch, capsys, tmp_path, fake):
    task = task_file(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(monkeypatch, capsys, "optimize", "--task", str(task), "--model", "fake-sigint", *SMALL)
    assert code == 130, err
    assert fake["lm"].sent
    run = only_run(tmp_path / "runs")
    assert "-my_plurals-fewshot-s0" in run.name  # named after the task's name, not task.yaml
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and not (run / "best_prompt.json").exists()
    partial = json.loads((run / "partial_prompt.json").read_text())
    assert partial["partial"] is True and partial["scores"]["dev"]["n"] == 20 and "test" not in partial["scores"]
    closing = [ln for ln in out.splitlines() if ln.startswith("interrupted")]
    assert closing[0].startswith("interrupted (Ctrl-C);") and "interrupted (interrupted" not in out
    assert "partial_prompt.json" in closing[1] and "--resume" in closing[1]
    code, text, err = run_cli(monkeypatch, capsys, "export", str(run), "--format", "json")
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert code == 0 and len(warnings) == 1 and "interrupted run" in warnings[0] and "not scored on test" in warnings[0]
    assert json.loads(text)["partial"] is True and json.loads(text)["prompt"] == partial["prompt"]


def test_finished_run_then_prompt_file_from_anywhere_and_export_warnings(monkeypatch, capsys, tmp_path, fake):
    task = task_file(tmp_path / "data")
    monkeypatch.chdir(tmp_path / "data")
    code, out, err = run_cli(monkeypatch, capsys, "optimize", "--task", "task.yaml", "--model", "fake", *SMALL,
                             "--run-dir", str(tmp_path / "run"))
    assert code == 0, err
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["task_source"] == str(task.resolve())
    progress = err.splitlines()  # no terminal: plain progress lines, no live panel
    assert progress[0].startswith("apeopt optimize my_plurals (fewshot): started") and "╭" not in err
    assert any("] round 0 | scoring incumbents candidates | " in ln and "/5 min | best dev" in ln for ln in progress), err
    assert "done" in progress[-1] and out.startswith("\n")  # the results table starts on its own line
    pf = json.loads((run / "best_prompt.json").read_text())
    assert pf["task_source"] == str(task.resolve()) and pf["task"] == "my_plurals" and len(pf["data_fingerprint"]) == 16
    assert pf["prompt"]["template"] == "completion" and "partial" not in pf

    # eval --prompt-file with an absolute path, from another folder
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    code, out, err = run_cli(monkeypatch, capsys, "eval", "--prompt-file", str(run / "best_prompt.json"), "--split", "test",
                             "--model", "fake", "--no-cache", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert (got["score"], got["n"]) == (summary["winner"]["test"]["score"], 30) and got["task"] == "my_plurals"

    # openai / prompty exports of a completion-template winner say that their chat rendering was not scored
    code, text, err = run_cli(monkeypatch, capsys, "export", str(run), "--format", "openai")
    warnings = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 0 and len(warnings) == 1 and warnings[0].startswith("warning: the openai format writes")
    assert "--as chat" in warnings[0]
    body = json.loads(text)
    assert body["metadata"]["apeopt_scored_template"] == "completion" and body["messages"][-1]["role"] == "user"
    code, text, err = run_cli(monkeypatch, capsys, "export", str(run), "--format", "prompty")
    assert code == 0 and "warning: the prompty format writes" in err and "WARNING: the prompty format" in text
    code, _, err = run_cli(monkeypatch, capsys, "export", str(run), "--format", "txt")
    assert code == 0 and "warning" not in err  # txt is the scored prompt itself

    # ... and that rendering can be scored: the model gets the very messages the openai export holds
    fake.clear()
    code, out, err = run_cli(monkeypatch, capsys, "eval", "--prompt-file", str(run / "best_prompt.json"), "--as", "chat",
                             "--model", "fake", "--no-cache", "--json", "--limit", "5")
    assert code == 0, err
    chat = json.loads(out)
    assert chat["rendering"] == "chat" and chat["template"] == "chat" and chat["n"] == 5
    sent = fake["lm"].prompts
    assert len(sent) == 5 and all(isinstance(p, tuple) for p in sent)
    x = sent[0][-1][1].removeprefix("Input: ")
    exported = [(m["role"], m["content"].replace("{input}", x)) for m in body["messages"]]
    assert list(sent[0]) == exported

    # the task moved away: one line naming the path tried and --task; --task then overrides
    moved = tmp_path / "moved"
    (tmp_path / "data").rename(moved)
    result = run_cli(monkeypatch, capsys, "eval", "--prompt-file", str(run / "best_prompt.json"), "--model", "fake")
    assert_user_error(result, str(task.resolve()), "--task", "my_plurals")
    code, out, err = run_cli(monkeypatch, capsys, "eval", "--prompt-file", str(run / "best_prompt.json"), "--model", "fake",
                             "--task", str(moved / "task.yaml"), "--json", "--no-cache", "--split", "test")
    assert code == 0 and json.loads(out)["score"] == got["score"], err


def test_old_prompt_file_with_a_relative_task_path_still_loads(monkeypatch, capsys, tmp_path, fake):
    from apeopt.prompts import PromptConfig
    from apeopt.prompts.file import PromptFile

    task_file(tmp_path / "proj")
    PromptFile(PromptConfig("Write the plural form."), task="my_plurals", model="fake",
               task_source="proj/task.yaml").save(tmp_path / "best.json")
    monkeypatch.chdir(tmp_path)  # where the old run started
    code, out, err = run_cli(monkeypatch, capsys, "eval", "--prompt-file", "best.json", "--model", "fake", "--json", "--no-cache")
    assert code == 0 and json.loads(out)["task"] == "my_plurals", err
    monkeypatch.chdir(tmp_path / "proj")  # elsewhere: found next to the prompt file
    code, out, err = run_cli(monkeypatch, capsys, "eval", "--prompt-file", str(tmp_path / "best.json"), "--model", "fake", "--json")
    assert code == 0, err


def test_bad_model_leaves_no_empty_run_folder(monkeypatch, capsys, tmp_path):
    task = task_file(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    for model in (f"hf:{tmp_path / 'no-such-model'}", "smollm3-135m"):
        result = run_cli(monkeypatch, capsys, "optimize", "--task", str(task), "--model", model, *SMALL)
        assert_user_error(result, model.removeprefix("hf:"))
        assert not list((tmp_path / "runs").glob("*"))  # runs/ itself may stay: it holds every run
    mine = tmp_path / "mine"
    mine.mkdir()  # a folder the user made is kept, even empty
    result = run_cli(monkeypatch, capsys, "optimize", "--task", str(task), "--model", "smollm3-135m", "--run-dir", str(mine))
    assert_user_error(result, "smollm3-135m")
    assert mine.is_dir()


def test_export_tells_a_missing_folder_from_one_that_is_not_a_run(monkeypatch, capsys, tmp_path):
    assert_user_error(run_cli(monkeypatch, capsys, "export", str(tmp_path / "nope")), "nope", "does not exist")
    assert_user_error(run_cli(monkeypatch, capsys, "export", str(tmp_path)), "is not an apeopt run")


def test_task_without_instruction_plans_optimizes_and_says_so(monkeypatch, capsys, tmp_path, fake):
    task = task_file(tmp_path / "data")
    task.write_text("\n".join(ln for ln in task.read_text().splitlines() if not ln.startswith("instruction")) + "\n")
    code, out, err = run_cli(monkeypatch, capsys, "optimize", "--task", str(task), "--dry-run")
    plan = json.loads(out)
    assert code == 0 and plan["human_instruction"] is None and plan["proposal_calls"] > 0
    code, out, err = run_cli(monkeypatch, capsys, "optimize", "--task", str(task), "--model", "fake", *SMALL,
                             "--run-dir", str(tmp_path / "run"))
    assert code == 0, err
    flat = " ".join(out.split())
    assert "no human instruction was given" in flat and "no instruction" in flat, out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["human_instruction_given"] is False and summary["human"]["prompt"]["instruction"] == ""
    assert json.loads((tmp_path / "run" / "best_prompt.json").read_text())["human_instruction"] is False
    code, out, err = run_cli(monkeypatch, capsys, "export", str(tmp_path / "run"), "--format", "json")
    assert code == 0 and "no human instruction was given" in err
    code, out, _ = run_cli(monkeypatch, capsys, "optimize", "--task", str(task), "--instruction", "Pluralize it.", "--dry-run")
    assert code == 0 and json.loads(out)["human_instruction"] == "Pluralize it."


def test_proposers_option_names_round0_proposers(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "optimize", "--task", "plural", "--proposers", "induce,constraints", "--dry-run")
    assert code == 0 and json.loads(out)["proposal_calls"] > 0
    code, _, err = run_cli(monkeypatch, capsys, "optimize", "--task", "plural", "--proposers", "indcue", "--dry-run")
    assert code == 2 and "indcue" in err
