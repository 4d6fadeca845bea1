"""bench/bound.py and bench/precision.py run end to end on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

from bench_loader import load_bench


def test_bound_bench_on_tiny_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    bench = load_bench("bound")
    out, items = tmp_path / "bound", tmp_path / "items.json"
    code = bench.main(["--model", f"hf:{tiny_model_dir}", "--candidates", "2", "--examples", "3", "--repeats", "1",
                       "--tasks", "plural", "--gemm-rows", "64", "--dump-items", str(items), "--out", str(out)])
    assert code == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert [r["dtype"] for r in result["runs"]] == ["float32", "bfloat16"]
    for run in result["runs"]:
        assert run["identity"].endswith(":" + run["dtype"]) and run["matmul_gflops"] > 0
        assert [(r["task"], r["mode"]) for r in run["rows"]] == [("plural", "likelihood"), ("plural", "generate")]
        for row in run["rows"]:
            assert 0 < row["tokens_real"] <= row["tokens_padded"] and row["utilisation"] > 0
            assert (row["decode_tokens"] > 0) == (row["mode"] == "generate")
            # FLOPs / s over the bound is the utilisation (within rounding)
            assert abs(row["gflops"] / run["matmul_gflops"] - row["utilisation"]) < 0.01 + 0.01 * row["utilisation"]
    # prefix reuse: the two candidates' demos are computed once, not once per example
    lik = result["runs"][0]["rows"][0]
    dumped = json.loads(items.read_text())["plural"]
    assert lik["tokens_real"] < sum(len(ids) - 1 for ids, _ in dumped["items"])
    assert len(dumped["scores_float32"]) == len(dumped["items"]) == 6
    assert {a["mode"] for a in result["agreement"]} == {"likelihood", "generate"}
    assert "utilisation" in out.with_suffix(".md").read_text()


def test_precision_bench_on_tiny_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    bench = load_bench("precision")
    out = tmp_path / "prec"
    assert bench.main(["--model", f"hf:{tiny_model_dir}", "--tasks", "plural", "--examples", "3", "--out", str(out)]) == 0
    assert bench.main(["--model", f"hf:{tiny_model_dir}", "--tasks", "sentiment", "--examples", "3", "--out", str(out)]) == 0
    data = json.loads(out.with_suffix(".json").read_text())[f"hf:{tiny_model_dir}"]
    assert sorted(data["rows"]) == ["plural", "sentiment"] and len(data["chunks"]) == 2  # chunks merge
    row = data["rows"]["plural"]
    assert row["generate"]["pairs"] == 6 and 0 <= row["generate"]["texts_equal"] <= 6
    assert row["likelihood"]["max_abs_diff"] >= row["likelihood"]["mean_abs_diff"] >= 0
    assert "All tasks" in out.with_suffix(".md").read_text()
