"""export_prompt: every format parses, carries the instruction and demos, and puts the input
placeholder exactly once where the input goes; dspy exports load into dspy.Predict."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import jinja2
import pytest
import yaml

from apeopt.errors import UserError
from apeopt.prompts.export import EXPORTERS, export_prompt, export_suffix
from apeopt.prompts.file import PromptFile, load_prompt_file
from apeopt.prompts.prompt import Demo, PromptConfig

INSTRUCTION = "Add the two numbers and reply with the sum only."
DEMOS = (Demo("2 + 2", "4"), Demo("10 + 5", "15"))
FORMATS = ["json", "txt", "openai", "prompty", "dspy"]


def _pf(**prompt_kw: object) -> PromptFile:
    kw: dict = {"instruction": INSTRUCTION, "demos": DEMOS}
    kw.update(prompt_kw)
    return PromptFile(prompt=PromptConfig(**kw), task="arith", model="hf:Qwen/Qwen2.5-0.5B-Instruct", scores={"dev": 0.9})


def _front_and_body(text: str) -> tuple[dict, str]:
    m = re.match(r"---\n(.*?\n)---\n(.*)\Z", text, re.S)
    assert m, text
    front = yaml.safe_load(m.group(1))
    assert isinstance(front, dict)
    return front, m.group(2)


def _prompty_messages(body: str, **inputs: str) -> list[tuple[str, str]]:
    """Render the Jinja2 body, then split on role lines as Prompty does."""
    rendered = jinja2.Template(body, keep_trailing_newline=True).render(**inputs)
    chunks = re.split(r"(?im)^\s*(system|user|assistant)\s*:\s*$", rendered)
    assert chunks[0].strip() == ""
    return [(chunks[i].lower(), chunks[i + 1].strip("\n")) for i in range(1, len(chunks), 2)]


# ----- registry ---------------------------------------------------------------------------
def test_registry_lists_all_formats() -> None:
    assert EXPORTERS.names() == sorted(FORMATS)


def test_unknown_format_suggests() -> None:
    with pytest.raises(UserError, match=r"unknown export format 'promty'; did you mean 'prompty'\?"):
        export_prompt(_pf(), "promty")
    with pytest.raises(UserError, match="valid: dspy, json, openai, prompty, txt"):
        export_suffix("yaml")


def test_suffixes() -> None:
    assert export_suffix("prompty") == ".prompty"
    assert export_suffix("dspy").endswith(".json")  # dspy's load needs .json


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("template", ["completion", "chat"])
def test_every_format_has_instruction_and_demos(fmt: str, template: str) -> None:
    text = export_prompt(_pf(template=template), fmt)
    if fmt in ("json", "openai", "dspy"):
        text = json.dumps(json.loads(text), ensure_ascii=False)  # parses; JSON-escaped newlines are fine
    assert INSTRUCTION in text
    for d in DEMOS:
        assert d.input in text and d.output in text


# ----- json -------------------------------------------------------------------------------
def test_json_round_trip(tmp_path: Path) -> None:
    pf = _pf(cot="Let's think step by step.", votes=3, extra={"k": 1})
    text = export_prompt(pf, "json")
    path = tmp_path / "best.json"
    path.write_text(text, encoding="utf-8")
    assert load_prompt_file(path) == pf
    assert json.loads(text) == pf.to_dict()
    assert text == pf.save(tmp_path / "saved.json").read_text(encoding="utf-8")


# ----- txt --------------------------------------------------------------------------------
def test_txt_completion_is_the_rendered_prompt() -> None:
    pf = _pf()
    text = export_prompt(pf, "txt")
    assert text == pf.prompt.render("{input}")
    assert text.count("{input}") == 1
    assert text.endswith("Input: {input}\nOutput:")
    assert text.startswith(INSTRUCTION)
    assert text.replace("{input}", "7 + 1") == pf.prompt.render("7 + 1")


def test_txt_completion_with_cot() -> None:
    text = export_prompt(_pf(cot="Let's think step by step."), "txt")
    assert text.endswith("Input: {input}\nOutput: Let's think step by step.")


def test_txt_chat_transcript() -> None:
    text = export_prompt(_pf(template="chat", system="Be terse.", demos=DEMOS[:1]), "txt")
    assert text == (
        f"### system\nBe terse.\n\n{INSTRUCTION}\n\n"
        "### user\nInput: 2 + 2\n\n"
        "### assistant\n4\n\n"
        "### user\nInput: {input}"
    )


def test_txt_has_no_metadata() -> None:
    text = export_prompt(_pf(), "txt")
    assert "arith" not in text and "Qwen" not in text and "0.9" not in text


# ----- openai -----------------------------------------------------------------------------
@pytest.mark.parametrize("template", ["completion", "chat"])
def test_openai_messages(template: str) -> None:
    body = json.loads(export_prompt(_pf(template=template), "openai"))
    assert body["model"] == "hf:Qwen/Qwen2.5-0.5B-Instruct"
    assert body["messages"] == [
        {"role": "system", "content": INSTRUCTION},
        {"role": "user", "content": "Input: 2 + 2"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "Input: 10 + 5"},
        {"role": "assistant", "content": "15"},
        {"role": "user", "content": "Input: {input}"},
    ]
    assert body["temperature"] == 0 and body["max_tokens"] == 32 and body["stop"] == ["\n"]
    assert "n" not in body
    assert json.dumps(body).count("{input}") == 1


def test_openai_completion_ignores_system_like_rendering() -> None:
    body = json.loads(export_prompt(_pf(system="unused in completion prompts"), "openai"))
    assert body["messages"][0] == {"role": "system", "content": INSTRUCTION}


def test_openai_chat_system_joins_instruction() -> None:
    body = json.loads(export_prompt(_pf(template="chat", system="Be terse."), "openai"))
    assert body["messages"][0] == {"role": "system", "content": f"Be terse.\n\n{INSTRUCTION}"}


def test_openai_no_instruction_no_system_message() -> None:
    body = json.loads(export_prompt(_pf(instruction="", demos=()), "openai"))
    assert body["messages"] == [{"role": "user", "content": "Input: {input}"}]


def test_openai_votes_cot_and_prefix() -> None:
    pf = _pf(votes=5, vote_temperature=0.6, cot="Let's think step by step.", input_prefix="Q:", max_tokens=10)
    body = json.loads(export_prompt(pf, "openai"))
    assert body["n"] == 5 and body["temperature"] == 0.6
    assert body["messages"][-1] == {"role": "user", "content": "Q: {input}\nLet's think step by step."}
    assert body["messages"][1] == {"role": "user", "content": "Q: 2 + 2"}
    assert body["max_tokens"] == 96 + 10  # room for the reasoning and the answer
    assert "\n" not in body["stop"]  # a one-line stop would cut the reasoning


def test_openai_empty_stop_is_left_out() -> None:
    assert "stop" not in json.loads(export_prompt(_pf(stop=()), "openai"))


# ----- prompty ----------------------------------------------------------------------------
def test_prompty_front_matter() -> None:
    front, _ = _front_and_body(export_prompt(_pf(votes=3, vote_temperature=0.5, max_tokens=12), "prompty"))
    assert front["name"] == "arith"
    assert "arith" in front["description"]
    assert front["model"]["api"] == "chat"
    assert front["model"]["configuration"] == {"type": "openai", "name": "hf:Qwen/Qwen2.5-0.5B-Instruct"}
    assert front["model"]["parameters"] == {"temperature": 0.5, "max_tokens": 12, "stop": ["\n"], "n": 3}
    assert front["inputs"] == {"input": {"type": "string"}}
    assert front["sample"] == {"input": "2 + 2"}


@pytest.mark.parametrize("template", ["completion", "chat"])
def test_prompty_body_renders_to_the_messages(template: str) -> None:
    pf = _pf(template=template, cot="Think.")
    _, body = _front_and_body(export_prompt(pf, "prompty"))
    assert body.count("{{input}}") == 1
    assert re.search(r"^user:\nInput: \{\{input\}\}\nThink\.\n\Z", body, re.M)
    msgs = _prompty_messages(body, input="7 + 1")
    assert msgs == [
        ("system", INSTRUCTION),
        ("user", "Input: 2 + 2"),
        ("assistant", "4"),
        ("user", "Input: 10 + 5"),
        ("assistant", "15"),
        ("user", "Input: 7 + 1\nThink."),
    ]


def test_prompty_escapes_jinja_in_prompt_text() -> None:
    tricky = "Reply as {{answer}} {% if x %}no{% endif %} {# c #} and {single} braces."
    pf = _pf(instruction=tricky, demos=(Demo("{{x}}", "{%y%}"),))
    _, body = _front_and_body(export_prompt(pf, "prompty"))
    assert body.count("{{input}}") == 1
    msgs = _prompty_messages(body, input="Z")
    assert msgs[0] == ("system", tricky)
    assert msgs[1:] == [("user", "Input: {{x}}"), ("assistant", "{%y%}"), ("user", "Input: Z")]


def test_prompty_yaml_safe_with_odd_task_names() -> None:
    pf = PromptFile(prompt=PromptConfig(instruction="i"), task="a: b # c", model="m\n---")
    front, _ = _front_and_body(export_prompt(pf, "prompty"))
    assert front["name"] == "a: b # c"
    assert front["model"]["configuration"]["name"] == "m\n---"


# ----- dspy -------------------------------------------------------------------------------
def _load_dspy(tmp_path: Path, pf: PromptFile):  # type: ignore[no-untyped-def]
    import dspy

    path = tmp_path / f"program{export_suffix('dspy')}"
    path.write_text(export_prompt(pf, "dspy"), encoding="utf-8")
    predictor = dspy.Predict("input -> output")
    predictor.load(str(path))
    return predictor


def test_dspy_loads_with_instructions_and_demos(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        predictor = _load_dspy(tmp_path, _pf())
    assert not [r for r in caplog.records if "mismatch" in r.getMessage()]
    assert predictor.signature.instructions == INSTRUCTION
    assert [(d["input"], d["output"]) for d in predictor.demos] == [(d.input, d.output) for d in DEMOS]
    assert list(predictor.signature.input_fields) == ["input"]
    assert list(predictor.signature.output_fields) == ["output"]
    assert predictor.lm is None


def test_dspy_chat_system_and_prefixes(tmp_path: Path) -> None:
    pf = _pf(template="chat", system="Be terse.", demos=(), input_prefix="Q:", answer_prefix="A:")
    predictor = _load_dspy(tmp_path, pf)
    assert predictor.signature.instructions == f"Be terse.\n\n{INSTRUCTION}"
    assert predictor.demos == []
    assert predictor.signature.input_fields["input"].json_schema_extra["prefix"] == "Q:"
    assert predictor.signature.output_fields["output"].json_schema_extra["prefix"] == "A:"


def test_dspy_export_matches_what_dspy_saves(tmp_path: Path) -> None:
    import dspy

    reference = dspy.Predict("input -> output")
    reference.signature = reference.signature.with_instructions(INSTRUCTION)
    reference.demos = [dspy.Example(input=d.input, output=d.output) for d in DEMOS]
    saved = tmp_path / "reference.json"
    reference.save(str(saved))
    assert json.loads(export_prompt(_pf(), "dspy")) == json.loads(saved.read_text(encoding="utf-8"))
