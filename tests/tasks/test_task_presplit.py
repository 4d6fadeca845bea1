"""Pre-split data: one source per split, a dataset's own train/validation/test, overlaps, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tasks.task_helpers import WriteTask, jsonl

from apeopt.errors import UserError
from apeopt.tasks import load_task
from apeopt.tasks.provenance import describe_origins

FIELDS = "input_field: q\ntarget_field: a\n"


def recs(prefix: str, n: int, start: int = 0) -> list[dict[str, str]]:
    return [{"q": f"{prefix}{i}", "a": f"{prefix}{i}s"} for i in range(start, start + n)]


def inputs(task, split: str) -> list[str]:
    return [ex.input for ex in task.split(split)]


THREE_FILES = {"tr.jsonl": jsonl(recs("tr", 30)), "dv.jsonl": jsonl(recs("dv", 12)), "te.jsonl": jsonl(recs("te", 25))}
PER_SPLIT = """\
instruction: Pluralize.
source:
  train: {type: jsonl, path: tr.jsonl}
  dev: {type: jsonl, path: dv.jsonl}
  test: {type: jsonl, path: te.jsonl}
""" + FIELDS


def test_three_jsonl_files_keep_their_own_examples(write_task: WriteTask) -> None:
    path = write_task(PER_SPLIT + "splits: {train: 20, test: 10, seed: 5}\n", THREE_FILES)
    task = load_task(str(path))
    assert task.sizes() == {"train": 20, "dev": 12, "test": 10}
    assert set(inputs(task, "train")) < {f"tr{i}" for i in range(30)}
    assert inputs(task, "dev") == [f"dv{i}" for i in range(12)]  # no size: the whole split, in order
    test = inputs(task, "test")
    assert set(test) < {f"te{i}" for i in range(25)} and test == sorted(test, key=lambda x: int(x[2:]))
    assert not set(test) & (set(inputs(task, "train")) | set(inputs(task, "dev")))
    assert load_task(str(path)).splits == task.splits  # seeded
    other = load_task(str(path), seed=6)
    assert inputs(other, "test") != test and set(inputs(other, "test")) < {f"te{i}" for i in range(25)}
    o = task.origins
    assert (o["test"].source, o["test"].how, o["test"].available, o["test"].size) == ("jsonl:te.jsonl", "given", 25, 10)
    assert (o["dev"].size, o["train"].available) == (12, 30)
    assert task.source == "train: jsonl:tr.jsonl; dev: jsonl:dv.jsonl; test: jsonl:te.jsonl"


def test_a_split_not_given_is_cut_from_train(write_task: WriteTask) -> None:
    path = write_task(PER_SPLIT.replace("  dev: {type: jsonl, path: dv.jsonl}\n", "") + "splits: {dev: 8, test: 5}\n",
                      THREE_FILES)
    task = load_task(str(path))
    assert task.sizes() == {"train": 22, "dev": 8, "test": 5}
    assert set(inputs(task, "train")) | set(inputs(task, "dev")) == {f"tr{i}" for i in range(30)}
    assert not set(inputs(task, "train")) & set(inputs(task, "dev"))
    assert task.origins["dev"].how == "cut" and task.origins["dev"].source == "jsonl:tr.jsonl"
    with pytest.raises(UserError, match=r"task\.yaml: splits\.dev: missing \(dev is cut from source\.train"):
        load_task(str(write_task(PER_SPLIT.replace("  dev: {type: jsonl, path: dv.jsonl}\n", "")
                                 + "splits: {test: 5}\n", THREE_FILES)))


def test_overlaps_are_dropped_from_the_later_split_and_counted(write_task: WriteTask) -> None:
    dev = recs("dv", 10) + recs("tr", 3)  # 3 inputs also in train
    test = recs("te", 10) + recs("tr", 2, start=10) + recs("dv", 1)  # 2 in train, 1 in dev
    files = {**THREE_FILES, "dv.jsonl": jsonl(dev), "te.jsonl": jsonl(test)}
    task = load_task(str(write_task(PER_SPLIT, files)))
    assert task.sizes() == {"train": 30, "dev": 10, "test": 10}
    assert {n: o.overlaps_dropped for n, o in task.origins.items()} == {"train": 0, "dev": 3, "test": 3}
    assert task.metadata["overlaps_dropped"] == {"train": 0, "dev": 3, "test": 3}
    all_inputs = [x for s in ("train", "dev", "test") for x in inputs(task, s)]
    assert len(all_inputs) == len(set(all_inputs))
    assert "test: jsonl:te.jsonl (given, 10 of 10; 3 overlaps dropped)" in describe_origins(task.origins)


def save_dataset_dict(folder: Path, splits: dict[str, int]) -> None:
    datasets = pytest.importorskip("datasets")
    dd = datasets.DatasetDict({
        name: datasets.Dataset.from_list([{"q": f"{name}{i}", "a": f"{name}{i}s"} for i in range(n)])
        for name, n in splits.items()
    })
    dd.save_to_disk(str(folder))


HF_NAMED = """\
instruction: Pluralize.
source:
  train: {type: hf, dataset: hfds, split: train}
  dev: {type: hf, dataset: hfds, split: validation}
  test: {type: hf, dataset: hfds, split: test}
