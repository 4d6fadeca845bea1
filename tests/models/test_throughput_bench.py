"""bench/throughput.py runs end to end on the tiny model, and its naive loops agree with apeopt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench_loader import load_bench


def test_throughput_bench_on_tiny_model(tiny_model_dir: Path, tmp_path: Path, capsys: Any) -> None:
    bench = load_bench("throughput")
    out = tmp_path / "tp"
    code = bench.main(["--model", f"hf:{tiny_model_dir}", "--candidates", "2", "--examples", "3",
                       "--tasks", "plural,sentiment", "--ablate", "--out", str(out)])
    assert code == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert [(r["task"], r["mode"]) for r in result["rows"]] == [
        ("plural", "generate"), ("plural", "likelihood"), ("sentiment", "generate"), ("sentiment", "likelihood")]
    for row in result["rows"]:
        assert row["examples"] == 6 and row["no_prefix_reuse"]["ex_per_s"] > 0
        assert 0 < row["ratio_range"][0] <= row["ratio"] <= row["ratio_range"][1]  # the mean pass lies within the passes
        if row["mode"] == "generate":
            assert row["agree"]["texts_equal"] == "6/6" and row["agree"]["scores_equal"]
        else:
            assert row["agree"]["allclose_1e-4"]
    assert result["min_ratio"] == min(r["ratio"] for r in result["rows"])
    assert "load" in out.with_suffix(".md").read_text() and "Ablation" in out.with_suffix(".md").read_text()
    assert result["command"].startswith("python ") and result["prefix_reuse"] is True
