"""bench/ape_zero_shot.py: a zero-shot instruction search per task, then winner vs human on the same test items."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_loader import load_bench


def test_ape_zero_shot_bench_on_tiny_model(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    bench = load_bench("ape_zero_shot")
    out = tmp_path / "ape"
    bench.main(["--tasks", "plural", "first_letter", "--model", f"hf:{tiny_model_dir}", "--dev", "6", "--test", "7",
                "--budget-calls", "40", "--rounds", "1", "--template", "chat", "--runs", str(tmp_path / "runs"), "--out", str(out)])
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["meta"]["template"] == "chat" and data["meta"]["cpus"] and data["meta"]["command"].startswith("python bench/")
    assert [r["task"] for r in data["rows"]] == ["plural", "first_letter"]
    for r in data["rows"]:
        assert r["n_test"] == r["human"]["n"] == r["apeopt"]["n"] == 7 and r["n_dev"] == 6
        d = r["apeopt_vs_human"]
        assert d["diff"] == pytest.approx(r["apeopt"]["score"] - r["human"]["score"])
        assert d["ci_lo"] <= d["diff"] <= d["ci_hi"]
        assert 0 < r["search_calls"] <= r["lm_calls"] and r["wall_seconds"] > 0
        summary = json.loads((Path(r["run_dir"]) / "summary.json").read_text())
        assert summary["space"] == "instruction" and summary["winner"]["prompt"]["template"] == "chat"
        assert summary["winner"]["prompt"]["demos"] == [] and summary["winner"]["prompt"]["instruction"] == r["instruction"]
        assert "test" not in summary["winner"]  # the search never scored test
    md = out.with_suffix(".md").read_text()
    assert "| plural | 7 |" in md and "| first_letter | 7 |" in md and "of 2** tasks" in md


def test_bad_sizes_are_refused() -> None:
    bench = load_bench("ape_zero_shot")
    with pytest.raises(SystemExit):
        bench.parse_args(["--test", "0"])
