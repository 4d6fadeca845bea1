"""bench/peers.py end to end on the tiny model: rows, the rendered table, and --merge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_loader import load_bench


def test_peers_bench_rows_and_merge(tiny_model_dir: Path, tmp_path: Path) -> None:
    bench = load_bench("peers")
    common = ["--model", f"hf:{tiny_model_dir}", "--budget-calls", "40", "--dev", "6", "--test", "5",
              "--out-dir", str(tmp_path), "--runs-dir", str(tmp_path / "runs")]
    assert bench.main(["--tasks", "plural", "--methods", "apeopt_instruction", *common]) == 0
    report = json.loads((tmp_path / "peers.json").read_text())
    rows = {r["method"]: r for r in report["tasks"]["plural"]["rows"]}
    assert rows["apeopt_instruction"]["search"]["calls"] <= 40  # the budget is a hard cap
    assert rows["apeopt_instruction"]["test"]["n"] == 5 and "human_apeopt" in rows
    first = rows["apeopt_instruction"]["test"]

    # a later run adds a task and replaces only the rows of the methods it runs
    assert bench.main(["--tasks", "plural", "sentiment", "--methods", "apeopt_fewshot", "--merge", *common]) == 0
    merged = json.loads((tmp_path / "peers.json").read_text())
    assert set(merged["tasks"]) == {"plural", "sentiment"}
    plural = {r["method"]: r for r in merged["tasks"]["plural"]["rows"]}
    assert {"apeopt_instruction", "apeopt_fewshot"} <= set(plural) and plural["apeopt_instruction"]["test"] == first
    assert merged["merged"][0]["methods"] == ["apeopt_fewshot"] and merged["merged"][0]["tasks"] == ["plural", "sentiment"]
    md = (tmp_path / "peers.md").read_text()
    assert "from a later run" in md and "search tokens per test point" in md

    # a merge with other settings is refused instead of mixing incomparable rows
    with pytest.raises(SystemExit, match="--merge needs the same"):
        bench.main(["--tasks", "plural", "--methods", "apeopt_fewshot", "--merge", *common[:2], "--budget-calls", "50",
                    *common[4:]])
    with pytest.raises(SystemExit, match="--merge needs the same"):  # another proposer model is another experiment
        bench.main(["--tasks", "plural", "--methods", "apeopt_fewshot", "--merge", "--proposer-model", "smollm2-135m", *common])


def test_peers_bench_with_another_proposer_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The proposer model gets its own backend and cache; its calls are in each method's search calls."""
    bench = load_bench("peers")
    assert bench.main(["--tasks", "plural", "--methods", "apeopt_instruction", "--model", f"hf:{tiny_model_dir}",
                       "--proposer-model", f"hf:{tiny_model_dir}/.", "--budget-calls", "40", "--dev", "6", "--test", "5",
                       "--out-dir", str(tmp_path), "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache")]) == 0
    report = json.loads((tmp_path / "peers.json").read_text())
    assert report["settings"]["proposer_model"] == f"hf:{tiny_model_dir}/." and not report["errors"]
    row = next(r for r in report["tasks"]["plural"]["rows"] if r["method"] == "apeopt_instruction")
    assert 0 < row["search"]["calls"] <= 40
    assert (tmp_path / "cache" / "task").is_dir() and (tmp_path / "cache" / "proposer").is_dir()
    assert "proposer model (apeopt's proposer" in (tmp_path / "peers.md").read_text()
