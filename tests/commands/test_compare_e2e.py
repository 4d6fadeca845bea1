"""`apeopt compare --quick` end to end on the embedded model (SmolLM2-135M, CPU): under 5 minutes."""

from __future__ import annotations

import json
import sys
import time

import pytest

from apeopt.baselines import QUICK_METHODS
from apeopt.cli import main


@pytest.mark.e2e
def test_e2e_compare_quick_plural(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["apeopt", "compare", "--task", "plural", "--quick", "--no-cache",
                                      "--run-dir", str(run), "--json"])
    started = time.monotonic()
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    took = time.monotonic() - started
    rows = json.loads((run / "comparison.json").read_text())
    assert [r["method"] for r in rows] == list(QUICK_METHODS)
    assert len({json.dumps(r["test_items"]) for r in rows}) == 1 and {r["scorer"] for r in rows} == {"exact_match"}
    assert all(r["test"]["n"] == 30 and r["test_shift"]["n"] == 30 for r in rows)
    by = {r["method"]: r for r in rows}
    assert by["k-shot-5"]["test"]["score"] > by["human"]["test"]["score"]  # demos matter on this model
    for name in ("comparison.md", "comparison.png", "summary.json"):
        assert (run / name).is_file()
    print(f"compare --quick on plural: {took:.0f} s")
