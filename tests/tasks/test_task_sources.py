"""Task YAMLs over JSONL, CSV, Parquet, BIG-bench and Hugging Face data; fields and splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tasks.task_helpers import WriteTask, jsonl

from apeopt.tasks import SPLITS, load_task

RECORDS = [{"q": f"word{i}", "a": f"word{i}s"} for i in range(40)]
BASE = """\
instruction: Pluralize.
source: {type: %s, path: %s}
input_field: q
target_field: a
splits: {train: 20, dev: 10, test: 10, seed: 3}
"""


def inputs(task, split: str) -> list[str]:
    return [ex.input for ex in task.split(split)]


def test_jsonl_source_with_list_targets(write_task: WriteTask) -> None:
    recs = [dict(r) for r in RECORDS]
    recs[0]["a"] = ["word0s", "word0es"]
    path = write_task(BASE % ("jsonl", "data/d.jsonl") + "description: toy\nmax_tokens: 5\n",
                      {"data/d.jsonl": jsonl(recs)})
    task = load_task(str(path))
    assert task.name == "task" and task.description == "toy" and task.max_tokens == 5
    assert task.scorer == "exact_match" and task.source == "jsonl:d.jsonl"
    assert task.sizes() == {"train": 20, "dev": 10, "test": 10}
    everything = {ex.input: ex.targets for s in ("train", "dev", "test") for ex in task.split(s)}
    assert everything["word0"] == ("word0s", "word0es")
    assert everything["word7"] == ("word7s",)
    assert task.metadata["seed"] == 3 and task.metadata["pool_size"] == 40


def test_csv_source_with_target_sep_and_template(write_task: WriteTask) -> None:
    rows = "q,ctx,a\n" + "".join(f'word{i},"ctx, {i}",word{i}s|word{i}es\n' for i in range(40))
    path = write_task(
        """\
        instruction: Pluralize.
        source: {type: csv, path: d.csv}
        input_template: "{q} ({ctx})"
        target_field: a
        target_sep: "|"
        splits: {train: 0.5, dev: 0.25, test: 0.25}
        """,
        {"d.csv": rows},
    )
    task = load_task(str(path))
    assert task.sizes() == {"train": 20, "dev": 10, "test": 10}
    ex = next(e for s in SPLITS[:3] for e in task.split(s) if e.input == "word3 (ctx, 3)")
    assert ex.targets == ("word3s", "word3es")


def test_parquet_source(write_task: WriteTask, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "q": [r["q"] for r in RECORDS],
        "a": [[r["a"], r["a"] + "!"] for r in RECORDS],  # a list column
        "label": [i % 2 for i in range(40)],
    })
    pq.write_table(table, tmp_path / "d.parquet")
    path = write_task(BASE % ("parquet", "d.parquet"))
    task = load_task(str(path))
    assert task.source == "parquet:d.parquet"
    assert all(len(ex.targets) == 2 and ex.targets[0] == ex.input + "s" for ex in task.split("train"))
    mapped = write_task(
        BASE % ("parquet", "d.parquet")
        + "target_map: {0: even, 1: odd}\nlabels: [even, odd]\n",
        name="mapped.yaml",
    ).read_text().replace("target_field: a", "target_field: label")
    (tmp_path / "mapped.yaml").write_text(mapped)
    task = load_task(str(tmp_path / "mapped.yaml"))
    assert task.labels == ("even", "odd")
    assert all(ex.target == ("odd" if int(ex.input[4:]) % 2 else "even") for ex in task.split("train"))


BIGBENCH = {
    "name": "toy",
    "description": "A toy BIG-bench task.",
    "examples": [
        {"input": f"Is {i} even?", "target_scores": {"yes": int(i % 2 == 0), "no": int(i % 2 == 1)}}
        for i in range(30)
    ],
}


def test_bigbench_target_scores_give_targets_and_labels(write_task: WriteTask) -> None:
    path = write_task(
        """\
        instruction: Answer yes or no.
        scorer: label_accuracy
        source: {type: bigbench, path: bb}
        splits: {train: 10, dev: 10, test: 10}
        """,
        {"bb/task.json": json.dumps(BIGBENCH)},
    )
    task = load_task(str(path))
    assert task.labels == ("yes", "no")
    assert task.description == "A toy BIG-bench task."
    for ex in task.split("train"):
        assert ex.targets == (("yes",) if int(ex.input.split()[1]) % 2 == 0 else ("no",))


def test_bigbench_target_strings_and_lists(write_task: WriteTask) -> None:
    doc = {"examples": [{"input": f"q{i}", "target": [f"a{i}", f"b{i}"] if i % 2 else f"a{i}"} for i in range(12)]}
    path = write_task(
        "instruction: Answer.\nsource: {type: bigbench, path: task.json}\nsplits: {train: 4, dev: 4, test: 4}\n",
        {"task.json": json.dumps(doc)},
    )
    task = load_task(str(path))
    assert task.labels is None
    found = {ex.input: ex.targets for s in SPLITS[:3] for ex in task.split(s)}
    assert found["q1"] == ("a1", "b1") and found["q2"] == ("a2",)


def test_hf_source_from_a_local_dataset(write_task: WriteTask, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([{"text": f"review {i}", "label": i % 2} for i in range(24)])
    ds.save_to_disk(str(tmp_path / "hfds"))
    path = write_task(
        """\
        instruction: Classify.
        source: {type: hf, dataset: hfds, split: train}
        input_field: text
        target_field: label
        target_map: {0: negative, 1: positive}
        splits: {train: 8, dev: 8, test: 8}
        """
    )
    task = load_task(str(path))
    assert task.source == "hf:hfds[train]"
    assert all(ex.target == ("positive" if int(ex.input.split()[1]) % 2 else "negative") for ex in task.split("dev"))


def test_dedupe_merges_targets_and_nested_fields(write_task: WriteTask) -> None:
    recs = [{"x": {"text": f"w{i % 30}"}, "y": f"t{i}"} for i in range(60)]
    path = write_task(
        "instruction: Do.\nsource: {type: jsonl, path: d.jsonl}\ninput_field: x.text\ntarget_field: y\n"
        "splits: {train: 10, dev: 10, test: 10}\n",
        {"d.jsonl": jsonl(recs)},
    )
    task = load_task(str(path))
    assert task.metadata["duplicates_dropped"] == 30
    found = {ex.input: ex.targets for s in SPLITS[:3] for ex in task.split(s)}
    assert found["w4"] == ("t4", "t34")


def test_splits_deterministic_disjoint_and_seeded(write_task: WriteTask) -> None:
    shift = [{"q": f"word{i}", "a": "x"} for i in range(35, 60)]  # word35..39 also in distribution
    path = write_task(
        BASE % ("jsonl", "d.jsonl") + "test_shift:\n  source: {type: jsonl, path: s.jsonl}\n  size: 15\n",
        {"d.jsonl": jsonl(RECORDS), "s.jsonl": jsonl(shift)},
    )
    a, b = load_task(str(path)), load_task(str(path))
    assert a.splits == b.splits and a.fingerprint() == b.fingerprint()
    all_inputs = [x for s in SPLITS for x in inputs(a, s)]
    assert len(all_inputs) == len(set(all_inputs)) == 20 + 10 + 10 + 15
    assert a.metadata["test_shift_overlaps_dropped"] == 5
    assert inputs(a, "test_shift") == [f"word{i}" for i in range(40, 55)]
    c = load_task(str(path), seed=4)
    assert c.metadata["seed"] == 4
    assert inputs(c, "train") != inputs(a, "train")
    assert sorted(x for s in SPLITS[:3] for x in inputs(c, s)) == sorted(x for s in SPLITS[:3] for x in inputs(a, s))
    assert c.split("test_shift") == a.split("test_shift")


def test_generator_source_in_a_user_yaml(write_task: WriteTask) -> None:
    path = write_task(
        """\
        name: my_sum
        instruction: Add.
        scorer: numeric_match
        source: {type: generator, name: sum, n: 50, seed: 7}
        splits: {train: 20, dev: 10, test: 10}
        test_shift:
          source: {type: generator, name: sum, shift: true, n: 20}
        """
    )
    task = load_task(str(path))
    assert task.name == "my_sum" and task.sizes()["test_shift"] == 20
    assert task.metadata["pool_size"] == 50
