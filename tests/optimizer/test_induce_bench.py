"""bench/induce.py: none / human / induced / with_human rows and their ceilings per task, merged across chunks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_loader import load_bench


def test_induce_bench_rows_merge_across_chunks(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    bench = load_bench("induce")
    out = tmp_path / "induce"
    common = ["--model", f"hf:{tiny_model_dir}", "--dev", "6", "--test", "7", "--budget-calls", "80", "--rounds", "1",
              "--ceiling-top", "1", "--ceiling-random", "1", "--runs", str(tmp_path / "runs"), "--out", str(out)]
    bench.main(["--tasks", "plural", *common])
    bench.main(["--tasks", "first_letter", "--methods", "human", "none", *common])
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    methods = {(r["task"], r["method"]) for r in rows}
    assert {("plural", m) for m in ("none", "human", "induced", "ceiling_induced", "with_human", "ceiling_with_human")} <= methods
    assert {("first_letter", "human"), ("first_letter", "none")} <= methods and len(rows) == 8
    for r in rows:
        assert r["n_test"] == r["test"]["n"] == 7
        assert r["vs_human"]["ci_lo"] <= r["vs_human"]["diff"] <= r["vs_human"]["ci_hi"]
    induced = next(r for r in rows if r["method"] == "induced")
    summary = json.loads((Path(induced["run_dir"]) / "summary.json").read_text())
    assert summary["human_instruction_given"] is False and "test" not in summary["winner"]
    human = next(r for r in rows if r["method"] == "human" and r["task"] == "plural")
    assert human["vs_human"]["diff"] == 0 and human["instruction"]
    md = out.with_suffix(".md").read_text()
    assert "| plural | induced |" in md and "| first_letter | none |" in md and "not credibly below the human" in md
