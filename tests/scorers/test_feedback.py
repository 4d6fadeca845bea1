"""Per-example feedback: built-in reasons, user scorers returning (score, feedback), storage in predictions."""

from __future__ import annotations

import sys
import types

import pytest

from apeopt.errors import UserError
from apeopt.evaluation import evaluate
from apeopt.prompts.prompt import PromptConfig
from apeopt.scorers import get_scorer
from apeopt.scorers.base import Judgment
from apeopt.tasks.task import Example


def test_exact_match_names_expected_and_got():
    j = get_scorer("exact_match").judge("gooses", ["geese"])
    assert j == Judgment(0.0, "expected 'geese', got 'gooses'")
    assert get_scorer("exact_match").judge("Geese.", ["geese"]) == Judgment(1.0, None)
    assert "an empty answer" in get_scorer("contains").judge("  ", ["dog"]).feedback


def test_label_scorer_names_the_confusion():
    s = get_scorer("label_accuracy")
    labels = ["positive", "negative"]
    assert s.judge("Negative.", ["positive"], labels).feedback == "predicted negative, expected positive"
    fb = s.judge("hard to say", ["positive"], labels).feedback
    assert "no single label" in fb and "positive, negative" in fb
    assert s.judge("positive", ["positive"], labels).feedback is None


def test_numeric_and_f1_feedback():
    assert get_scorer("numeric_match").judge("it is 13", ["12"]).feedback == "expected '12', got the number 13 (in 'it is 13')"
    assert "no number" in get_scorer("numeric_match").judge("none", ["12"]).feedback
    fb = get_scorer("token_f1").judge("big dog", ["big red dog"]).feedback
    assert fb.startswith("token F1 0.80")


def test_long_predictions_are_quoted_short():
    fb = get_scorer("exact_match").judge("x" * 10_000, ["y"]).feedback
    assert len(fb) < 200 and "…" in fb


@pytest.fixture
def user_module(monkeypatch):
    mod = types.ModuleType("user_scorers_fb")
    mod.with_reason = lambda pred, targets: (float(pred == targets[0]), None if pred == targets[0] else f"wanted {targets[0]}")
    mod.plain = lambda pred, targets: float(pred == targets[0])
    mod.bad = lambda pred, targets: ("high", 3)
    monkeypatch.setitem(sys.modules, "user_scorers_fb", mod)
    return mod


def test_user_scorer_may_return_score_and_feedback(user_module):
    s = get_scorer("user_scorers_fb:with_reason")
    assert s.judge("a", ["b"]) == Judgment(0.0, "wanted b")
    assert s.score("b", ["b"]) == 1.0 and s.feedback("b", ["b"]) is None
    plain = get_scorer("user_scorers_fb:plain")
    assert plain.judge("a", ["b"]) == Judgment(0.0, None)  # a plain number: no reason
    with pytest.raises(UserError, match=r"user scorer 'user_scorers_fb:bad' must return a number or \(number, feedback"):
        get_scorer("user_scorers_fb:bad").score("a", ["b"])


def test_feedback_is_stored_with_predictions():
    from fakes import FakeBackend

    exs = (Example("w1", ("w1s",)), Example("w2", ("w2s",)))
    wrong = evaluate(PromptConfig(instruction="Do the task."), exs, FakeBackend(lambda x: x + "s"), get_scorer("exact_match"))
    assert wrong.feedback == ("expected 'w1s', got 'w1'", "expected 'w2s', got 'w2'")
    assert wrong.rows()[0]["feedback"] == "expected 'w1s', got 'w1'"
    right = evaluate(PromptConfig(instruction="Write the plural."), exs, FakeBackend(lambda x: x + "s"), get_scorer("exact_match"))
    assert right.scores == (1.0, 1.0) and "feedback" not in right.rows()[0]
