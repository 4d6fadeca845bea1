"""The main job end to end through the CLI: optimize, export, and reproduce the score from the file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from apeopt.cli import main


def cli(monkeypatch, capsys, *args: str) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "argv", ["apeopt", *args])
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    return capsys.readouterr().out


SMALL = ["--rounds", "1", "--subsamples", "1", "--per-subsample", "2", "--dev-limit", "20", "--few-shot-k", "3"]


def test_optimize_export_and_reproduce_on_tiny_model(monkeypatch, capsys, tmp_path, tiny_model_dir):
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    run = tmp_path / "run"
    summary = json.loads(cli(monkeypatch, capsys, "optimize", "--task", "plural", "--model", f"hf:{tiny_model_dir}", *SMALL, "--run-dir", str(run), "--json"))
    assert summary["status"] == "complete" and summary["winner"]["test"]["n"] == 100
    best = tmp_path / "best.json"
    cli(monkeypatch, capsys, "export", str(run), "--format", "json", "-o", str(best))
    preds = tmp_path / "preds.jsonl"
    out = json.loads(cli(monkeypatch, capsys, "eval", "--prompt-file", str(best), "--split", "test", "--model", f"hf:{tiny_model_dir}",
                         "--no-cache", "--json", "--predictions", str(preds)))
    assert out["score"] == summary["winner"]["test"]["score"] and out["n"] == 100
    mine = [json.loads(line)["output"] for line in preds.read_text().splitlines()]
    run_rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    theirs = [r["output"] for r in run_rows if r["method"] == "winner" and r["split"] == "test"]
    assert mine == theirs  # the exported file reproduces every output, not just the mean
    for fmt in ("txt", "openai", "prompty", "dspy"):
        assert cli(monkeypatch, capsys, "export", str(run), "--format", fmt).strip()


@pytest.mark.e2e
def test_eval_five_shot_plural_on_embedded_model(monkeypatch, capsys):
    out = json.loads(cli(monkeypatch, capsys, "eval", "--task", "plural", "--instruction", "Write the plural form of the word.",
                         "--demos", "5", "--limit", "30", "--json"))
    assert out["n"] == 30 and out["score"] >= 0.6
    assert out["model"] == "smollm2-135m"


@pytest.mark.e2e
def test_optimize_then_eval_prompt_file_reproduces_test_score(monkeypatch, capsys, tmp_path):
    run = tmp_path / "run"
    summary = json.loads(cli(monkeypatch, capsys, "optimize", "--task", "sentiment", *SMALL, "--run-dir", str(run), "--json"))
    winner = summary["winner"]["test"]
    assert winner["score"] > 0.5  # a real score from the embedded model
    out = json.loads(cli(monkeypatch, capsys, "eval", "--prompt-file", str(Path(run) / "best_prompt.json"), "--split", "test",
                         "--no-cache", "--json"))
    assert (out["score"], out["n"]) == (winner["score"], winner["n"])


def test_retrieval_winner_reproduces_and_other_exports_refuse(monkeypatch, capsys, tmp_path, tiny_model_dir):
    """A winner whose demos are retrieved per input: its json file reproduces every test output;
    formats that cannot carry the demo pool refuse with a one-line error and exit code 2."""
    import apeopt.optimizer.phase_entries as phase_entries

    real = phase_entries.ladder
    monkeypatch.setattr(phase_entries, "ladder", lambda *a, **kw: [r for r in real(*a, **kw) if r[1].demo_source == "retrieved"])
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    run = tmp_path / "run"
    summary = json.loads(cli(monkeypatch, capsys, "optimize", "--task", "plural", "--model", f"hf:{tiny_model_dir}", *SMALL,
                             "--run-dir", str(run), "--json"))
    prompt = summary["winner"]["prompt"]
    assert prompt["retriever"]["k"] >= 1 and prompt["demos"] == [] and len(prompt["demo_pool"]) > 100
    best = tmp_path / "best.json"
    cli(monkeypatch, capsys, "export", str(run), "--format", "json", "-o", str(best))
    preds = tmp_path / "preds.jsonl"
    out = json.loads(cli(monkeypatch, capsys, "eval", "--prompt-file", str(best), "--split", "test", "--model", f"hf:{tiny_model_dir}",
                         "--no-cache", "--json", "--predictions", str(preds)))
    assert (out["score"], out["n"]) == (summary["winner"]["test"]["score"], 100)
    mine = [json.loads(line)["output"] for line in preds.read_text().splitlines()]
    run_rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert mine == [r["output"] for r in run_rows if r["method"] == "winner" and r["split"] == "test"]
    monkeypatch.setattr(sys, "argv", ["apeopt", "export", str(run), "--format", "txt"])
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and "cannot express demos retrieved per input" in err[0]
