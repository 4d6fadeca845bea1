"""bench/reflect.py end to end on the tiny random model: every row runs at the same budget and is reported."""

from __future__ import annotations

import json
from pathlib import Path

from bench_loader import load_bench


def test_reflect_bench_rows(tiny_model_dir: Path, tmp_path: Path) -> None:
    bench = load_bench("reflect")
    spec = f"hf:{tiny_model_dir}"
    assert bench.main(["--tasks", "antonyms", "--task-model", spec, "--proposer-model", spec, "--budget-calls", "40",
                       "--dev", "6", "--test", "5", "--rounds", "2", "--torch-threads", "1",
                       "--out-dir", str(tmp_path), "--runs-dir", str(tmp_path / "runs")]) == 0
    report = json.loads((tmp_path / "reflect.json").read_text())
    assert not report["errors"]
    rows = {r["row"]: r for r in report["tasks"]["antonyms"]["rows"]}
    assert list(rows) == list(bench.ROWS)
    for r in rows.values():
        assert r["search_calls"] <= 40 and r["test"]["n"] == 5 and len(r["test_scores"]) == 5 and r["dev"]["n"] == 6
        assert sum(r["proposer_calls"].values()) <= r["search_calls"]
    assert set(rows["forward+chat"]["proposer_calls"]) <= {"forward", "chat", "variation"}
    md = (tmp_path / "reflect.md").read_text()
    assert "+reflect+pareto+merge" in md and "proposer model" in md and "95% interval" in md
    first = md
    (tmp_path / "reflect.md").unlink()
    assert bench.main(["--render", "--out-dir", str(tmp_path)]) == 0  # re-rendered from the JSON alone, no model load
    assert (tmp_path / "reflect.md").read_text() == first