splits: {train: 10, dev: 6, test: 7}
""" + FIELDS


def test_local_dataset_dict_named_splits_test_is_exactly_its_test_split(write_task: WriteTask, tmp_path: Path) -> None:
    save_dataset_dict(tmp_path / "hfds", {"train": 40, "validation": 15, "test": 20})
    task = load_task(str(write_task(HF_NAMED)))
    assert task.sizes() == {"train": 10, "dev": 6, "test": 7}
    assert set(inputs(task, "test")) < {f"test{i}" for i in range(20)}
    assert set(inputs(task, "dev")) < {f"validation{i}" for i in range(15)}
    assert set(inputs(task, "train")) < {f"train{i}" for i in range(40)}
    assert task.origins["dev"].source == "hf:hfds[validation]"
    uncapped = load_task(str(write_task(HF_NAMED.replace("splits: {train: 10, dev: 6, test: 7}\n", ""))))
    assert inputs(uncapped, "test") == [f"test{i}" for i in range(20)]


def test_dataset_dict_without_a_split_uses_its_own_splits(write_task: WriteTask, tmp_path: Path) -> None:
    save_dataset_dict(tmp_path / "hfds", {"train": 40, "validation": 15, "test": 20})
    yaml_text = "instruction: Pluralize.\nsource: {type: hf, dataset: hfds}\n" + FIELDS
    task = load_task(str(write_task(yaml_text)))
    assert task.sizes() == {"train": 40, "dev": 15, "test": 20}  # nothing dropped, nothing re-cut
    assert inputs(task, "test") == [f"test{i}" for i in range(20)]
    assert {n: o.source for n, o in task.origins.items()} == {
        "train": "hf:hfds[train]", "dev": "hf:hfds[validation]", "test": "hf:hfds[test]"}
    # train + test only: dev is cut from train, test stays the dataset's test split
    save_dataset_dict(tmp_path / "two", {"train": 40, "test": 20})
    task = load_task(str(write_task(yaml_text.replace("hfds", "two") + "splits: {dev: 10}\n")))
    assert task.sizes() == {"train": 30, "dev": 10, "test": 20}
    assert set(inputs(task, "dev")) < {f"train{i}" for i in range(40)}


def test_dataset_dict_with_other_split_names_stops(write_task: WriteTask, tmp_path: Path) -> None:
    save_dataset_dict(tmp_path / "hfds", {"train": 10, "test": 5, "unsupervised": 5})
    path = write_task("instruction: Pluralize.\nsource: {type: hf, dataset: hfds}\n" + FIELDS)
    with pytest.raises(UserError) as info:
        load_task(str(path))
    message = str(info.value)
    assert "\n" not in message and "source.dataset" in message and "unsupervised" in message
    save_dataset_dict(tmp_path / "notrain", {"validation": 10, "test": 5})
    with pytest.raises(UserError, match="but no train split"):
        load_task(str(write_task("instruction: P.\nsource: {type: hf, dataset: notrain}\n" + FIELDS)))


def test_train_only_dataset_dict_is_one_pool(write_task: WriteTask, tmp_path: Path) -> None:
    save_dataset_dict(tmp_path / "hfds", {"train": 40})
    task = load_task(str(write_task("instruction: P.\nsource: {type: hf, dataset: hfds}\n" + FIELDS)))
    assert task.sizes() == {"train": 20, "dev": 10, "test": 10}
    assert {o.how for o in task.origins.values()} == {"cut"}


def test_parquet_folder_with_and_without_named_splits(write_task: WriteTask, tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "pq" / "data").mkdir(parents=True)
    for name, n in {"train": 30, "validation": 8, "test": 12}.items():
        table = pa.table({"q": [f"{name}{i}" for i in range(n)], "a": [f"{name}{i}s" for i in range(n)]})
        pq.write_table(table, tmp_path / "pq" / "data" / f"{name}-00000-of-00001.parquet")
    task = load_task(str(write_task("instruction: P.\nsource: {type: hf, dataset: pq}\n" + FIELDS)))
    assert task.sizes() == {"train": 30, "dev": 8, "test": 12}
    assert inputs(task, "test") == [f"test{i}" for i in range(12)]
    named = load_task(str(write_task(HF_NAMED.replace("hfds", "pq"))))
    assert set(inputs(named, "test")) < {f"test{i}" for i in range(12)} and named.sizes()["test"] == 7
    with pytest.raises(UserError, match=r"source\.dev\.split: 'pq' has no split 'valid'.*it has: train, validation, test"):
        load_task(str(write_task(HF_NAMED.replace("hfds", "pq").replace("split: validation", "split: valid"))))


def _error(path: Path) -> str:
    with pytest.raises(UserError) as info:
        load_task(str(path))
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_bad_per_split_input_is_one_line(write_task: WriteTask, tmp_path: Path) -> None:
    missing = write_task(PER_SPLIT.replace("te.jsonl", "nope.jsonl"), THREE_FILES)
    assert "source.test.path: data file not found" in _error(missing)
    save_dataset_dict(tmp_path / "hfds", {"train": 10, "test": 5})
    assert "source.dev.split: 'hfds' has no split 'validation'" in _error(write_task(HF_NAMED))
    overlapping = write_task(PER_SPLIT, {**THREE_FILES, "te.jsonl": jsonl(recs("tr", 4) + recs("dv", 2))})
    assert "source.test: all 6 inputs" in _error(overlapping) and "nothing left" in _error(overlapping)
    both = write_task("instruction: P.\nsource: {type: jsonl, path: tr.jsonl, train: {type: jsonl, path: x}}\n")
    assert "not both" in _error(both)
    assert "source.validation: unknown split; did you mean 'dev'?" in _error(
        write_task(PER_SPLIT.replace("  dev:", "  validation:"), THREE_FILES))
    assert "source.test_shift: a shifted test split is the top-level field" in _error(
        write_task(PER_SPLIT.replace("  dev:", "  test_shift:"), THREE_FILES))
    assert "source.train: missing" in _error(
        write_task(PER_SPLIT.replace("  train: {type: jsonl, path: tr.jsonl}\n", ""), THREE_FILES))
    assert "source.dev.type: missing" in _error(write_task(PER_SPLIT.replace("{type: jsonl, path: dv.jsonl}",
                                                                             "{path: dv.jsonl}"), THREE_FILES))


def test_apeopt_tasks_shows_each_split_source(write_task: WriteTask, monkeypatch, capsys) -> None:
    from cli_helpers import assert_user_error, run_cli

    path = write_task(PER_SPLIT + "splits: {test: 10}\n", THREE_FILES)
    code, out, _ = run_cli(monkeypatch, capsys, "tasks", str(path), "--json")
    row = json.loads(out)[0]
    assert code == 0 and row["sizes"] == {"train": 30, "dev": 12, "test": 10}
    assert row["split_sources"]["test"] == {"split": "test", "source": "jsonl:te.jsonl", "how": "given", "available": 25,
                                            "size": 10, "duplicates_dropped": 0, "overlaps_dropped": 0}
    bad = write_task(PER_SPLIT.replace("te.jsonl", "nope.jsonl"), THREE_FILES, name="bad.yaml")
    assert_user_error(run_cli(monkeypatch, capsys, "tasks", str(bad)), "bad.yaml", "source.test.path")
