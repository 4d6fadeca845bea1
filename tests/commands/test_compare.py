"""`apeopt compare` on the tiny random Llama: files, identical test items and scorer for every
method, paired tests, adapters that `apeopt eval --adapter` scores identically, one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cli_helpers import assert_user_error, run_cli

from apeopt.cli import main

WORDS = ["cat", "dog", "box", "fox", "pen", "cup", "hat", "bed", "car", "bus", "map", "egg", "key", "toy", "sun",
         "ant", "bat", "cow", "pig", "owl"]
ROW_KEYS = {"method", "test", "test_shift", "trainable_params", "train_examples", "wall_seconds", "lm_calls",
            "inference_tokens_per_example", "device", "scorer", "test_items", "paired"}
METHODS = "zero-shot,human,k-shot-1,apeopt,prompt-tuning,lora,ia3,prefix-tuning"


def write_task(folder: Path, splits: str = "{train: 30, dev: 12, test: 10}") -> Path:
    rows = [{"input": f"{w}{i}", "target": f"{w}{i}s"} for i in range(3) for w in WORDS]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    shift = [{"input": f"{w}{w}", "target": f"{w}{w}s"} for w in WORDS[:8]]
    (folder / "shift.jsonl").write_text("".join(json.dumps(r) + "\n" for r in shift))
    path = folder / "toy.yaml"
    path.write_text(
        "name: toy\ninstruction: Write the plural form of the word.\nmax_tokens: 4\n"
        f"source: {{type: jsonl, path: data.jsonl}}\nsplits: {splits}\n"
        "test_shift: {source: {type: jsonl, path: shift.jsonl}}\n"
    )
    return path


@pytest.fixture(scope="module")
def compared(tiny_model_dir, tmp_path_factory):
    """One compare run with every cheap method (module-scoped: the tests below read its files)."""
    root = tmp_path_factory.mktemp("compare")
    mp = pytest.MonkeyPatch()
    mp.setenv("APEOPT_CACHE_DIR", str(root / "cache"))
    mp.setattr(sys, "argv", ["apeopt", "compare", "--task", str(write_task(root)), "--model", f"hf:{tiny_model_dir}",
                             "--methods", METHODS, "--quick", "--steps", "3", "--eval-every", "3",
                             "--apeopt-calls", "60", "--run-dir", str(root / "run"), "--json"])
    try:
        main()
    finally:
        mp.undo()
    return root / "run"


def test_files_and_rows(compared):
    for name in ("comparison.json", "comparison.md", "comparison.png", "summary.json", "predictions.jsonl",
                 "config.json", "best_prompt.json"):
        assert (compared / name).is_file(), name
    assert (compared / "comparison.png").stat().st_size > 5000
    rows = json.loads((compared / "comparison.json").read_text())
    assert [r["method"] for r in rows] == METHODS.split(",")
    for r in rows:
        assert ROW_KEYS <= set(r), set(ROW_KEYS) - set(r)
        assert {"score", "n", "ci"} <= set(r["test"]) and r["test"]["n"] == 10
        assert r["test_shift"]["n"] == 8
        assert r["device"] == "cpu"
    by = {r["method"]: r for r in rows}
    assert by["human"]["trainable_params"] == 0 and by["lora"]["trainable_params"] > 0
    assert by["k-shot-1"]["train_examples"] == 1 and by["lora"]["train_examples"] == 30
    assert by["k-shot-1"]["inference_tokens_per_example"] > by["human"]["inference_tokens_per_example"]
    assert by["prompt-tuning"]["inference_tokens_per_example"] >= by["human"]["inference_tokens_per_example"] + 20
    assert by["apeopt"]["lm_calls"] > 0 and by["lora"]["lm_calls"] > 0 and by["human"]["lm_calls"] == 0
    p = by["lora"]["paired"]["human"]
    assert {"diff", "ci_lo", "ci_hi", "p", "a_better", "b_better"} <= set(p)
    md = (compared / "comparison.md").read_text()
    assert "| prompt-tuning |" in md and "Paired differences" in md
    for m in ("prompt-tuning", "lora", "ia3", "prefix-tuning"):
        adapter = compared / "methods" / m / "adapter"
        assert (adapter / "adapter_config.json").is_file() and (adapter / "apeopt_adapter.json").is_file()
        assert (compared / "methods" / m / "curves.jsonl").is_file()


def test_every_method_scored_on_identical_items_with_identical_scorer(compared):
    """The guarantee the comparison rests on: same items, same order, same scorer, for every row."""
    rows = json.loads((compared / "comparison.json").read_text())
    summary = json.loads((compared / "summary.json").read_text())
    assert {r["scorer"] for r in rows} == {summary["scorer"]} == {"exact_match"}
    assert all(r["test_items"] == {s: v["digest"] for s, v in summary["test_items"].items()} for r in rows)
    preds = [json.loads(line) for line in (compared / "predictions.jsonl").read_text().splitlines()]
    for split in ("test", "test_shift"):
        seqs = {}
        for p in preds:
            if p["split"] == split:
                seqs.setdefault(p["method"], []).append((p["index"], p["input"], p["target"]))
        assert set(seqs) == {r["method"] for r in rows}
        first = next(iter(seqs.values()))
        assert len(first) == summary["test_items"][split]["n"]
        assert all(s == first for s in seqs.values())
    for r in rows:  # each row's score is the mean of its per-item scores
        scores = [p["score"] for p in preds if p["method"] == r["method"] and p["split"] == "test"]
        assert r["test"]["score"] == pytest.approx(sum(scores) / len(scores))


@pytest.mark.parametrize("method", ["lora", "prompt-tuning"])
def test_eval_adapter_reproduces_the_compare_score(compared, monkeypatch, capsys, tmp_path, method):
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "empty-cache"))
    rows = {r["method"]: r for r in json.loads((compared / "comparison.json").read_text())}
    code, out, err = run_cli(monkeypatch, capsys, "eval", "--adapter", str(compared / "methods" / method / "adapter"),
                             "--split", "test", "--no-cache", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["n"] == rows[method]["test"]["n"] and result["task"] == "toy"
    assert result["score"] == pytest.approx(rows[method]["test"]["score"])


def test_unknown_method(monkeypatch, capsys):
    assert_user_error(run_cli(monkeypatch, capsys, "compare", "--task", "plural", "--methods", "human,lorra"),
                      "lorra", "did you mean 'lora'")


def test_method_that_does_not_apply_to_the_model(monkeypatch, capsys, tmp_path):
    from conftest import build_tiny_tokenizer
    from transformers import MambaConfig, MambaForCausalLM

    tok = build_tiny_tokenizer()
    config = MambaConfig(vocab_size=len(tok), hidden_size=16, state_size=4, num_hidden_layers=1,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id, bos_token_id=None)
    MambaForCausalLM(config).save_pretrained(tmp_path / "mamba")
    tok.save_pretrained(tmp_path / "mamba")
    capsys.readouterr()
    result = run_cli(monkeypatch, capsys, "compare", "--task", str(write_task(tmp_path)), "--model",
                     f"hf:{tmp_path / 'mamba'}", "--methods", "human,prefix-tuning", "--run-dir", str(tmp_path / "run"))
    assert_user_error(result, "prefix-tuning", "mamba", "does not apply")
    assert not (tmp_path / "run").exists()  # refused before any work


def test_task_without_train_examples(monkeypatch, capsys, tmp_path):
    task = write_task(tmp_path, splits="{train: 0.001, dev: 0.5, test: 0.4}")
    assert_user_error(run_cli(monkeypatch, capsys, "compare", "--task", str(task), "--methods", "human"), "train")


def test_bad_option_values(monkeypatch, capsys):
    assert_user_error(run_cli(monkeypatch, capsys, "compare", "--task", "plural", "--select", "accuracy"), "select")
    assert_user_error(run_cli(monkeypatch, capsys, "compare", "--task", "plural", "--steps", "0"), "--steps")


def test_eval_adapter_on_a_folder_that_is_not_one(monkeypatch, capsys, tmp_path):
    assert_user_error(run_cli(monkeypatch, capsys, "eval", "--adapter", str(tmp_path)), "not an apeopt adapter")


@pytest.mark.parametrize("base", ["openai:https://collector.example/v1", "hf:someorg/some-model"])
def test_eval_adapter_never_lets_its_folder_choose_a_remote_base(compared, monkeypatch, capsys, tmp_path, base):
    import shutil

    folder = tmp_path / "adapter"
    shutil.copytree(compared / "methods" / "lora" / "adapter", folder)
    meta = json.loads((folder / "apeopt_adapter.json").read_text())
    (folder / "apeopt_adapter.json").write_text(json.dumps({**meta, "base_model": base}))
    calls: list[str] = []
    import apeopt.models as models

    monkeypatch.setattr(models, "load_backend", lambda spec, **kw: calls.append(spec))
    assert_user_error(run_cli(monkeypatch, capsys, "eval", "--adapter", str(folder), "--split", "test"),
                      base, "a file cannot choose", "--model")
    assert calls == []  # refused before any backend was made
