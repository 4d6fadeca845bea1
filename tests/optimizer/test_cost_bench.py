"""bench/cost.py: per task, the winner and the cheapest prompt within noise, with tokens and test scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_loader import load_bench


def test_cost_bench_on_tiny_model(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    bench = load_bench("cost")
    out = tmp_path / "cost"
    common = ["--model", f"hf:{tiny_model_dir}", "--dev", "6", "--test", "7", "--budget-calls", "60", "--rounds", "1",
              "--runs", str(tmp_path / "runs"), "--out", str(out), "--append"]
    bench.main(["--tasks", "plural", *common])
    bench.main(["--tasks", "first_letter", *common])  # a second chunk appends its row
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["meta"]["command"].startswith("python bench/cost.py --tasks '<chunk>'") and data["meta"]["cpus"]
    assert [r["task"] for r in data["rows"]] == ["first_letter", "plural"]  # the built-ins' order
    for r in data["rows"]:
        w, c = r["winner"], r["cheapest"]
        assert r["n_test"] == w["test"]["n"] == c["test"]["n"] == 7 and w["n"] == 6
        assert c["tokens_per_example"] <= w["tokens_per_example"] and w["prompt_tokens"] > 0
        assert r["same_prompt"] == (c["trial"] == w["trial"])
        d = r["test_cheapest_minus_winner"]
        assert d["diff"] == pytest.approx(c["test"]["score"] - w["test"]["score"])
        summary = json.loads((Path(r["run_dir"]) / "summary.json").read_text())
        assert summary["cost"]["best"]["trial"] == w["trial"] and "test" not in summary["winner"]
    md = out.with_suffix(".md").read_text()
    assert "| plural |" in md and "| first_letter |" in md and "of 2** tasks" in md
