"""summary.json, comparison rows and batch job results: written and read only through the records."""

from __future__ import annotations

import json
import math

import pytest

from apeopt.errors import UserError
from apeopt.records.base import SCHEMA_VERSION
from apeopt.records.compare import CompareResult, CompareRow, CompareSummary, load_comparison, save_comparison
from apeopt.records.job import JobResult
from apeopt.records.scores import Paired, SplitScore
from apeopt.records.summary import RunSummary, load_run_summary, load_summary


@pytest.fixture(scope="module")
def toy_summary(tmp_path_factory: pytest.TempPathFactory) -> RunSummary:
    from toy import run_toy

    summary, _, _ = run_toy(tmp_path_factory.mktemp("records") / "run", rounds=1)
    return summary


def row(method: str, score: float, family: str = "prompt") -> CompareRow:
    return CompareRow(method, family, SplitScore(score, 10, (score - 0.1, score + 0.1)), lm_calls=7, lm_tokens=70,
                      wall_seconds=2.0, paired={"human": Paired(0.1, -0.2, 0.3, 0.5, 3, 1)})


def meta() -> CompareSummary:
    return CompareSummary("toy", "m", "exact_match", {"test": {"n": 10, "digest": "d"}}, {"quick": True}, methods=("human", "lora"))


def test_run_summary_round_trips_through_its_file(toy_summary, tmp_path):
    path = toy_summary.save(tmp_path / "summary.json")
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["kind"] == "optimize"
    assert load_summary(path) == toy_summary
    assert RunSummary.from_dict(data).to_dict() == data


def test_summary_without_schema_version_is_read_as_version_0(toy_summary, tmp_path):
    old = {k: v for k, v in toy_summary.to_dict().items() if k not in ("schema_version", "kind")}
    (tmp_path / "summary.json").write_text(json.dumps(old))
    read = load_run_summary(tmp_path / "summary.json")
    assert read.winner == toy_summary.winner and read.paired_test == toy_summary.paired_test


def test_newer_or_broken_summaries_are_one_line_errors(toy_summary, tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({**toy_summary.to_dict(), "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(UserError, match="newer apeopt"):
        load_summary(path)
    broken = toy_summary.to_dict()
    del broken["winner"]["dev_selection"]
    path.write_text(json.dumps(broken))
    with pytest.raises(UserError, match="not a valid run summary: missing field 'dev_selection'"):
        load_summary(path)
    path.write_text("{")
    with pytest.raises(UserError, match="not valid JSON"):
        load_summary(path)


def test_compare_summary_and_rows(tmp_path):
    meta().save(tmp_path / "summary.json")
    assert load_summary(tmp_path / "summary.json") == meta()
    legacy = {k: v for k, v in meta().to_dict().items() if k not in ("schema_version", "kind")}
    (tmp_path / "old.json").write_text(json.dumps(legacy))
    assert isinstance(load_summary(tmp_path / "old.json"), CompareSummary)  # told apart by its methods
    with pytest.raises(UserError, match="comparison, not of an optimize run"):
        load_run_summary(tmp_path / "old.json")
    rows = (row("human", 0.2), row("lora", 0.6, "tuning"))
    save_comparison(tmp_path / "comparison.json", rows)
    assert load_comparison(tmp_path / "comparison.json") == rows
    assert json.loads((tmp_path / "comparison.json").read_text())[0]["paired"]["human"]["a_better"] == 3


def test_job_result_of_an_optimize_run(toy_summary):
    job = JobResult(toy_summary.run_dir, optimize=toy_summary)
    assert job.value == toy_summary.winner.scores["test"].score == 1.0
    attrs = job.attrs()
    assert attrs["instruction"] == toy_summary.winner.prompt.instruction and attrs["lm_calls"] == toy_summary.lm_calls
    assert attrs["human_test"] == toy_summary.human.scores["test"].to_dict()
    assert JobResult.from_dict(job.to_dict()) == job


def test_job_result_of_a_comparison_names_the_best_method_not_a_fake_prompt():
    result = CompareResult((row("human", 0.2), row("lora", 0.6, "tuning")), meta())
    job = JobResult("/runs/x", compare=result)
    attrs = job.attrs()
    assert job.value == 0.6 and attrs["best_method"] == "lora" and "instruction" not in attrs
    assert attrs["test"]["score"] == 0.6 and attrs["human_test"]["score"] == 0.2
    assert attrs["lm_calls"] == 14 and attrs["tokens"] == 140 and attrs["wall_seconds"] == 4.0
    assert JobResult.from_dict(job.to_dict()) == job
    assert math.isnan(JobResult("/r", compare=CompareResult((), meta())).value)
    with pytest.raises(ValueError):
        JobResult("/r")


def test_split_sources_are_written_by_a_run_and_round_trip(tmp_path):
    import dataclasses

    from toy import run_toy, toy_task

    from apeopt.tasks.provenance import SplitOrigin

    task = toy_task()
    origins = {name: SplitOrigin(name, f"jsonl:{name}.jsonl", "given", len(ex) + 3, len(ex), 1, 3 if name != "train" else 0)
               for name, ex in task.splits.items() if name != "test_shift"}
    summary, _, _ = run_toy(tmp_path / "run", rounds=1, task=dataclasses.replace(task, origins=origins))
    assert summary.split_sources == origins
    data = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert data["split_sources"]["dev"] == {"split": "dev", "source": "jsonl:dev.jsonl", "how": "given", "available": 63,
                                            "size": 60, "duplicates_dropped": 1, "overlaps_dropped": 3}
    assert load_run_summary(tmp_path / "run" / "summary.json").split_sources == origins
    with_sources = dataclasses.replace(meta(), split_sources={"test": origins["test"]})
    assert CompareSummary.from_dict(with_sources.to_dict()) == with_sources
