"""COPRO, MIPROv2 (0-shot and with demos), the human DSPy baseline and apeopt's row, end to end on the fake LM."""

from __future__ import annotations

from pathlib import Path

import dspy
import pytest
from peers.dspy_fake import DSPyFakeBackend

from apeopt.models.metered import MeteredBackend
from apeopt.peers.apeopt_run import run_apeopt
from apeopt.peers.copro import plan_copro, run_copro
from apeopt.peers.mipro import plan_mipro, run_mipro
from apeopt.peers.program import run_human_dspy
from apeopt.tasks.task import Example, Task

WORDS = [f"w{i}" for i in range(120)]
MALFORMED = ("w100", "w101")


def plural_task() -> Task:
    ex = tuple(Example(w, (w + "s",)) for w in WORDS)
    return Task("toy", "Do the task.", {"train": ex[:60], "dev": ex[60:72], "test": ex[100:120]}, max_tokens=8)


def backend() -> MeteredBackend:
    return MeteredBackend(DSPyFakeBackend(lambda x: x + "s", malformed=MALFORMED))


@pytest.fixture(autouse=True)
def no_global_dspy_settings():
    assert dspy.settings.lm is None
    yield
    assert dspy.settings.lm is None


def first_calls_at(trace: list[dict], level: float) -> int:
    """The LM calls spent when the best dev score first reached ``level`` (the trace must reach it)."""
    return next(int(p["calls"]) for p in trace if p["best"] >= level - 1e-12)


def check_row(row: dict, budget: int) -> None:
    assert row["search"]["calls"] <= budget * 1.25
    assert row["test"]["n"] == 20
    assert row["test_format_failures"] == 2  # the malformed items
    assert len(row["test_scores"]) == 20
    assert row["trace"] and row["trace"][-1]["best"] == row["dev"]
    assert row["calls_to_95"] == first_calls_at(row["trace"], 0.95 * row["dev"]) <= row["trace"][-1]["calls"]
    assert row["evaluation"]["calls"] == 20


def test_plans_fit_the_budget() -> None:
    assert plan_copro(1500, 30) == (10, 4)
    assert plan_copro(40, 12) == (3, 1)
    assert plan_mipro(1500, 30, demos=False) == {"num_instruct_candidates": 12, "num_fewshot_candidates": 4}
    assert plan_mipro(300, 30, demos=True)["num_fewshot_candidates"] == 3


def test_copro_end_to_end() -> None:
    task, b = plural_task(), backend()
    row = run_copro(task, b, 200, task.split("dev"), task.split("test"))
    check_row(row, 200)
    assert "plural" in row["prompt"]["instruction"].lower()
    assert row["dev"] == 1.0 and row["test"]["score"] == pytest.approx(0.9)
    assert row["settings"]["depth"] >= 1


@pytest.mark.parametrize("demos", [False, True])
def test_mipro_end_to_end(demos: bool) -> None:
    task, b = plural_task(), backend()
    row = run_mipro(task, b, 300, task.split("train"), task.split("dev"), task.split("test"), demos=demos)
    check_row(row, 300)
    assert row["settings"]["trials"] >= 1
    assert row["dev"] == 1.0 and "plural" in row["prompt"]["instruction"].lower()
    assert (row["prompt"]["demos"] > 0) == demos


def test_human_dspy_baseline() -> None:
    task, b = plural_task(), backend()
    row = run_human_dspy(task, b, task.split("dev"), task.split("test"))
    assert row["test"]["score"] == 0.0 and row["test_format_failures"] == 2 and b.usage.calls == 32


def test_apeopt_row(tmp_path: Path) -> None:
    task, b = plural_task(), backend()
    rows = run_apeopt(task, b, 150, "instruction", task.split("train"), task.split("dev"), task.split("test"),
                      tmp_path / "run", model="fake", rounds=2)
    main = rows[0]
    assert main["method"] == "apeopt_instruction" and main["test"]["n"] == 20 and len(main["test_scores"]) == 20
    assert main["search"]["calls"] <= 150 and main["evaluation"]["calls"] > 0  # the call budget is a hard cap
    assert main["trace"] and main["calls_to_95"] == first_calls_at(main["trace"], 0.95 * main["trace_final"])
    assert main["trace"][0]["calls"] == 12  # the human incumbent is on all of dev after len(dev) calls
    assert {r["method"] for r in rows} == {"apeopt_instruction", "human_apeopt", "human_fewshot_apeopt"}


def test_gepa_end_to_end() -> None:
    from apeopt.peers.gepa import plan_gepa, run_gepa

    task, b = plural_task(), backend()
    fake = b.inner
    row = run_gepa(task, b, 150, task.split("train"), task.split("dev"), task.split("test"), num_threads=2)
    assert row["method"] == "gepa" and row["test"]["n"] == 20
    assert row["search"]["calls"] <= 150  # stopped between iterations before the budget
    reflection = next(p for p in fake.seen_prompts if "examples_with_feedback" in p)  # the proposer LM reflected
    assert "expected 'w" in reflection and "got '" in reflection  # the task scorer's feedback reached it
    assert "plural" in row["prompt"]["instruction"].lower() and row["dev"] == 1.0
    assert row["settings"]["candidates"] >= 2 and row["settings"]["reflection_lm"].startswith("the proposer")
    assert plan_gepa(500, 30) == {"max_metric_calls": 500, "reserve": 37}


def test_gepa_with_another_reflection_model_counts_its_calls_in_the_budget() -> None:
    """A separate proposer backend gets the reflection prompts; the task backend never does; both count."""
    from apeopt.peers.gepa import run_gepa

    task, b, p = plural_task(), backend(), backend()
    row = run_gepa(task, b, 150, task.split("train"), task.split("dev"), task.split("test"), num_threads=2, proposer=p)
    assert any("examples_with_feedback" in s for s in p.inner.seen_prompts)  # the proposer reflected
    assert not any("examples_with_feedback" in s for s in b.inner.seen_prompts)  # the task model only answered
    assert p.usage.calls > 0 and row["search"]["calls"] == b.usage.calls - row["evaluation"]["calls"] + p.usage.calls
    assert row["search"]["calls"] <= 150 and row["settings"]["reflection_lm"] == "the proposer"


def test_apeopt_row_with_another_proposer_model(tmp_path: Path) -> None:
    task, b, p = plural_task(), backend(), backend()
    rows = run_apeopt(task, b, 150, "instruction", task.split("train"), task.split("dev"), task.split("test"),
                      tmp_path / "run", model="fake", rounds=2, proposer=p, proposer_model="fake-proposer")
    main = rows[0]
    assert p.usage.calls > 0 and main["search"]["calls"] <= 150  # proposer calls are in the budget
    assert main["search"]["calls"] + main["evaluation"]["calls"] == b.usage.calls + p.usage.calls
