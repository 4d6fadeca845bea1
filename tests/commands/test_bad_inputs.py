"""Every bad input, one table: input -> exit code 2 -> one line naming what is wrong; no traceback,
nothing written (no run folder, no batch database, no output file), no model loaded.

The rows cover the cases of issue 22 (a shared prompt file, user code that raises, odd values, work
that started before the input was checked, paths outside runs/) and the common ones that already
failed cleanly. Runs on the rule-based fake LM (``--model fake``); a row that would load a model
fails the test.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from fakes import FakeBackend

import apeopt.models

ROWS = "".join(json.dumps({"input": f"w{i}", "target": f"w{i}s"}) + "\n" for i in range(120))
PASSWORD = "pw-9f8e7d-never-shown"

FILES: dict[str, str] = {
    "rows.jsonl": ROWS,
    "task.yaml": "name: my_plurals\ninstruction: Write the plural form of the word.\n"
                 "source: {type: jsonl, path: rows.jsonl}\nsplits: {train: 60, dev: 30, test: 30}\n",
    "task_badscorer.yaml": "name: t\ninstruction: Plural.\nscorer: usercode:raising_scorer\n"
                           "source: {type: jsonl, path: rows.jsonl}\nsplits: {train: 60, dev: 30, test: 30}\n",
    "task_pickyscorer.yaml": "name: t\ninstruction: Add an s.\nscorer: usercode:picky_scorer\n"
                             "source: {type: jsonl, path: rows.jsonl}\nsplits: {train: 60, dev: 30, test: 30}\n",
    "task_unknownscorer.yaml": "name: t\ninstruction: Plural.\nscorer: exact_mach\n"
                               "source: {type: jsonl, path: rows.jsonl}\nsplits: {train: 60, dev: 30, test: 30}\n",
    "task_badgen.yaml": "name: t\ninstruction: Plural.\nsource: {type: generator, name: 'usercode:raising_generator'}\n"
                        "splits: {train: 0.5, dev: 0.25, test: 0.25}\n",
    "task_missingdata.yaml": "name: t\ninstruction: x\nsource: {type: jsonl, path: nope.jsonl}\n"
                             "splits: {train: 0.5, dev: 0.25, test: 0.25}\n",
    "task_unknownkey.yaml": "name: t\ninstruction: x\nsorce: {type: jsonl, path: rows.jsonl}\n",
    "usercode.py": "def raising_scorer(prediction, targets):\n    return 1 / 0\n\n"
                   "def picky_scorer(prediction, targets):\n    if prediction.strip() not in targets:\n"
                   "        raise KeyError(prediction)\n    return 1.0\n\n"
                   "def raising_generator(rng, n, shift):\n    raise ValueError('generator exploded')\n",
    "notjson.json": "{\n  \"prompt\": \n",
    "notaprompt.json": "{\"hello\": 1}\n",
    "space_bad.yaml": "params: {votes: {choices: [1, 3]}}\nscorring: generate\n",
    "plan_badseed.yaml": "matrix: {task: [plural]}\ndefaults: {seed: abc, model: fake}\n",
    "plan_badbudget.yaml": "matrix: {task: [plural]}\nbudget: {hours: eight}\n",
    "plan_escape.yaml": "name: ../../x\nmatrix: {task: [plural]}\n",
    "plan_unknownkey.yaml": "matrix: {task: [plural]}\nworkers: 3\n",
    "plan_jobkey.yaml": "jobs: [{task: plural, bugdet_calls: 5}]\n",
    "plan_notask.yaml": "jobs: [{kind: optimize, seed: 1}]\n",
    "plan_retries.yaml": "matrix: {task: [plural]}\nretries: -1\n",
    "plan_emptymatrix.yaml": "matrix: {task: []}\n",
    "plan_kind.yaml": "jobs: [{kind: train, task: plural}]\n",
    "plan_nan.yaml": "matrix: {task: [plural]}\ndefaults: {budget_minutes: .nan}\n",
    "plan_list.yaml": "- a\n- b\n",
    "plan_unknowntask.yaml": "matrix: {task: [plurl]}\n",
    "plan_ok.yaml": "matrix: {task: [plural]}\ndefaults: {model: fake}\n",
    "run_not/placeholder.txt": "a folder that is not a run\n",
    "run_taken/something.txt": "already here\n",
    "a_file.txt": "not a folder\n",
    "out_dir/keep.txt": "an existing folder\n",
}


def prompt_file(**overrides: Any) -> str:
    data: dict[str, Any] = {"apeopt_prompt_version": 1, "task": "plural", "model": "fake", "split_seed": 0,
                            "prompt": {"instruction": "Write the plural form of the word."}, "scores": {}}
    data.update(overrides)
    return json.dumps(data)


FILES.update({
    "pf_seed.json": prompt_file(split_seed="abc"),
    "pf_scores.json": prompt_file(scores=[1, 2]),
    "pf_version.json": prompt_file(apeopt_prompt_version=99),
    "pf_scoring.json": prompt_file(scoring="vibes"),
    "pf_sum.json": prompt_file(task="sum"),
    "pf_nomodel.json": prompt_file(model=None),
    "pf_ok.json": prompt_file(),
})

SMALL = ["--rounds", "1", "--subsamples", "1", "--per-subsample", "2", "--dev-limit", "20", "--no-cache"]

# (id, argv, fragments the one error line must hold, strings that must not appear anywhere)
CASES: list[tuple[str, list[str], list[str], list[str]]] = [
    # -- issue 22, 3: storage on optimize like batch; 4: passwords never shown
    ("optimize-storage-scheme", ["optimize", "--task", "plural", "--model", "fake", "--storage", "foo://bar"],
     ["--storage", "foo://bar"], []),
    ("optimize-storage-password", ["optimize", "--task", "plural", "--model", "fake",
                                   "--storage", f"postgresql://me:{PASSWORD}@127.0.0.1:1/db"], ["me:***@"], [PASSWORD]),
    ("dry-run-storage-scheme", ["optimize", "--task", "plural", "--dry-run", "--storage", "foo://bar"], ["foo://bar"], []),
    ("batch-storage-password", ["batch", "plan_ok.yaml", "--storage", f"postgresql://me:{PASSWORD}@127.0.0.1:1/db"],
     ["me:***@"], [PASSWORD]),
    ("batch-status-storage-password", ["batch", "status", "plan_ok.yaml", "--storage",
                                       f"mysql://me:{PASSWORD}@127.0.0.1:1/db"], ["me:***@"], [PASSWORD]),
    # -- 5: user code that raises, odd values
    ("optimize-user-scorer-raises", ["optimize", "--task", "task_badscorer.yaml", "--model", "fake", *SMALL],
     ["usercode:raising_scorer", "ZeroDivisionError", "'w", "target"], []),
    ("eval-user-scorer-raises", ["eval", "--task", "task_badscorer.yaml", "--instruction", "x", "--model", "fake"],
     ["usercode:raising_scorer", "ZeroDivisionError"], []),
    ("optimize-user-generator-raises", ["optimize", "--task", "task_badgen.yaml", "--model", "fake"],
     ["usercode:raising_generator", "ValueError", "generator exploded"], []),
    ("eval-prompt-file-split-seed", ["eval", "--prompt-file", "pf_seed.json", "--model", "fake"], ["split_seed", "'abc'"], []),
    ("eval-prompt-file-scores-list", ["eval", "--prompt-file", "pf_scores.json", "--model", "fake"], ["scores", "[1, 2]"], []),
    ("eval-prompt-file-version", ["eval", "--prompt-file", "pf_version.json", "--model", "fake"],
     ["apeopt_prompt_version 99"], []),
    ("eval-prompt-file-scoring", ["eval", "--prompt-file", "pf_scoring.json", "--model", "fake"], ["scoring", "vibes"], []),
    ("export-output-is-a-folder", ["export", "latest", "-o", "out_dir"], ["--output", "out_dir", "is a folder"], []),
    ("eval-predictions-is-a-folder", ["eval", "--task", "plural", "--instruction", "x", "--model", "fake",
                                      "--predictions", "out_dir"], ["--predictions", "is a folder"], []),
    ("eval-predictions-no-parent", ["eval", "--task", "plural", "--instruction", "x", "--model", "fake",
                                    "--predictions", "no/such/dir/p.jsonl"], ["--predictions", "does not exist"], []),
    ("batch-plan-seed-text", ["batch", "plan_badseed.yaml"], ["plan_badseed.yaml", "seed", "'abc'"], []),
    ("batch-plan-budget-text", ["batch", "plan_badbudget.yaml"], ["budget.hours", "'eight'"], []),
    ("batch-plan-budget-minutes-nan", ["batch", "plan_nan.yaml"], ["budget_minutes", "nan"], []),
    ("optimize-budget-nan", ["optimize", "--task", "plural", "--model", "fake", "--budget-minutes", "nan"],
     ["budget_minutes", "nan"], []),
    ("optimize-budget-inf", ["optimize", "--task", "plural", "--model", "fake", "--budget-minutes", "inf"],
     ["budget_minutes", "inf"], []),
    ("dry-run-budget-nan", ["optimize", "--task", "plural", "--dry-run", "--budget-minutes", "nan"], ["budget_minutes"], []),
    ("compare-apeopt-minutes-nan", ["compare", "--task", "plural", "--model", "fake", "--apeopt-minutes", "nan"],
     ["apeopt_minutes", "nan"], []),
    # -- 6: checked before any work
    ("optimize-unknown-scorer", ["optimize", "--task", "task_unknownscorer.yaml", "--model", "fake"], ["exact_mach"], []),
    ("eval-unknown-scorer", ["eval", "--task", "plural", "--instruction", "x", "--scorer", "exact_mach", "--model", "fake"],
     ["exact_mach"], []),
    ("batch-unknown-scorer", ["batch", "plan_unknowntask.yaml"], ["plurl"], []),
    ("optimize-run-dir-missing-parent", ["optimize", "--task", "plural", "--model", "fake", "--run-dir", "typo/deep/run"],
     ["--run-dir", "typo/deep/run", "parent folder", "does not exist"], []),
    ("compare-run-dir-missing-parent", ["compare", "--task", "plural", "--model", "fake", "--run-dir", "typo/deep/run"],
     ["--run-dir", "does not exist"], []),
    ("dry-run-unknown-model", ["optimize", "--task", "plural", "--dry-run", "--model", "smolm2"], ["unknown model spec", "smolm2"], []),
    ("dry-run-unknown-proposer", ["optimize", "--task", "plural", "--dry-run", "--proposer-model", "gpt-9"], ["gpt-9"], []),
    ("optimize-unknown-model", ["optimize", "--task", "plural", "--model", "smolm2"], ["unknown model spec"], []),
    # -- 7: paths outside runs/, reads that must not write
    ("batch-plan-name-escapes", ["batch", "plan_escape.yaml"], ["'name' must be", "../../x"], []),
    ("batch-status-never-run", ["batch", "status", "plan_ok.yaml"], ["has not run yet", "batch.db"], []),
    # -- common cases that already failed cleanly
    ("optimize-no-task", ["optimize"], ["--task is required"], []),
    ("optimize-unknown-task", ["optimize", "--task", "plurall", "--model", "fake"], ["plurall"], []),
    ("optimize-unknown-space", ["optimize", "--task", "plural", "--space", "ful", "--dry-run"], ["ful"], []),
    ("optimize-bad-space-yaml", ["optimize", "--task", "plural", "--space", "space_bad.yaml", "--dry-run"], ["scorring"], []),
    ("optimize-eta-1", ["optimize", "--task", "plural", "--eta", "1"], ["--eta"], []),
    ("optimize-rounds-0", ["optimize", "--task", "plural", "--rounds", "0"], ["--rounds"], []),
    ("optimize-later-proposer", ["optimize", "--task", "plural", "--model", "fake", "--later-proposers", "vibes"],
     ["later_proposers", "vibes"], []),
    ("optimize-parents", ["optimize", "--task", "plural", "--model", "fake", "--parents", "all"], ["parents", "all"], []),
    ("optimize-reflect-tokens", ["optimize", "--task", "plural", "--model", "fake", "--reflect-tokens", "3"],
     ["reflect_tokens"], []),
    ("optimize-budget-calls-0", ["optimize", "--task", "plural", "--budget-calls", "0"], ["--budget-calls"], []),
    ("optimize-budget-minutes-neg", ["optimize", "--task", "plural", "--model", "fake", "--budget-minutes", "-1"],
     ["budget_minutes"], []),
    ("optimize-run-dir-not-empty", ["optimize", "--task", "plural", "--model", "fake", "--run-dir", "run_taken"],
     ["run_taken", "not empty"], []),
    ("optimize-run-dir-a-file", ["optimize", "--task", "plural", "--model", "fake", "--run-dir", "a_file.txt"],
     ["a_file.txt", "not a folder"], []),
    ("optimize-missing-data-file", ["optimize", "--task", "task_missingdata.yaml", "--model", "fake"], ["nope.jsonl"], []),
    ("optimize-task-unknown-key", ["optimize", "--task", "task_unknownkey.yaml", "--model", "fake"], ["sorce"], []),
    ("optimize-task-yaml-missing", ["optimize", "--task", "nope.yaml", "--model", "fake"], ["nope.yaml"], []),
    ("resume-missing", ["optimize", "--resume", "runs/nope"], ["does not exist"], []),
    ("resume-a-file", ["optimize", "--resume", "a_file.txt"], ["a_file.txt"], []),
    ("resume-not-a-run", ["optimize", "--resume", "run_not"], ["not an apeopt run"], []),
    ("eval-no-prompt", ["eval", "--task", "plural"], ["exactly one of"], []),
    ("eval-both-prompts", ["eval", "--task", "plural", "--instruction", "x", "--prompt-file", "pf_ok.json"], ["exactly one of"], []),
    ("eval-prompt-file-missing", ["eval", "--prompt-file", "nope.json"], ["nope.json", "does not exist"], []),
    ("eval-prompt-file-not-json", ["eval", "--prompt-file", "notjson.json"], ["notjson.json", "line 3"], []),
    ("eval-prompt-file-not-a-prompt", ["eval", "--prompt-file", "notaprompt.json"], ["not an apeopt prompt file"], []),
    ("eval-prompt-file-no-model", ["eval", "--prompt-file", "pf_nomodel.json"], ["model"], []),
    ("eval-prompt-file-other-task", ["eval", "--task", "plural", "--prompt-file", "pf_sum.json", "--model", "fake"],
     ["sum", "plural"], []),
    ("eval-bad-split", ["eval", "--task", "plural", "--instruction", "x", "--split", "validation", "--model", "fake"],
     ["validation"], []),
    ("eval-bad-rendering", ["eval", "--task", "plural", "--instruction", "x", "--as", "html"], ["--as", "html"], []),
    ("eval-negative-demos", ["eval", "--task", "plural", "--instruction", "x", "--demos", "-1"], ["--demos"], []),
    ("eval-missing-gguf", ["eval", "--task", "plural", "--instruction", "x", "--model", "gguf:missing/m.gguf"], ["m.gguf"], []),
    ("eval-missing-hf-folder", ["eval", "--task", "plural", "--instruction", "x", "--model", "hf:./missing_dir"],
     ["missing_dir"], []),
    ("eval-key-in-remote-spec", ["eval", "--task", "plural", "--instruction", "x",
                                 "--model", f"openai:gpt@http://127.0.0.1:1/v1?api_key={PASSWORD}"],
     ["key_env"], [PASSWORD]),
    ("eval-credentials-in-remote-url", ["eval", "--task", "plural", "--instruction", "x",
                                        "--model", f"openai:gpt@http://u:{PASSWORD}@127.0.0.1:1/v1"],
     ["credentials are not accepted"], [PASSWORD]),
    ("export-unknown-format", ["export", "run_not", "--format", "yaml"], ["run_not"], []),
    ("export-not-a-run", ["export", "run_not"], ["not an apeopt run"], []),
    ("export-no-runs", ["export", "latest"], ["no runs"], []),
    ("report-missing", ["report", "runs/nope"], ["runs/nope"], []),
    ("tasks-unknown", ["tasks", "plurl"], ["plurl"], []),
    ("batch-plan-missing", ["batch", "nope.yaml"], ["nope.yaml", "does not exist"], []),
    ("batch-plan-not-mapping", ["batch", "plan_list.yaml"], ["mapping"], []),
    ("batch-plan-unknown-key", ["batch", "plan_unknownkey.yaml"], ["workers"], []),
    ("batch-plan-job-unknown-key", ["batch", "plan_jobkey.yaml"], ["bugdet_calls"], []),
    ("batch-plan-job-no-task", ["batch", "plan_notask.yaml"], ["needs a 'task'"], []),
    ("batch-plan-retries", ["batch", "plan_retries.yaml"], ["retries"], []),
    ("batch-plan-empty-matrix", ["batch", "plan_emptymatrix.yaml"], ["matrix.task"], []),
    ("batch-plan-kind", ["batch", "plan_kind.yaml"], ["train"], []),
    ("batch-status-no-plan", ["batch", "status"], ["usage"], []),
    ("compare-unknown-method", ["compare", "--task", "plural", "--model", "fake", "--methods", "magic"], ["magic"], []),
    ("compare-bad-select", ["compare", "--task", "plural", "--model", "fake", "--select", "vibes"], ["vibes"], []),
    ("serve-key-env-unset", ["serve", "--model", "fake", "--key-env", "APEOPT_UNSET_KEY_T"], ["APEOPT_UNSET_KEY_T", "not set"], []),
    ("serve-max-tokens-over-cap", ["serve", "--model", "fake", "--max-tokens", "5000", "--max-tokens-cap", "100"],
     ["--max-tokens 5000", "100"], []),
    ("unknown-option", ["optimize", "--task", "plural", "--bogus"], ["--bogus"], []),
]


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (but the LM cache) with a hash of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "cache" not in p.relative_to(root).parts}


def folders(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir() and "cache" not in p.relative_to(root).parts}


@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, list[str]]:
    """A folder with the files above, as the current folder; ``--model fake*`` records a load."""
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("usercode", None)
    loads: list[str] = []
    real = apeopt.models.load_backend

    def load(spec: str, device: str = "auto", **kw: Any) -> Any:
        loads.append(spec)
        if spec.startswith("fake"):
            return FakeBackend(lambda x: x + "s")
        return real(spec, device=device, **kw)

    monkeypatch.setattr(apeopt.models, "load_backend", load)
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("APEOPT_STORAGE_URL", raising=False)
    return tmp_path, loads


@pytest.mark.parametrize("argv, fragments, absent", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(monkeypatch, capsys, workspace, argv, fragments, absent):
    root, loads = workspace
    before, dirs = snapshot(root), folders(root)
    code, out, err = run_cli(monkeypatch, capsys, *argv)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in out + err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    for secret in absent:
        assert secret not in out + err
    assert snapshot(root) == before and folders(root) == dirs, "a failed command wrote something"
    assert not [s for s in loads if s.startswith("fake")], "a model was loaded before the input was checked"


def test_case_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------- the good side of some rows
def test_user_scorer_that_raises_mid_search_leaves_no_half_made_run(monkeypatch, capsys, workspace):
    """The scorer passes the check on a gold answer, then raises on the first model output: the run stops
    with one line, and the folder it started (config.json, study.json, study.db) is gone."""
    root, loads = workspace
    before = snapshot(root)
    code, out, err = run_cli(monkeypatch, capsys, "optimize", "--task", "task_pickyscorer.yaml", "--model", "fake",
                             *SMALL, "--json")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "usercode:picky_scorer" in lines[0] and "KeyError" in lines[0] and "prediction" in lines[0]
    assert loads == ["fake"]  # it did start: the model loaded
    assert snapshot(root) == before and (not (root / "runs").exists() or not any((root / "runs").iterdir()))


def test_make_parents_opts_in_to_a_new_folder_tree(monkeypatch, capsys, workspace):
    root, _ = workspace
    code, _, err = run_cli(monkeypatch, capsys, "optimize", "--task", "plural", "--model", "fake", *SMALL,
                           "--run-dir", "new/deep/run", "--make-parents", "--json")
    assert code == 0, err
    assert (root / "new" / "deep" / "run" / "summary.json").is_file()


def test_user_paths_are_stored_absolute(monkeypatch, capsys, workspace):
    root, _ = workspace
    code, out, err = run_cli(monkeypatch, capsys, "optimize", "--task", "task.yaml", "--model", "fake", *SMALL,
                             "--run-dir", "r", "--json")
    assert code == 0, err
    config = json.loads((root / "r" / "config.json").read_text())
    assert config["optimize"]["task"] == str((root / "task.yaml").resolve())


KILLER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import apeopt.models
from fakes import FakeBackend

class Killed(FakeBackend):
    def generate(self, requests):
        if self.usage.calls >= 120:
            os.kill(os.getpid(), signal.SIGKILL)  # kill -9: no handler runs, nothing is closed
        return super().generate(requests)

apeopt.models.load_backend = lambda spec, device="auto", **kw: Killed(lambda x: x + "s")
from apeopt.cli import main
sys.argv = ["apeopt"] + sys.argv[1:]
main()
"""


def test_kill_9_leaves_a_partial_prompt_that_export_finds(monkeypatch, capsys, workspace):
    """After kill -9 no Ctrl-C handler runs: the best prompt fully scored on dev must already be on disk."""
    import signal
    import subprocess

    root, _ = workspace
    tests = str(Path(__file__).resolve().parents[1])
    script = root / "killer.py"
    script.write_text(KILLER.format(tests=tests))
    proc = subprocess.run([sys.executable, str(script), "optimize", "--task", "task.yaml", "--model", "fake", *SMALL,
                           "--run-dir", "k", "--json"], cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run = root / "k"
    assert not (run / "summary.json").exists() and not (run / "best_prompt.json").exists()
    partial = json.loads((run / "partial_prompt.json").read_text())
    assert partial["partial"] is True and partial["scores"]["dev"]["n"] == 20
    code, text, err = run_cli(monkeypatch, capsys, "export", str(run), "--format", "txt")
    assert code == 0, err
    assert "interrupted run" in err and text.strip()
