"""bench/optimize_time.py times real `apeopt optimize` runs; its naive-scoring ablation finds the same winner."""

from __future__ import annotations

import json
from pathlib import Path

from bench_loader import load_bench


def test_optimize_time_bench_on_tiny_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    bench = load_bench("optimize_time")
    out, runs = tmp_path / "ot", tmp_path / "runs"
    extra = ["--", "--model", f"hf:{tiny_model_dir}", "--budget-calls", "80", "--rounds", "1", "--dev-limit", "20"]
    assert bench.main(["--tasks", "plural", "--label", "batched", "--runs", str(runs), "--out", str(out), *extra]) == 0
    assert bench.main(["--tasks", "plural", "--label", "naive", "--naive-scoring", "--runs", str(runs), "--out", str(out), *extra]) == 0
    data = json.loads(out.with_suffix(".json").read_text())
    assert list(data["rows"]) == ["batched", "naive"] and data["labels"]["naive"]["naive_scoring"] is True
    (a,), (b,) = data["rows"]["batched"], data["rows"]["naive"]
    assert a["wall_s"] > 0 and a["winner"]["test"]["n"] > 0
    # scoring one request at a time changes the cost, not the search: same calls, same winner, same scores
    assert (a["lm_calls"], a["winner_instruction"], a["winner"]) == (b["lm_calls"], b["winner_instruction"], b["winner"])
    md = out.with_suffix(".md").read_text()
    assert "| plural | batched |" in md and "| plural | naive |" in md
