"""bench/wait_policy.py: each setting in its own process with that environment, on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_loader import load_bench


def test_wait_policy_bench_on_tiny_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    bench = load_bench("wait_policy")
    out = tmp_path / "wp"
    code = bench.main(["--model", f"hf:{tiny_model_dir}", "--candidates", "2", "--examples", "2", "--repeats", "1",
                       "--settings", "PASSIVE,GOMP_SPINCOUNT=1000", "--out", str(out)])
    assert code == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert [(r["setting"], r["condition"]) for r in result["rows"]] == [
        ("PASSIVE", "quiet"), ("GOMP_SPINCOUNT=1000", "quiet"),
        ("PASSIVE", "contended"), ("GOMP_SPINCOUNT=1000", "contended"),
    ]
    for row in result["rows"]:
        assert row["likelihood"]["examples_per_s"] > 0 and len(row["generate"]["seconds"]) == 1
    assert "| GOMP_SPINCOUNT=1000 | contended |" in out.with_suffix(".md").read_text()


def test_child_sees_only_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load_bench("wait_policy")
    seen: dict[str, str] = {}

    class Done:
        stdout = json.dumps({"likelihood": {}, "generate": {}}) + "\n"

    def fake_run(cmd: list[str], env: dict[str, str], **kw: object) -> Done:
        seen.update({k: v for k, v in env.items() if k in bench.CLEARED})
        return Done()

    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # this shell's choice must not leak into the child
    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    bench.run_setting([], {"GOMP_SPINCOUNT": "1000"}, contended=False)
    assert seen == {"GOMP_SPINCOUNT": "1000"}


def test_unknown_setting_is_a_usage_error(tmp_path: Path) -> None:
    bench = load_bench("wait_policy")
    with pytest.raises(SystemExit) as err:
        bench.main(["--settings", "SPIN", "--out", str(tmp_path / "x")])
    assert err.value.code == 2
