"""The CLI: user mistakes give one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cli_helpers import assert_user_error, run_cli



def write_task(tmp_path: Path, body: str, data: str | None = None) -> Path:
    if data is not None:
        (tmp_path / "data.jsonl").write_text(data)
    p = tmp_path / "task.yaml"
    p.write_text(body)
    return p


GOOD_DATA = "".join(json.dumps({"input": f"w{i}", "target": f"w{i}s"}) + "\n" for i in range(40))
GOOD_TASK = "name: mine\ninstruction: Pluralize.\nsource: {type: jsonl, path: data.jsonl}\nsplits: {train: 20, dev: 10, test: 10}\n"


def test_help_is_fast_and_lists_commands(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "--help")
    assert code == 0 and "optimize" in out and "eval" in out and "export" in out


def test_bare_command_prints_the_help_once(monkeypatch, capsys):
    code, out, err = run_cli(monkeypatch, capsys)
    assert code == 0 and (out + err).count("Usage:") == 1 and "optimize" in out + err


def test_help_does_not_import_torch():
    import subprocess

    code = "import sys, apeopt.cli; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tasks_json(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "tasks", "--json")
    rows = json.loads(out)
    from apeopt.tasks import builtin_task_names

    assert code == 0 and [r["name"] for r in rows] == builtin_task_names()
    for r in rows:
        assert {"name", "source", "scorer", "sizes"} <= set(r)
        assert all(r["sizes"][s] > 0 for s in ("train", "dev", "test")), r["name"]


def test_unknown_task(monkeypatch, capsys):
    assert_user_error(run_cli(monkeypatch, capsys, "eval", "--task", "plurl", "--instruction", "x"), "plurl", "plural")


def test_missing_task_file(monkeypatch, capsys, tmp_path):
    assert_user_error(run_cli(monkeypatch, capsys, "eval", "--task", str(tmp_path / "nope.yaml"), "--instruction", "x"), "nope.yaml")


def test_malformed_task_yaml_names_line(monkeypatch, capsys, tmp_path):
    p = write_task(tmp_path, "name: x\ninstruction: [unclosed\nsource: {type: jsonl}\n")
    assert_user_error(run_cli(monkeypatch, capsys, "eval", "--task", str(p), "--instruction", "x"), "task.yaml:3")


def test_field_missing_in_data(monkeypatch, capsys, tmp_path):
    p = write_task(tmp_path, GOOD_TASK.replace("source:", "target_field: answer\nsource:"), GOOD_DATA)
    assert_user_error(run_cli(monkeypatch, capsys, "eval", "--task", str(p), "--instruction", "x"), "answer")


def test_empty_split(monkeypatch, capsys, tmp_path):
    p = write_task(tmp_path, GOOD_TASK.replace("test: 10}", "test: 10}").replace("dev: 10", "dev: 0"), GOOD_DATA)
    result = run_cli(monkeypatch, capsys, "eval", "--task", str(p), "--instruction", "x", "--split", "dev")
    assert_user_error(result, "dev")


def test_unknown_scorer(monkeypatch, capsys, tmp_path):
    p = write_task(tmp_path, GOOD_TASK + "scorer: exact_mach\n", GOOD_DATA)
    assert_user_error(run_cli(monkeypatch, capsys, "eval", "--task", str(p), "--instruction", "x"), "exact_mach", "exact_match")


def test_unknown_model(monkeypatch, capsys):
    result = run_cli(monkeypatch, capsys, "eval", "--task", "plural", "--instruction", "x", "--model", "smollm3-135m")
    assert_user_error(result, "smollm3-135m", "hf:")


def test_missing_model_path(monkeypatch, capsys, tmp_path):
    result = run_cli(monkeypatch, capsys, "eval", "--task", "plural", "--instruction", "x", "--model", f"gguf:{tmp_path}/m.gguf")
    assert_user_error(result, "m.gguf")


def test_unknown_dtype(monkeypatch, capsys):
    result = run_cli(monkeypatch, capsys, "optimize", "--task", "plural", "--dtype", "fp8", "--dry-run")
    assert_user_error(result, "dtype", "fp8", "bfloat16")


def test_unknown_space_and_bad_space_yaml(monkeypatch, capsys, tmp_path):
    assert_user_error(run_cli(monkeypatch, capsys, "optimize", "--task", "plural", "--space", "ful", "--dry-run"), "ful", "full")
    bad = tmp_path / "space.yaml"
    bad.write_text("params: {votes: {choices: [1, 3]}}\nscorring: generate\n")
    assert_user_error(run_cli(monkeypatch, capsys, "optimize", "--task", "plural", "--space", str(bad), "--dry-run"), "scorring")


def test_unknown_option_value(monkeypatch, capsys):
    assert_user_error(run_cli(monkeypatch, capsys, "eval", "--task", "plural", "--demos", "-1", "--instruction", "x"), "--demos")


def test_dry_run_plans_without_spending(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "optimize", "--task", "plural", "--dry-run")
    plan = json.loads(out)
    # 2 proposers x 4 subsamples x 3, then 2 rounds of (variation 3 + history 2 + reflect 3 requests) x 3
    assert code == 0 and plan["proposal_calls"] == 72
    assert plan["lm_calls_est"] == plan["proposal_calls"] + plan["scoring_calls_est"] + plan["final_calls"] <= plan["lm_calls_max"]
    assert plan["final_calls"] == 3 * 300 and plan["tokens_est"] > plan["lm_calls_est"]  # 3 prompts on dev, test, test_shift
    assert plan["rungs"][-1] == 100


def test_export_of_a_folder_that_is_not_a_run(monkeypatch, capsys, tmp_path):
    assert_user_error(run_cli(monkeypatch, capsys, "export", str(tmp_path)), "not an apeopt run")


def test_prompt_file_from_another_task(monkeypatch, capsys, tmp_path):
    from apeopt.prompts import PromptConfig
    from apeopt.prompts.file import PromptFile

    pf = tmp_path / "best.json"
    PromptFile(PromptConfig("Add the numbers."), task="sum", model="smollm2-135m").save(pf)
    result = run_cli(monkeypatch, capsys, "eval", "--task", "plural", "--prompt-file", str(pf))
    assert_user_error(result, "sum", "plural")


def test_bad_prompt_file(monkeypatch, capsys, tmp_path):
    pf = tmp_path / "best.json"
    pf.write_text("{\n  \"prompt\": \n")
    assert_user_error(run_cli(monkeypatch, capsys, "eval", "--prompt-file", str(pf)), "best.json", "line 3")
