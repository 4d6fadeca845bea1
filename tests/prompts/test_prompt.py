"""PromptConfig: rendering, (de)serialization round trips and its user errors."""

from __future__ import annotations

import pytest

from apeopt.errors import UserError
from apeopt.prompts.prompt import COT_ANSWER_TRIGGER, Demo, PromptConfig

DEMOS = (Demo("2 + 2", "4"), Demo("3 + 5", "8"))


def test_render_completion_zero_shot() -> None:
    p = PromptConfig(instruction="  Add the numbers.  ")
    assert p.render("1 + 1") == "Add the numbers.\n\nInput: 1 + 1\nOutput:"


def test_render_completion_with_demos_prefixes_and_cot() -> None:
    p = PromptConfig(
        instruction="Add.", demos=DEMOS, input_prefix="Q:", answer_prefix="A:", cot="Let's think step by step."
    )
    assert p.render("1 + 1") == (
        "Add.\n\nQ: 2 + 2\nA: 4\n\nQ: 3 + 5\nA: 8\n\nQ: 1 + 1\nA: Let's think step by step."
    )


def test_render_completion_without_instruction_has_no_leading_blank() -> None:
    p = PromptConfig(instruction="  ", demos=DEMOS[:1])
    assert p.render("x") == "Input: 2 + 2\nOutput: 4\n\nInput: x\nOutput:"


def test_render_chat() -> None:
    p = PromptConfig(instruction="Add.", template="chat", demos=DEMOS[:1], system="You are terse.", cot="Think.")
    assert p.render("1 + 1") == (
        ("system", "You are terse.\n\nAdd."),
        ("user", "Input: 2 + 2"),
        ("assistant", "4"),
        ("user", "Input: 1 + 1\nThink."),
    )


def test_render_chat_without_system_or_instruction() -> None:
    p = PromptConfig(instruction="", template="chat")
    assert p.render("hi") == (("user", "Input: hi"),)


def test_continuation_and_reasoning() -> None:
    comp = PromptConfig(instruction="i")
    chat = PromptConfig(instruction="i", template="chat")
    assert comp.continuation("4") == " 4"
    assert chat.continuation("4") == "4"
    assert comp.with_reasoning("P", " because \n") == f"P because\n{COT_ANSWER_TRIGGER}"
    msgs = (("user", "u"),)
    assert chat.with_reasoning(msgs, "r") == (("user", "u"), ("assistant", f"r\n{COT_ANSWER_TRIGGER}"))


def test_to_dict_from_dict_round_trip() -> None:
    p = PromptConfig(
        instruction="Add.",
        template="chat",
        demos=DEMOS,
        input_prefix="Q:",
        answer_prefix="A:",
        cot="Think.",
        votes=5,
        vote_temperature=0.5,
        max_tokens=8,
        cot_max_tokens=50,
        stop=("\n", "###"),
        system="sys",
        extra={"origin": "ape", "round": 2},
    )
    d = p.to_dict()
    assert d["demos"] == [{"input": "2 + 2", "output": "4"}, {"input": "3 + 5", "output": "8"}]
    assert d["stop"] == ["\n", "###"]
    assert d["extra"] == {"origin": "ape", "round": 2}
    back = PromptConfig.from_dict(d)
    assert back == p
    assert back.to_dict() == d
    assert isinstance(back.demos, tuple) and isinstance(back.stop, tuple)


def test_from_dict_defaults() -> None:
    p = PromptConfig.from_dict({"instruction": "x"})
    assert p == PromptConfig(instruction="x")
    assert p.stop == ("\n",) and p.demos == ()


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"template": "fancy"}, "template"),
        ({"votes": 0}, "votes"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"votes": 3, "vote_temperature": 0.0}, "vote_temperature"),
    ],
)
def test_invalid_values_are_user_errors(kwargs: dict, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        PromptConfig(instruction="x", **kwargs)


def test_votes_one_allows_zero_temperature() -> None:
    assert PromptConfig(instruction="x", votes=1, vote_temperature=0.0).votes == 1


def test_from_dict_not_an_object() -> None:
    with pytest.raises(UserError, match=r"where: expected an object, got list"):
        PromptConfig.from_dict(["instruction"], where="where")  # type: ignore[arg-type]


def test_from_dict_unknown_field_lists_valid_ones() -> None:
    with pytest.raises(UserError, match=r"unknown field 'instrution'.*valid:.*instruction"):
        PromptConfig.from_dict({"instrution": "x"})


def test_from_dict_missing_instruction() -> None:
    with pytest.raises(UserError, match="missing field 'instruction'"):
        PromptConfig.from_dict({"template": "chat"})


@pytest.mark.parametrize("demos", [[{"input": "a"}], ["a"], [None]])
def test_from_dict_bad_demos(demos: list) -> None:
    with pytest.raises(UserError, match="demos"):
        PromptConfig.from_dict({"instruction": "x", "demos": demos})


def test_from_dict_bad_value_is_user_error() -> None:
    with pytest.raises(UserError, match="template"):
        PromptConfig.from_dict({"instruction": "x", "template": "other"})


def test_user_error_is_one_line() -> None:
    with pytest.raises(UserError) as info:
        PromptConfig(instruction="x", template="multi\nline")
    assert "\n" not in str(info.value)
