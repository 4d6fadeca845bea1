"""PromptFile: save/load round trip and the user errors of load_prompt_file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apeopt import __version__
from apeopt.errors import UserError
from apeopt.prompts.file import FORMAT_VERSION, PromptFile, load_prompt_file
from apeopt.prompts.prompt import Demo, PromptConfig


def _pf() -> PromptFile:
    return PromptFile(
        prompt=PromptConfig(instruction="Add the numbers.", demos=(Demo("2 + 2", "4"),), cot="Think.", votes=3),
        task="arith",
        model="hf:tiny",
        scoring="generate",
        split_seed=7,
        data_fingerprint="abc123",
        scores={"dev": 0.75, "test": {"accuracy": 0.5}},
    )


def test_save_load_round_trip(tmp_path: Path) -> None:
    pf = _pf()
    path = pf.save(tmp_path / "sub" / "best.json")
    assert path == tmp_path / "sub" / "best.json"
    back = load_prompt_file(path)
    assert back == pf
    assert back.to_dict() == pf.to_dict()
    # atomic write leaves no temp files behind
    assert [p.name for p in path.parent.iterdir()] == ["best.json"]


def test_saved_file_layout(tmp_path: Path) -> None:
    data = json.loads(_pf().save(tmp_path / "b.json").read_text(encoding="utf-8"))
    assert data["apeopt_prompt_version"] == FORMAT_VERSION
    assert data["apeopt_version"] == __version__
    assert data["task"] == "arith" and data["model"] == "hf:tiny"
    assert data["prompt"]["instruction"] == "Add the numbers."
    assert data["prompt"]["demos"] == [{"input": "2 + 2", "output": "4"}]


def test_save_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    _pf().save(path)
    PromptFile(prompt=PromptConfig(instruction="other"), task="t", model="m").save(path)
    assert load_prompt_file(path).prompt.instruction == "other"


def test_load_minimal_file_uses_defaults(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"task": "t", "model": "m", "prompt": {"instruction": "i"}}), encoding="utf-8")
    pf = load_prompt_file(path)
    assert pf == PromptFile(prompt=PromptConfig(instruction="i"), task="t", model="m", apeopt_version="")
    assert pf.scoring == "generate" and pf.split_seed == 0 and dict(pf.scores) == {}


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_prompt_file(tmp_path / "nope.json")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_prompt_file(tmp_path)


def test_invalid_json_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "task": "t",\n  "model": \n}\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"not valid JSON \(line 4: ") as info:
        load_prompt_file(path)
    assert "bad.json" in str(info.value)


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', '{"task": "t", "model": "m"}'])
def test_not_a_prompt_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "other.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match="not an apeopt prompt file"):
        load_prompt_file(path)


@pytest.mark.parametrize("key", ["task", "model"])
@pytest.mark.parametrize("value", [None, 3])
def test_missing_or_non_text_task_model(tmp_path: Path, key: str, value: object) -> None:
    data = _pf().to_dict()
    if value is None:
        del data[key]
    else:
        data[key] = value
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(UserError, match=f"missing or non-text field '{key}'"):
        load_prompt_file(path)


def test_bad_prompt_names_the_file(tmp_path: Path) -> None:
    data = _pf().to_dict()
    data["prompt"]["bogus"] = 1
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(UserError, match=r"prompt file .*p\.json.*unknown field 'bogus'"):
        load_prompt_file(path)
